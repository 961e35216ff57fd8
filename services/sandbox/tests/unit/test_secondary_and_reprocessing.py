"""The sandbox payer as a supplemental (secondary) plan, and what it does after a first payment: reversal,
overpayment, interest, and the payment it keeps for a later reversal."""

from dataclasses import replace
from datetime import date
from decimal import Decimal as D

from rcm_contracts.claim import Adjustment, LineAdjudication as PriorLine, OtherPayer
from rcm_sandbox.domain.adjudication import adjudicate
from rcm_sandbox.domain.reprocessing import (
    adjudication_from_json,
    adjudication_to_json,
    interest_owed,
    overpayment,
    reversal_of,
)
from rcm_sandbox.domain.secondary import adjudicate_secondary

from .test_adjudication import RULES, assert_balanced, benefits, make_claim

SUPPLEMENT = replace(RULES, payer_id="SBX03", secondary_covers=frozenset({"1", "2"}))


def as_secondary(claim, first, *, with_lines: bool):
    other = OtherPayer(
        coverage=claim.coverage, paid_amount=first.paid, adjudication_date=date(2025, 4, 1),
        adjustments=[] if with_lines else [Adjustment(group_code=g, reason_code=r, amount=a) for g, r, a in first.adjustments],
        lines=[PriorLine(line_number=ln.line_number, procedure_code=ln.procedure_code, paid_amount=ln.paid,
                         adjustments=[Adjustment(group_code=g, reason_code=r, amount=a) for g, r, a in ln.adjustments],
                         adjudication_date=date(2025, 4, 1)) for ln in first.lines] if with_lines else [])
    return claim.model_copy(update={"payer_responsibility": "S", "other_payers": [other]})


def test_the_supplement_pays_the_primarys_deductible_and_coinsurance_per_line_and_leaves_the_copay():
    claim = make_claim(("99213", "150.00"), ("97110", "100.00", "2"))
    first = adjudicate(claim, benefits(copay="25.00", deductible="50.00", coinsurance="0.20"), RULES)
    second = adjudicate_secondary(as_secondary(claim, first, with_lines=True), benefits(), SUPPLEMENT)
    l1, l2 = second.lines
    # line 1 (primary: CO-45 57.53, PR-3 25, PR-1 50, PR-2 3.49): the supplement pays 53.49, the copay stays
    assert l1.adjustments == [("OA", "23", D("71.51")), ("PR", "3", D("25.00"))]
    assert l1.paid == D("53.49")
    assert l2.adjustments == [("OA", "23", D("88.74"))] and l2.paid == D("11.26")  # PR-2 11.26 paid in full
    assert (second.paid, second.patient_responsibility, second.outcome) == (D("64.75"), D("25.00"), "paid")
    assert second.paid + second.patient_responsibility == first.patient_responsibility
    assert_balanced_secondary(second)


def test_claim_level_prior_adjudication_gives_the_same_claim_totals():
    claim = make_claim(("99213", "150.00"), ("97110", "100.00", "2"))
    first = adjudicate(claim, benefits(copay="25.00", deductible="50.00", coinsurance="0.20"), RULES)
    by_line = adjudicate_secondary(as_secondary(claim, first, with_lines=True), benefits(), SUPPLEMENT)
    by_claim = adjudicate_secondary(as_secondary(claim, first, with_lines=False), benefits(), SUPPLEMENT)
    assert (by_claim.paid, by_claim.patient_responsibility) == (by_line.paid, by_line.patient_responsibility)
    assert_balanced_secondary(by_claim)


def test_the_supplements_own_deductible_and_coinsurance_stay_with_the_patient():
    claim = make_claim(("99213", "150.00"))
    first = adjudicate(claim, benefits(coinsurance="0.20"), RULES)  # PR-2 18.49
    second = adjudicate_secondary(as_secondary(claim, first, with_lines=True),
                                  benefits(deductible="5.00", coinsurance="0.10"), SUPPLEMENT)
    # 18.49: 5.00 to its deductible, 10 % of 13.49 = 1.35 coinsurance, 12.14 paid
    assert second.lines[0].adjustments == [("OA", "23", D("131.51")), ("PR", "1", D("5.00")), ("PR", "2", D("1.35"))]
    assert second.paid == D("12.14")
    assert_balanced_secondary(second)


def test_a_member_the_supplement_does_not_know_is_denied_and_the_patient_keeps_owing():
    claim = make_claim(("99213", "150.00"))
    first = adjudicate(claim, benefits(coinsurance="0.20"), RULES)
    second = adjudicate_secondary(as_secondary(claim, first, with_lines=True), None, SUPPLEMENT)
    assert second.outcome == "denied" and second.paid == 0
    assert second.lines[0].adjustments == [("OA", "23", D("131.51")), ("PR", "31", D("18.49"))]
    inactive = adjudicate_secondary(as_secondary(claim, first, with_lines=True), benefits(active=False), SUPPLEMENT)
    assert inactive.lines[0].adjustments[-1] == ("PR", "27", D("18.49"))


def assert_balanced_secondary(result) -> None:
    for line in result.lines:
        assert line.charge == line.paid + sum((a for _, _, a in line.adjustments), D(0))
    assert result.total_charge == result.paid + sum((a for _, _, a in result.adjustments), D(0))
    assert result.patient_responsibility == sum((a for g, _, a in result.adjustments if g == "PR"), D(0))


def test_a_reversal_negates_every_amount_and_still_balances():
    original = adjudicate(make_claim(("99213", "150.00"), ("36415", "25.00")), benefits(copay="25.00"), RULES)
    reversal = reversal_of(original)
    assert (reversal.total_charge, reversal.paid, reversal.patient_responsibility) == (
        -original.total_charge, -original.paid, -original.patient_responsibility)
    assert [ln.adjustments for ln in reversal.lines] == [[(g, c, -a) for g, c, a in ln.adjustments]
                                                         for ln in original.lines]
    assert_balanced(reversal)
    assert reversal_of(reversal) == original


def test_overpayment_and_interest():
    wrong = replace(RULES, fee_schedule={**RULES.fee_schedule, "99213": D("104.00")})
    claim = make_claim(("99213", "150.00"))
    first, right = adjudicate(claim, benefits(), wrong), adjudicate(claim, benefits(), RULES)
    assert overpayment(first, right) == D("11.53") and overpayment(right, first) == 0
    assert interest_owed(D("92.00"), D("0.12"), 45) == D("1.36")  # 92 x 0.12 x 45 / 365 = 1.3611
    assert interest_owed(D("92.00"), D("0.12"), 0) == 0 and interest_owed(D("0.00"), D("0.12"), 45) == 0


def test_the_payment_kept_for_a_later_reversal_reads_back_exactly():
    original = adjudicate(make_claim(("99213", "150.00"), ("S9999", "40.00")), benefits(coinsurance="0.20"), RULES)
    assert adjudication_from_json(adjudication_to_json(original)) == original
