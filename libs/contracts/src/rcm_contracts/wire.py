"""Remittance in the project's JSON form (not a Kafka event): what remittance posts, whether an ERA came
as X12 835 (POST /v1/remittances/x12, read by rcm_remittance.domain.remit) or as JSON from an
integrator (POST /v1/remittances). Claims go out as X12 837P (rcm_x12.claim_837p.write)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import Field

from rcm_contracts.base import Contract
from rcm_contracts.claim import Money
from rcm_contracts.dates import IsoDate
from rcm_contracts.events import Adjustment


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
    payment_date: IsoDate
    payment_method: Literal["ACH", "CHK", "NON"] = "ACH"
    trace_number: str = Field(min_length=1, max_length=50)
    claims: list[ClaimRemittance] = Field(min_length=1, max_length=5000)
