"""A claim sent again as a replacement (frequency 7) or a void (8): how the payer settles it, and the check that
answers it (the standing payment reversed, CLP02 22, then the replacement's adjudication; a void's reversal alone),
balanced and accepted by pyx12."""

from decimal import Decimal as D
from types import SimpleNamespace

import pytest

from rcm_contracts.claim import Claim, patient_control_number
from rcm_sandbox.domain.adjudication import adjudicate
from rcm_sandbox.domain.checks import plan_checks
from rcm_sandbox.domain.replacement import settlement, status_after
from rcm_sandbox.domain.reprocessing import adjudication_to_json
from rcm_sandbox.domain.x12_835 import RemittedClaim
from rcm_sandbox.service import _standing_payment
from rcm_x12.format import x12_amount
from tests.support.pyx12_oracle import assert_pyx12_valid

from .test_x12_835 import ACH, BENEFITS, NO_PAYMENT, RULES, assert_balanced_835, era, make_claim, texts

PCCN = "SBX0001"


def sent_again(claim: Claim, frequency: str, **changes) -> Claim:
    return Claim.model_validate({**claim.model_dump(), "frequency_code": frequency, "original_claim_number": PCCN,
                                 **changes})


def paid(claim: Claim, **kwargs) -> RemittedClaim:
    return RemittedClaim(claim, adjudicate(claim, BENEFITS, RULES, prior_authorization=claim.prior_authorization),
                         PCCN, **kwargs)


@pytest.mark.parametrize(("frequency", "remitted_before", "how", "status"), [
    ("1", False, "pay", "remitted"),
    ("7", False, "pay", "remitted"),  # nothing paid to take back: a first payment
    ("7", True, "replace", "replaced"),
    ("8", True, "void", "voided"),
    ("8", False, "void_unpaid", "voided"),
])
def test_how_the_payer_settles_a_claim_by_its_frequency_and_whether_a_payment_stands(frequency, remitted_before, how,
                                                                                     status):
    assert settlement(frequency, remitted_before=remitted_before) == how
    assert status_after(how) == status


