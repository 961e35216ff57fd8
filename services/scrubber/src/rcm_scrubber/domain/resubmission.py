"""The claim a denials request sends again (pure): a replacement of the denied claim (CLM05-3 7, REF*F8 the payer's
claim number) with the correction applied, or the claim rebilled to another payer as primary under a new claim id.

Built from the claim as the scrubber last scrubbed it, so denials never holds the claim: the request carries only
what changes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rcm_contracts.claim import Claim
from rcm_contracts.events import ClaimResubmissionRequested, Edit

# the edit a replacement waiting for a person carries in the review queue (a warning: it does not block release)
CORRECT_THEN_RELEASE = Edit(code="DNL-CORRECT", severity="warning",
                            message="corrected claim requested from denial work: correct the claim, then release it "
                                    "(it goes out as a replacement, frequency 7)")


def for_review(request: ClaimResubmissionRequested) -> bool:
    """A person corrects it here first: asked for, or a corrected claim that changes nothing (a replacement
    identical to the denied claim would only be denied again)."""
    nothing = request.correction is None or not request.correction.changed_fields()
    return request.review or (request.kind == "corrected" and nothing)


def replacement(billed: dict[str, Any], request: ClaimResubmissionRequested) -> Claim:
    """The denied claim with the correction applied, as a replacement naming the payer's claim number. Raises
    pydantic's ValidationError when the corrected claim is not a valid claim (a line pointing at a diagnosis the
    correction removed)."""
    changes = request.correction.model_dump(mode="json", exclude_none=True) if request.correction else {}
    data = {**billed, **changes, "frequency_code": "7", "original_claim_number": request.original_claim_number}
    if "lines" in changes:  # the total follows the corrected lines
        data["total_charge"] = str(sum((Decimal(str(line["charge"])) for line in changes["lines"]), Decimal("0")))
    return Claim.model_validate(data)


def as_billed_replacement(billed: dict[str, Any], request: ClaimResubmissionRequested) -> Claim:
    """The denied claim unchanged, as a replacement: what waits for a person when the correction could not apply."""
    return Claim.model_validate({**billed, "frequency_code": "7", "original_claim_number": request.original_claim_number})


def rebilled(billed: dict[str, Any], request: ClaimResubmissionRequested) -> Claim:
    """The claim to the other payer as primary: a new claim (its own CLM01 and ledger), original frequency, no
    earlier payer's adjudication. With original_payer_as_secondary the denying payer's coverage becomes the
    secondary one (billed automatically once the new primary leaves the patient a share)."""
    assert request.new_claim_id is not None and request.coverage is not None  # the contract requires both
    secondary = billed.get("coverage") if request.original_payer_as_secondary else billed.get("secondary_coverage")
    return Claim.model_validate({
        **billed, "claim_id": str(request.new_claim_id), "coverage": request.coverage.model_dump(mode="json"),
        "payer_responsibility": "P", "other_payers": [], "frequency_code": "1", "original_claim_number": None,
        "secondary_coverage": secondary})
