"""The claim a denials request sends again (pure): the replacement with the correction applied, the claim as billed
when the correction cannot apply, the rebilled claim, and when a person must look first."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rcm_contracts.events import ClaimCorrection, ClaimResubmissionRequested
from rcm_scrubber.domain.resubmission import as_billed_replacement, for_review, rebilled, replacement
from tests.support import claims as factory

BILLED = factory.make_claim(diagnoses=["E119", "I10"], coverage=factory.make_coverage(payer_id="SBX01"),
                            lines=[factory.make_line(1, "97810", "85.00"),
                                   factory.make_line(2, "99213", "100.00", pointers=[2])],
                            total_charge=Decimal("185.00")).model_dump(mode="json")


def request(kind="corrected", correction=None, **more) -> ClaimResubmissionRequested:
    fields = {"original_claim_number": "SBX9"} if kind == "corrected" else {}
    return ClaimResubmissionRequested(request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=BILLED["claim_id"],
                                      kind=kind, correction=correction, **fields, **more)


def test_the_replacement_applies_the_correction_and_names_the_payers_claim_number():
    lines = [factory.make_line(1, "97140", "95.00").model_dump(mode="json"), BILLED["lines"][1]]
    claim = replacement(BILLED, request(correction=ClaimCorrection.model_validate({"lines": lines})))
    assert (claim.frequency_code, claim.original_claim_number) == ("7", "SBX9")
    assert [ln.procedure_code for ln in claim.lines] == ["97140", "99213"]
    assert claim.total_charge == Decimal("195.00") and str(claim.claim_id) == BILLED["claim_id"]
    same = replacement(BILLED, request(correction=ClaimCorrection(prior_authorization="A1")))
    assert same.prior_authorization == "A1" and same.total_charge == Decimal("185.00")


def test_a_correction_that_breaks_the_claim_raises_and_the_claim_as_billed_still_replaces():
    broken = request(correction=ClaimCorrection(diagnoses=["E119"]))  # line 2 points at diagnosis 2
    with pytest.raises(ValidationError, match="diagnosis pointer 2"):
        replacement(BILLED, broken)
    kept = as_billed_replacement(BILLED, broken)
    assert kept.diagnoses == ["E119", "I10"] and kept.frequency_code == "7"


def test_the_rebilled_claim_is_new_primary_original_and_may_keep_the_denying_payer_secondary():
    new_id = uuid.uuid4()
    coverage = factory.make_coverage(payer_id="SBX03", member_id="SUPP1")
    claim = rebilled(BILLED, request("rebill", new_claim_id=new_id, coverage=coverage, original_payer_as_secondary=True))
    assert (claim.claim_id, claim.coverage.payer_id, claim.secondary_coverage.payer_id) == (new_id, "SBX03", "SBX01")
    assert (claim.frequency_code, claim.payer_responsibility, claim.other_payers) == ("1", "P", [])
    alone = rebilled(BILLED, request("rebill", new_claim_id=new_id, coverage=coverage))
    assert alone.secondary_coverage is None


def test_a_person_looks_first_when_asked_or_when_the_correction_changes_nothing():
    assert for_review(request(correction=None)) and for_review(request(correction=ClaimCorrection()))
    assert for_review(request(correction=ClaimCorrection(prior_authorization="A"), review=True))
    assert not for_review(request(correction=ClaimCorrection(prior_authorization="A")))
    coverage = factory.make_coverage(payer_id="SBX03")
    assert not for_review(request("rebill", new_claim_id=uuid.uuid4(), coverage=coverage))


def test_the_request_itself_needs_what_each_kind_needs():
    with pytest.raises(ValidationError, match="original_claim_number"):
        ClaimResubmissionRequested(request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=uuid.uuid4(),
                                   kind="corrected")
    with pytest.raises(ValidationError, match="new claim id"):
        ClaimResubmissionRequested(request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=uuid.uuid4(),
                                   kind="rebill", coverage=factory.make_coverage())