def test_a_replacement_of_a_denied_claim_reverses_the_denial_and_pays_the_replacement_in_one_check():
    original = make_claim(("70553", "900.00"), ("99213", "150.00"))
    denied = paid(original)  # no prior authorization: 70553 denied CO-197, 99213 paid
    assert denied.adjudication.lines[0].adjustments == [("CO", "197", D("900.00"))]
    replacement = sent_again(original, "7", prior_authorization="AUTH12345")
    anew = paid(replacement)
    [plan] = plan_checks([], [("k", denied, anew)], [])
    assert [c.reversal for c in plan.claims] == [True, False] and plan.reprocessed == [anew] and not plan.adjustments
    assert plan.total == anew.adjudication.paid - denied.adjudication.paid > 0  # the check pays the difference

    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=ACH)
    pcn = patient_control_number(original.claim_id)
    clps = [s for s in texts(text) if s.startswith("CLP")]
    # the reversal echoes the original (CLP09 1), the new adjudication the replacement (CLP09 7); CLP07 both
    assert clps[0].startswith(f"CLP*{pcn}*22*-1050*{x12_amount(-denied.adjudication.paid)}*")
    assert clps[0].endswith(f"*{PCCN}*11*1")
    assert clps[1].startswith(f"CLP*{pcn}*1*1050*{x12_amount(anew.adjudication.paid)}*")
    assert clps[1].endswith(f"*{PCCN}*11*7")
    assert "CAS*CO*197*-900" in texts(text) and "CAS*CO*197*900" not in texts(text)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_a_replacement_that_pays_less_parks_the_overpayment_as_reprocessing_does():
    original = make_claim(("99213", "150.00"), ("36415", "20.00"))
    first = paid(original)
    fewer_lines = sent_again(original, "7", lines=[original.lines[0].model_dump()],  # the venipuncture dropped
                             total_charge=original.lines[0].charge)
    anew = paid(fewer_lines)
    [plan] = plan_checks([], [("k", first, anew)], [])
    over = first.adjudication.paid - anew.adjudication.paid
    assert over > 0 and plan.overpaid == {original.claim_id: over} and plan.total == 0
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=NO_PAYMENT)
    pcn = patient_control_number(original.claim_id)
    assert texts(text)[-2] == f"PLB*1234567893*20261231*WO:{pcn}*-{x12_amount(over)}"
    # the reversal takes back both lines paid; the replacement pays the one it has
    assert [s.split("*")[1] for s in texts(text) if s.startswith("SVC")] == ["HC:99213", "HC:36415", "HC:99213"]
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_a_void_is_answered_with_the_reversal_alone_and_the_payment_taken_back_is_parked():
    original = make_claim(("99213", "150.00"))
    standing = paid(original)
    [plan] = plan_checks([], [("k", standing, None)], [])
    assert plan.voided == [standing] and plan.reprocessed == [] and [c.reversal for c in plan.claims] == [True]
    assert plan.overpaid == {original.claim_id: standing.adjudication.paid} and plan.total == 0
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=NO_PAYMENT)
    assert [s for s in texts(text) if s.startswith("CLP")][0].startswith(
        f"CLP*{patient_control_number(original.claim_id)}*22*-150*{x12_amount(-standing.adjudication.paid)}*")
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_a_void_of_a_denial_takes_nothing_back():
    denied = paid(make_claim(("70553", "900.00")))
    [plan] = plan_checks([], [("k", denied, None)], [])
    assert not plan.adjustments and not plan.overpaid and plan.total == 0
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=NO_PAYMENT)
    assert "CAS*CO*197*-900" in texts(text)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_reversals_come_first_each_followed_by_its_correction_voids_alone_then_the_new_payments():
    a, b, c = (make_claim(("99213", "150.00")) for _ in range(3))
    replaced, voided, new = paid(a), paid(b), paid(c)
    anew = paid(sent_again(a, "7"))
    [plan] = plan_checks([("k", new)], [("k", voided, None), ("k", replaced, anew)], [])
    assert [(r.claim.claim_id, r.reversal) for r in plan.claims] == [
        (b.claim_id, True), (a.claim_id, True), (a.claim_id, False), (c.claim_id, False)]
    assert plan.total == new.adjudication.paid  # the void's reversal is parked, the replacement pays as before
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=ACH)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def test_a_void_finds_no_room_in_a_full_plb_and_waits():
    reprocessed = [("k", paid(make_claim(("99213", "150.00"))), None) for _ in range(7)]
    [plan] = plan_checks([], reprocessed, [])
    assert len(plan.voided) == 6 and len(plan.adjustments) == 6
    text = era(plan.claims, provider_adjustments=plan.adjustments, payment=NO_PAYMENT)
    assert_balanced_835(text)
    assert_pyx12_valid(text, "835")


def stored(claim: Claim, payment: RemittedClaim, remitted_claim: Claim | None) -> SimpleNamespace:
    """A payer_claims row as the remitter reads it (opened)."""
    return SimpleNamespace(claim=claim.model_dump(mode="json"), adjudication=adjudication_to_json(payment.adjudication),
                           remitted_claim=remitted_claim.model_dump(mode="json") if remitted_claim else None,
                           payer_claim_control_number=PCCN)


def test_the_reversal_echoes_the_claim_the_payment_was_made_for():
    original = make_claim(("99213", "150.00"), ("36415", "20.00"))
    first = paid(original)
    fewer_lines = sent_again(original, "7", lines=[original.lines[0].model_dump()], total_charge=D("150.00"))
    standing = _standing_payment(stored(fewer_lines, first, original))
    assert standing.claim == original and standing.adjudication == first.adjudication
    # a row remitted before the paid claim was kept: the claim as last received, if it still has the lines paid
    assert _standing_payment(stored(sent_again(original, "7"), first, None)).claim.frequency_code == "7"
    assert _standing_payment(stored(fewer_lines, first, None)) is None  # else the claim is settled anew
