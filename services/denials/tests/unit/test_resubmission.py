"""What a corrected claim and a rebill need from a denial item, and the request they publish (pure)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from rcm_contracts.claim import Adjustment, Coverage
from rcm_contracts.events import ClaimCorrection, PaidLine, PaymentPosted
from rcm_denials.domain.resubmission import corrected_claim, rebill, rebill_claim_id
from rcm_denials.domain.root_cause import denied_lines
from rcm_denials.domain.workflow import NotAllowed

ROW = {"denial_id": uuid.uuid4(), "claim_id": uuid.uuid4(), "payer_id": "SBX01", "payer_claim_number": "SBX123"}
OTHER = Coverage(payer_id="SBX03", payer_name="Sandbox Medigap Supplement", member_id="SUPP1")


def test_a_corrected_claim_names_the_payers_claim_number_and_carries_the_correction():
    request_id = uuid.uuid4()
    event = corrected_claim(ROW, request_id, ClaimCorrection(prior_authorization="AUTH-1"), review=False)
    assert (event.kind, event.request_id, event.claim_id, event.original_claim_number) == (
        "corrected", request_id, ROW["claim_id"], "SBX123")
    assert event.correction.changed_fields() == ["prior_authorization"] and event.review is False


@pytest.mark.parametrize("correction", [None, ClaimCorrection()])
def test_a_corrected_claim_that_changes_nothing_goes_to_review(correction):
    assert corrected_claim(ROW, uuid.uuid4(), correction, review=False).review is True


def test_without_the_payers_claim_number_there_is_no_replacement():
    with pytest.raises(NotAllowed, match="REF\\*F8"):
        corrected_claim({**ROW, "payer_claim_number": None}, uuid.uuid4(), ClaimCorrection(prior_authorization="A"),
                        review=False)


def test_a_rebill_is_a_new_claim_to_another_payer_the_same_for_the_same_request():
    request_id = uuid.uuid4()
    event = rebill(ROW, request_id, OTHER, original_payer_as_secondary=True)
    assert event.kind == "rebill" and event.coverage == OTHER and event.original_payer_as_secondary
    assert event.new_claim_id == rebill_claim_id(ROW["claim_id"], request_id) != ROW["claim_id"]
    assert rebill_claim_id(ROW["claim_id"], uuid.uuid4()) != event.new_claim_id
    # a new CLM01: the first 20 hex digits differ from the denied claim's
    assert event.new_claim_id.hex[:20] != ROW["claim_id"].hex[:20]
    with pytest.raises(NotAllowed, match="another payer"):
        rebill(ROW, request_id, OTHER.model_copy(update={"payer_id": " sbx01"}), original_payer_as_secondary=False)


def _line(n, code, paid, *adjustments):
    return PaidLine(line_number=n, procedure_code=code, charge=Decimal("100.00"), paid=Decimal(paid),
                    adjustments=[Adjustment(group_code=g, reason_code=c, amount=Decimal(a)) for g, c, a in adjustments])


def test_denied_lines_are_classified_one_by_one_and_paid_or_routine_lines_are_left_out():
    payment = PaymentPosted(
        claim_id=uuid.uuid4(), remittance_id=uuid.uuid4(), payer_id="SBX01", payer_claim_control_number="P",
        total_charge=Decimal("400.00"), allowed_amount=Decimal("80.00"), paid_amount=Decimal("60.00"),
        patient_responsibility=Decimal("20.00"), outcome="partially_paid", payment_date=date(2026, 11, 2),
        remark_codes=["N362"],
        lines=[_line(1, "99213", "60.00", ("CO", "45", "20.00"), ("PR", "2", "20.00")),
               _line(2, "97810", "0.00", ("CO", "96", "100.00")),
               _line(3, "97140", "0.00", ("CO", "97", "100.00")),  # N362 refines CO-97 to bundling
               _line(4, "99999", "0.00", ("CO", "Z9", "100.00"))])
    got = denied_lines(payment)
    assert [(ln["line_number"], ln["root_cause"], ln["reason_codes"]) for ln in got] == [
        (2, "non_covered", ["CO-96"]), (3, "bundling", ["CO-97"]), (4, "unclassified", ["CO-Z9"])]
    assert got[0]["denied_amount"] == "100.00" and got[0]["paid"] == "0.00"


def test_an_item_recorded_by_an_older_classifier_is_classified_again_from_its_stored_codes():
    from rcm_denials.domain.root_cause import reclassify

    on = date(2026, 11, 2)
    assert reclassify(["CO-96"], [], on=on).root_cause == "non_covered"
    # the first code is the largest; a remark still refines it
    assert reclassify(["CO-16", "CO-96"], ["MA130"], on=on).root_cause == "registration"
    assert reclassify(["CO-96", "CO-16"], ["MA130"], on=on).root_cause == "non_covered"
    assert reclassify(["CO-Z99"], [], on=on).unknown_codes == ("CO-Z99",)
    assert reclassify(["CO-45"], [], on=on) is None and reclassify(["junk"], [], on=on) is None
