"""Balancing, payment identity and ledger math (pure), each checked against hand computations."""

from decimal import Decimal as D

import pytest

from rcm_remittance.domain.balancing import check_imbalances, file_imbalances
from rcm_remittance.domain.identity import aliases_of, payer_key, payment_keys
from rcm_remittance.domain.ledger import (negated, outcome, payment_entries, status_action,
                                          superseded_patient_share, totals)
from rcm_remittance.domain.remit import RejectedFile, read_x12_file
from tests.support.era835 import check, clp, era, svc


def read(*checks, isa13="000000901"):
    return read_x12_file(era(*checks, isa13=isa13))


# 150.00 charged on two lines; line 1: 100.00 charged, 60.00 paid, CO-45 25.00, PR-2 15.00;
# line 2: 50.00 charged, 30.00 paid, PR-3 20.00. CLP04 = 60 + 30 = 90; CLP03 - CLP04 = 60 = 25 + 15 + 20.
TWO_LINES = clp("PCN-1", "150.00", "90.00", pccn="P1", lines=[
    svc("99213", "100.00", "60.00", [("CO", "45", "25.00"), ("PR", "2", "15.00")]),
    svc("85025", "50.00", "30.00", [("PR", "3", "20.00")])])


# ---------------------------------------------------------------- balancing


def test_a_balanced_check_has_no_imbalance():
    [c] = read(check([TWO_LINES]))
    assert c.amount == D("90.00") and check_imbalances(c) == []


def test_bpr02_off_by_a_cent_is_a_file_imbalance_with_its_exact_difference():
    [c] = read(check([TWO_LINES], amount="90.01"))
    [i] = check_imbalances(c)
    assert (i.level, i.expected, i.actual, i.difference, i.claim_index) == ("file", D("90.00"), D("90.01"), D("-0.01"), None)


def test_plb_amounts_come_off_the_check_total():
    # 90.00 for the claim, PLB L6 interest -2.50 (paid to the provider), WO recoupment 10.00: 90 + 2.50 - 10 = 82.50
    [c] = read(check([TWO_LINES], plb=[("L6", None, "-2.50"), ("WO", "PCN-9", "10.00")]))
    assert c.amount == D("82.50") and check_imbalances(c) == []
    assert [(p.reason, p.reference, p.amount) for p in c.provider_adjustments] == [
        ("L6", None, D("-2.50")), ("WO", "PCN-9", D("10.00"))]


def test_a_claim_whose_adjustments_miss_its_difference_is_a_claim_imbalance():
    bad = clp("PCN-2", "100.00", "70.00", cas=[("CO", "45", "20.00")])  # 30.00 to explain, 20.00 given
    [c] = read(check([TWO_LINES, bad]))
    [i] = check_imbalances(c)
    assert (i.level, i.claim_index, i.expected, i.actual, i.difference) == ("claim", 1, D("20.00"), D("30.00"), D("-10.00"))


def test_a_line_that_does_not_balance_is_a_line_imbalance_at_its_index():
    bad = clp("PCN-3", "100.00", "80.00", lines=[svc("99213", "60.00", "50.00", [("CO", "45", "10.00")]),
                                                 svc("85025", "40.00", "30.00", [("CO", "45", "5.00")])],
              cas=[("CO", "45", "5.00")])
    # line 2: 40 - 30 = 10, CAS 5 -> off by 5; claim: 100 - 80 = 20 = 10 + 5 + 5 balances;
    # CLP04 80 = SVC03 (50 + 30) - claim CAS 5 = 75 -> off by 5
    [c] = read(check([bad]))
    found = {(i.level, i.claim_index, i.line_index, i.difference) for i in check_imbalances(c)}
    assert found == {("line", 0, 1, D("-5.00")), ("claim", 0, None, D("-5.00"))}


def test_imbalances_name_their_check_in_a_multi_check_file():
    f = read(check([TWO_LINES]), check([TWO_LINES], amount="1.00", trace="T2"))
    assert [(i.level, i.check_index) for i in file_imbalances(f)] == [("file", 1)]


# ---------------------------------------------------------------- reading the file


def test_every_interchange_of_a_file_is_read():
    text = era(check([TWO_LINES])) + era(check([clp("PCN-2", "10.00", "10.00")], trace="T2"), isa13="000000902")
    checks = read_x12_file(text)
    assert [(c.interchange, c.trace_number, len(c.claims)) for c in checks] == [
        ("000000901", "TRN-835-1", 1), ("000000902", "T2", 1)]


def test_a_truncated_file_is_rejected_whole():
    text = era(check([TWO_LINES]))
    with pytest.raises(RejectedFile, match="truncated"):
        read_x12_file(text[: text.index("CLP")])


