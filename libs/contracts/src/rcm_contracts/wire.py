"""HTTP payloads exchanged with clearinghouses and payers (not Kafka events).

In production these are X12 (837P out; 999/277CA/835 back). The sandbox clearinghouse speaks this JSON
form so the pipeline can run end to end; the X12 adapters map to and from the same models.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Literal

from pydantic import Field

from rcm_contracts.base import Contract
from rcm_contracts.claim import Claim, Money
from rcm_contracts.events import Adjustment


class Interchange(Contract):
    """One batch of claims for one tenant and payer (an 837P interchange)."""

    tenant_id: str
    interchange_control_number: str = Field(pattern=r"^[0-9]{9}$")
    payer_id: str
    claims: list[Claim] = Field(min_length=1, max_length=5000)


class ClaimAck(Contract):
    """Per-claim acknowledgment (277CA)."""

    claim_id: uuid.UUID
    accepted: bool
    status_code: str
    payer_claim_control_number: str | None = None
    reason: str | None = None


class InterchangeAck(Contract):
    """Interchange syntax acknowledgment (999) plus the claim acknowledgments (277CA)."""

    interchange_control_number: str
    syntax_accepted: bool
    claims: list[ClaimAck] = Field(default_factory=list)


class ClaimRemittance(Contract):
    """One claim payment (CLP) of an ERA (835)."""

    claim_id: uuid.UUID
    payer_claim_control_number: str = Field(min_length=1, max_length=50)
    total_charge: Money
    allowed_amount: Money
    paid_amount: Money
    patient_responsibility: Money
    adjustments: list[Adjustment] = Field(default_factory=list)
    remark_codes: list[str] = Field(default_factory=list)


class RemittanceAdvice(Contract):
    """An ERA (835) as a payer sends it: one payment, many claims."""

    payer_id: str
    payment_date: date
    payment_method: Literal["ACH", "CHK", "NON"] = "ACH"
    trace_number: str = Field(min_length=1, max_length=50)
    claims: list[ClaimRemittance] = Field(min_length=1, max_length=5000)
