"""remittance schema: one posted claim payment per (tenant, payer, payer claim control number)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Numeric, UniqueConstraint, func
from decimal import Decimal
from datetime import date
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PostedPayment(Base, table=True):
    __tablename__ = "posted_payments"
    __table_args__ = (UniqueConstraint("tenant_id", "payer_id", "payer_claim_control_number", name="uq_posted_payment"),)

    remittance_id: uuid.UUID = Field(primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    payer_claim_control_number: str
    trace_number: str
    payment_date: date
    total_charge: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    allowed_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    paid_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    patient_responsibility: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    outcome: str
    adjustments: list = Field(sa_column=Column(JSONB, nullable=False))
    remark_codes: list = Field(sa_column=Column(JSONB, nullable=False))
    posted_at: datetime = Field(sa_column=_now_column())


posted_payments = PostedPayment.__table__


class ClaimRef(Base, table=True):
    """CLP01 -> claim: what submission published when it sent the claim (claim-submitted)."""

    __tablename__ = "claim_refs"

    tenant_id: str = Field(primary_key=True)
    patient_control_number: str = Field(primary_key=True)
    claim_id: uuid.UUID
    payer_id: str


class UnmatchedPayment(Base, table=True):
    """A claim payment in an 835 that names no claim we know (yet): kept whole, with the reason. It is
    posted when the claim's claim-submitted event arrives (the 835 can overtake it); otherwise a person
    works it (status unmatched)."""

    __tablename__ = "unmatched_payments"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str | None = None
    trace_number: str | None = None
    patient_control_number: str
    payer_claim_control_number: str | None = None
    paid_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    reason: str
    status: str = "unmatched"  # unmatched -> posted
    advice: dict = Field(sa_column=Column(JSONB, nullable=False))  # the RemittanceAdvice with this one claim
    received_at: datetime = Field(sa_column=_now_column())


claim_refs = ClaimRef.__table__
unmatched_payments = UnmatchedPayment.__table__
