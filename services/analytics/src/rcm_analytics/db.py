"""analytics schema: a status row per claim (facts from every stage) and its event timeline."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Identity, Numeric, PrimaryKeyConstraint, func
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


class ClaimStatus(Base, table=True):
    __tablename__ = "claim_status"
    # keyed by (tenant, claim): a claim id comes from events, so another tenant's event naming the same id
    # must make its own row, never merge into this tenant's (migration 0005)
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "claim_id", name="claim_status_pkey"),)

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True, index=True)
    stage_rank: int = 0
    source_system: str | None = Field(default=None, index=True)
    source_encounter_id: str | None = None
    payer_id: str | None = None
    service_date: date | None = None
    total_charge: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    held_reason: str | None = None  # fields charges' completeness review found missing
    eligibility_status: str | None = None
    eligibility_hold: str | None = None  # work queue at eligibility while held
    coding_status: str | None = None
    scrub_decision: str | None = None
    ack_accepted: bool | None = None
    payment_outcome: str | None = None
    paid_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    allowed_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    patient_responsibility: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    denial_category: str | None = None
    balance_opened: bool | None = None
    self_pay: bool | None = None  # a self-pay encounter: billed to the patient, never to a payer (migration 0011)
    captured_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    posted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    first_event_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    last_event_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class ClaimEvent(Base, table=True):
    __tablename__ = "claim_events"

    event_id: uuid.UUID = Field(primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str
    event_type: str
    source: str
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    recorded_at: datetime = Field(sa_column=_now_column())
    summary: dict = Field(sa_column=Column(JSONB, nullable=False))


class ClaimPayment(Base, table=True):
    """Every PaymentPosted and PaymentReversed of a claim, once per (tenant, remittance): the claim's payer_paid,
    allowed_amount, patient_responsibility and payment_outcome are folded from all of them (migration 0006), not
    taken from the last payment. Amounts are as the event gives them (a reversal's are what it took back)."""

    __tablename__ = "claim_payments"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "remittance_id", name="claim_payments_pkey"),)

    tenant_id: str = Field(primary_key=True)
    remittance_id: uuid.UUID = Field(primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    seq: int = Field(sa_column=Column(BigInteger, Identity(), nullable=False))  # arrival order
    kind: str  # payment | reversal
    reversed_remittance_id: uuid.UUID | None = None
    outcome: str | None = None
    paid_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    allowed_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    patient_responsibility: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    patient_responsibility_total: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))


claim_status = ClaimStatus.__table__
claim_payments = ClaimPayment.__table__
claim_events = ClaimEvent.__table__