def test_a_4010_interchange_is_rejected():
    text = era(check([TWO_LINES])).replace("*00501*", "*00401*")
    with pytest.raises(RejectedFile, match=r"version '00401' \(ISA12\) is not 00501 \(5010\)"):
        read_x12_file(text)


def test_a_4010_transaction_set_is_rejected():
    text = era(check([TWO_LINES])).replace("005010X221A1", "004010X091A1")
    with pytest.raises(RejectedFile, match=r"version .004010X091A1. \(GS08\) is not 5010 \(005010X221A1\)"):
        read_x12_file(text)


# ---------------------------------------------------------------- identity


def test_the_same_payment_with_the_payer_named_three_ways_has_one_key():
    keys = {payment_keys("t", c, {})[0] for naming in ("n1", "ref", "trn") for c in read(check([TWO_LINES], naming=naming))}
    assert len(keys) == 1


def test_a_check_naming_the_payer_without_trn03_uses_the_learned_alias():
    [both] = read(check([TWO_LINES]))
    assert aliases_of(both) == {"SANDBOX1": "1512345678"}
    no_trn03 = both.__class__(**{**both.__dict__, "trace_originator": None})
    assert payer_key(no_trn03, aliases_of(both)) == payer_key(both, {}) == "1512345678"


def test_the_same_payment_in_another_interchange_and_position_has_the_same_key():
    other = clp("PCN-7", "10.00", "10.00")
    [a] = read(check([TWO_LINES, other]), isa13="000000901")
    [b] = read(check([other, TWO_LINES]), isa13="000000777")
    assert payment_keys("t", a, {})[0] == payment_keys("t", b, {})[1]


def test_claims_sharing_clp07_and_claims_without_clp07_have_distinct_keys():
    shared = [clp(f"PCN-{n}", "10.00", "10.00", pccn="SAME") for n in range(9)]
    none = [clp("PCN-A", "10.00", "10.00"), clp("PCN-B", "10.00", "10.00")]
    [c] = read(check(shared + none))
    assert len(set(payment_keys("t", c, {}))) == 11


def test_two_identical_claim_payments_in_one_check_are_two_payments():
    same = clp("PCN-1", "10.00", "10.00")
    [c] = read(check([same, same]))
    assert len(set(payment_keys("t", c, {}))) == 2


def test_a_reversal_and_its_correction_differ_from_the_original_even_with_one_clp07():
    [c] = read(check([clp("PCN-1", "100.00", "80.00", pccn="X", cas=[("CO", "45", "20.00")]),
                      clp("PCN-1", "-100.00", "-80.00", status="22", pccn="X", cas=[("CO", "45", "-20.00")]),
                      clp("PCN-1", "100.00", "90.00", pccn="X", cas=[("CO", "45", "10.00")])]))
    assert len(set(payment_keys("t", c, {}))) == 3


def test_the_key_is_per_tenant():
    [c] = read(check([TWO_LINES]))
    assert payment_keys("a", c, {}) != payment_keys("b", c, {})


# ---------------------------------------------------------------- ledger


def test_line_entries_and_totals_by_hand():
    [c] = read(check([TWO_LINES]))
    entries = payment_entries(c.claims[0], charge_posted=False)
    assert [(e.line_number, e.kind, e.amount) for e in entries] == [
        (1, "charge", D("100.00")), (1, "payer_payment", D("60.00")), (1, "contractual", D("25.00")),
        (1, "coinsurance", D("15.00")), (2, "charge", D("50.00")), (2, "payer_payment", D("30.00")),
        (2, "copay", D("20.00"))]
    t = totals((e.kind, e.amount) for e in entries)
    # balance = 150 - 90 - 25 = 35 = coinsurance 15 + copay 20
    assert (t.charge, t.payer_paid, t.contractual, t.coinsurance, t.copay, t.patient_responsibility, t.balance) == (
        D("150.00"), D("90.00"), D("25.00"), D("15.00"), D("20.00"), D("35.00"), D("35.00"))


def test_claim_level_adjustments_on_a_claim_with_lines_come_off_the_payment():
    # The guide's own example (X221 "dollars and data sent separately"): charge 800.00, the line paid 500.00 with
    # PR-1 300.00, and a claim-level CO-A2 50.00 taken off: CLP04 = 500 - 50 = 450.00 is what the payer paid.
    c = clp("5554555444", "800.00", "450.00", patient="300.00", cas=[("CO", "A2", "50.00")],
            lines=[svc("99211", "800.00", "500.00", [("PR", "1", "300.00")])])
    [chk] = read(check([c]))
    t = totals((e.kind, e.amount) for e in payment_entries(chk.claims[0], charge_posted=False))
    # balance = 800 - 450 paid - 50 contractual = 300 = the deductible the patient owes
    assert (t.charge, t.payer_paid, t.contractual, t.deductible, t.balance) == (
        D("800.00"), D("450.00"), D("50.00"), D("300.00"), D("300.00"))


