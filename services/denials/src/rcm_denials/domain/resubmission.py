"""Sending a denied claim again from the work queue (pure): a corrected claim (replacement, CLM05-3 7) to the same
payer, or a rebill to another payer (coordination of benefits). What each needs from the item, and the request
the scrubber acts on (ClaimResubmissionRequested). Denials holds no claim: the scrubber applies the correction to
the claim it scrubbed, so nothing here reads or stores patient data; history rows name the fields corrected."""

from __future__ import annotations

import uuid
from typing import Any

from rcm_contracts.claim import Coverage
from rcm_contracts.events import ClaimCorrection, ClaimResubmissionRequested

from rcm_denials.domain.workflow import NotAllowed


def corrected_claim(row: Any, request_id: uuid.UUID, correction: ClaimCorrection | None,
                    review: bool) -> ClaimResubmissionRequested:
    """The replacement of the denied claim. It must name the payer's claim number of the denied payment (REF*F8):
    without it the payer cannot match the replacement to what it denied."""
    if not row["payer_claim_number"]:
        raise NotAllowed("the payer's claim number of the denied payment is unknown; a replacement claim must name "
                         "it (REF*F8): appeal or rebill instead")
    return ClaimResubmissionRequested(
        request_id=request_id, denial_id=row["denial_id"], claim_id=row["claim_id"], kind="corrected",
        original_claim_number=row["payer_claim_number"], correction=correction,
        review=review or correction is None or not correction.changed_fields())


def rebill_claim_id(claim_id: uuid.UUID, request_id: uuid.UUID) -> uuid.UUID:
    """The rebilled claim's id: new (a new CLM01 at the other payer, its own ledger), and the same for a
    redelivered request."""
    return uuid.uuid5(claim_id, f"rebill/{request_id}")


def rebill(row: Any, request_id: uuid.UUID, coverage: Coverage,
           original_payer_as_secondary: bool) -> ClaimResubmissionRequested:
    if coverage.payer_id.strip().upper() == str(row["payer_id"]).strip().upper():
        raise NotAllowed("a rebill goes to another payer; to send the claim again to the same payer, send a "
                         "corrected claim")
    return ClaimResubmissionRequested(
        request_id=request_id, denial_id=row["denial_id"], claim_id=row["claim_id"], kind="rebill",
        new_claim_id=rebill_claim_id(row["claim_id"], request_id), coverage=coverage,
        original_payer_as_secondary=original_payer_as_secondary)
