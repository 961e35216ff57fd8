"""ERA-to-deposit reassociation: BAI2 and CSV deposit files, matched to 835 payments by trace and amount.
Expected values are computed by hand in the comments."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from rcm_remittance.domain.deposits import (
    Deposit, DepositFileError, EraPayment, days_before, normalise_trace, parse_bai2, parse_deposit_csv, reassociate,
)

# One account: an opening ledger summary of $5,000.00, two ACH credits carrying the payer's TRN (the second
# one's text broken across an 88 continuation), a debit, and a check deposit.
# account total = 500000 + 8000 + 12550 + 2000 + 4500 = 527050 cents; records: 03,16,16,88,16,16,49 = 7
# group records: 02 + 7 + 98 = 9; file records: 01 + 9 + 99 = 11
BAI2 = """01,BANKID,PRACTICE,261103,0600,1,,,2/
02,PRACTICE,BANKID,1,261102,2400,USD,2/
03,1234567890,USD,010,500000,,,/
16,165,8000,Z,BR001,CR001,TRN*1*TRN-835-1*1512345678\\
16,169,12550,Z,BR002,,ACH CREDIT TRN*1*EFT00
88,02*1999999999\\
16,475,2000,Z,BR003,,CHECK PAID/
16,175,4500,Z,BR004,,CHECK DEPOSIT/
49,527050,7/
98,527050,1,9/
99,527050,1,11/
"""


def test_bai2_credits_become_deposits_with_the_trace_from_the_ach_addenda():
    deposits = parse_bai2(BAI2)
    assert [(d.type_code, d.amount, d.trace, d.deposit_date) for d in deposits] == [
        ("165", Decimal("80.00"), "TRN-835-1", date(2026, 11, 2)),
        ("169", Decimal("125.50"), "EFT0002", date(2026, 11, 2)),  # joined across the 88 continuation
        ("175", Decimal("45.00"), None, date(2026, 11, 2)),  # a check deposit: no trace
    ]
    assert deposits[0].bank_reference == "BR001" and deposits[0].line == 4


def test_a_bai2_file_whose_totals_disagree_is_refused_with_the_lines():
    broken = BAI2.replace("49,527050,7/", "49,527051,7/").replace("99,527050,1,11/", "99,527050,1,12/")
    with pytest.raises(DepositFileError) as caught:
        parse_bai2(broken)
    reasons = {(e["line"], e["reason"].split(" ")[0]) for e in caught.value.errors}
    assert (9, "account") in reasons and (11, "file") in reasons
    assert "1234567890" not in str(caught.value.errors)  # never the account number


def test_a_truncated_bai2_file_is_refused():
    truncated = "\n".join(BAI2.splitlines()[:7]) + "\n"
    with pytest.raises(DepositFileError) as caught:
        parse_bai2(truncated)
    assert any("truncated" in e["reason"] for e in caught.value.errors)


def test_not_a_bai2_file():
    with pytest.raises(DepositFileError):
        parse_bai2("date,amount,trace\n")


def test_csv_deposits_and_their_errors():
    deposits = parse_deposit_csv("Date,Amount,Trace\n2026-11-02,80.00,TRN-835-1\n2026-11-03,\"1,045.10\",\n")
    assert [(d.deposit_date, d.amount, d.trace, d.line) for d in deposits] == [
        (date(2026, 11, 2), Decimal("80.00"), "TRN-835-1", 2), (date(2026, 11, 3), Decimal("1045.10"), None, 3)]
    with pytest.raises(DepositFileError) as caught:
        parse_deposit_csv("date,amount,trace\n11/02/2026,80.00,X\n2026-11-02,80.001,X\n2026-11-02,abc,X\n")
    assert [e["line"] for e in caught.value.errors] == [2, 3, 4]
    with pytest.raises(DepositFileError):
        parse_deposit_csv("when,how much\n")


def test_traces_compare_without_case_spaces_or_leading_zeros():
    assert normalise_trace(" 000eft 0002 ") == normalise_trace("EFT0002") == "EFT0002"
    assert normalise_trace("000") is None and normalise_trace(None) is None


def era(era_id: str, trace: str, amount: str, *, method: str = "ACH", paid: date = date(2026, 11, 1)) -> EraPayment:
    return EraPayment(era_id=era_id, trace=trace, amount=Decimal(amount), payment_date=paid, method=method)


def dep(amount: str, trace: str | None, when: date = date(2026, 11, 2)) -> Deposit:
    return Deposit(deposit_date=when, amount=Decimal(amount), trace=trace)


def test_reassociation_by_trace_and_amount():
    eras = [era("e1", "TRN-835-1", "80.00"), era("e2", "EFT0002", "100.00"), era("e3", "EFT0003", "60.00"),
            era("e4", "EFT0003", "40.00"), era("e5", "NEVERPAID", "12.00")]
    deposits = [dep("80.00", "trn-835-1"), dep("125.50", "EFT0002"), dep("100.00", "0EFT0003"), dep("9.99", "UNKNOWN")]
    result = reassociate(deposits, eras)
    assert [(m.deposit.amount, [e.era_id for e in m.eras], m.by) for m in result.matches] == [
        (Decimal("80.00"), ["e1"], "trace"),
        (Decimal("100.00"), ["e3", "e4"], "trace"),  # one EFT paid two 835s: 60.00 + 40.00
    ]
    [mismatch] = result.amount_mismatches  # same trace, 125.50 deposited for a 100.00 ERA: a person looks
    assert [e.era_id for e in mismatch.eras] == ["e2"] and mismatch.difference == Decimal("25.50")
    assert [d.amount for d in result.unmatched_deposits] == [Decimal("9.99")]
    assert [e.era_id for e in result.eras_without_deposit] == ["e5"]


def test_a_check_deposit_without_a_trace_matches_only_one_check_era_of_that_amount_near_its_date():
    eras = [era("c1", "CHK1001", "45.00", method="CHK", paid=date(2026, 10, 30)),
            era("c2", "CHK1002", "45.00", method="CHK", paid=date(2026, 8, 1)),  # too long before
            era("a1", "ACH1", "45.00")]  # an ACH payment never matches by amount alone
    result = reassociate([dep("45.00", None)], eras)
    assert [(m.eras[0].era_id, m.by) for m in result.matches] == [("c1", "amount_and_date")]
    ambiguous = reassociate([dep("45.00", None)], [*eras, era("c3", "CHK1003", "45.00", method="CHK")])
    assert ambiguous.matches == [] and len(ambiguous.unmatched_deposits) == 1


def test_a_deposit_is_known_by_trace_else_bank_reference_else_its_place_in_its_file():
    from datetime import date
    from decimal import Decimal

    from rcm_remittance.domain.deposits import Deposit, deposit_key

    day, amount = date(2026, 11, 2), Decimal("80")
    assert deposit_key(Deposit(day, amount, " 00eft-100", "BR001"), "sha") == "trace:2026-11-02:80.00:EFT-100"
    assert deposit_key(Deposit(day, amount, None, " br 001"), "sha") == "bank:2026-11-02:80.00:BR001"
    assert deposit_key(Deposit(day, amount, None, None, line=7), "sha") == "file:sha:7"


def test_days_before_stops_at_the_first_day_there_is():
    assert days_before(date(2026, 11, 12), timedelta(days=10)) == date(2026, 11, 2)
    assert days_before(date(1, 1, 5), timedelta(days=10)) == date.min
    assert days_before(date.min, timedelta(days=120)) == date.min