def test_claim_level_entries_when_there_are_no_lines_and_oa_is_another_adjustment():
    c = clp("PCN-1", "200.00", "100.00", cas=[("CO", "45", "40.00"), ("OA", "23", "15.00"), ("PR", "1", "30.00"),
                                              ("PR", "2", "10.00"), ("PR", "96", "5.00")])
    [chk] = read(check([c]))
    t = totals((e.kind, e.amount) for e in payment_entries(chk.claims[0], charge_posted=False))
    assert (t.deductible, t.coinsurance, t.patient_other, t.other_adjustments, t.balance) == (
        D("30.00"), D("10.00"), D("5.00"), D("15.00"), D("45.00"))


def test_a_reversal_negates_and_the_correction_posts_anew():
    [chk] = read(check([clp("PCN-1", "100.00", "80.00", cas=[("PR", "2", "20.00")]),
                        clp("PCN-1", "100.00", "90.00", cas=[("PR", "2", "10.00")])]))
    original = payment_entries(chk.claims[0], charge_posted=False)
    correction = payment_entries(chk.claims[1], charge_posted=False)
    t = totals((e.kind, e.amount) for e in original + negated(original) + correction)
    assert (t.charge, t.payer_paid, t.patient_responsibility, t.balance) == (D("100.00"), D("90.00"), D("10.00"), D("10.00"))


def test_a_secondary_payment_replaces_the_patient_share_and_does_not_charge_again():
    [chk] = read(check([clp("PCN-1", "100.00", "80.00", cas=[("PR", "2", "20.00")]),
                        clp("PCN-1", "100.00", "15.00", status="2", cas=[("OA", "23", "80.00"), ("PR", "2", "5.00")])]))
    primary = payment_entries(chk.claims[0], charge_posted=False)
    secondary = superseded_patient_share(primary) + payment_entries(chk.claims[1], charge_posted=True)
    t = totals((e.kind, e.amount) for e in primary + secondary)
    # 100 - 80 - 15 = 5 owed, all of it the patient's (coinsurance 20 replaced by 5)
    assert (t.charge, t.payer_paid, t.coinsurance, t.other_adjustments, t.balance) == (
        D("100.00"), D("95.00"), D("5.00"), D("0.00"), D("5.00"))


@pytest.mark.parametrize("status,action", [("1", "post"), ("2", "post"), ("3", "post"), ("4", "post"), ("19", "post"),
                                           ("20", "post"), ("21", "post"), ("22", "reverse"), ("23", "not_ours"),
                                           ("25", "hold"), ("99", "hold")])
def test_each_claim_status_does_what_the_guide_says(status, action):
    assert status_action(status) == action


def test_a_denied_claim_is_denied_with_its_charge_and_denial_on_the_ledger():
    [chk] = read(check([clp("PCN-1", "100.00", "0.00", status="4", cas=[("CO", "50", "100.00")])]))
    entries = payment_entries(chk.claims[0], charge_posted=False)
    assert outcome(chk.claims[0]) == "denied"
    assert totals((e.kind, e.amount) for e in entries).balance == D("0.00")


def test_the_patient_share_waits_only_after_a_primary_adjudication_with_a_payer_after_it():
    from rcm_remittance.domain.ledger import awaiting_payer

    assert awaiting_payer("1", D("20.00"), "SECOND1") == "SECOND1"
    assert awaiting_payer("19", D("20.00"), "SECOND1") == "SECOND1"
    assert awaiting_payer("1", D("0.00"), "SECOND1") is None
    assert awaiting_payer("1", D("20.00"), None) is None
    assert [awaiting_payer(s, D("20.00"), "SECOND1") for s in ("2", "20", "3", "4", "22")] == [None] * 5


def test_a_denial_by_a_later_payer_does_not_charge_the_claim_again():
    [chk] = read(check([clp("PCN-S", "100.00", "0.00", status="4", cas=[("OA", "23", "80.00"), ("PR", "2", "20.00")])]))
    denial = chk.claims[0]
    entries = payment_entries(denial, charge_posted=True, later_payer=True)
    assert [e.kind for e in entries] == ["prior_payer", "coinsurance"]
    assert [e.kind for e in payment_entries(denial, charge_posted=True)][0] == "charge"
