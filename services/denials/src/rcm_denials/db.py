"""denials schema: one denial per posted payment that carries denial adjustments, and one underpayment item per
posted payment remittance found paid below the contract (kind `underpayment`, category `underpaid`)."""

import uuid
from datetime import datetime

from datetime import date
from decimal import Decimal

from sqlalchemy import (
    BigInteger, Column, Date, DateTime, Identity, Index, Integer, Numeric, Text, UniqueConstraint, func, text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class Denial(Base, table=True):
    __tablename__ = "denials"
    # once per remittance and kind of a tenant: a remittance id comes from remittance's events, so it is unique
    # per tenant, never across tenants (migration 0003); a payment may be both partly denied and underpaid
    # (migration 0004)
    __table_args__ = (UniqueConstraint("tenant_id", "remittance_id", "kind", name="uq_denials_tenant_remittance_kind"),
                      Index("ix_denials_rebill_claim", "tenant_id", "rebill_claim_id",
                            postgresql_where=text("rebill_claim_id IS NOT NULL")))

    denial_id: uuid.UUID = Field(primary_key=True)
    remittance_id: uuid.UUID
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    category: str = Field(index=True)
    work_queue: str = Field(index=True)
    reason_codes: list = Field(sa_column=Column(JSONB, nullable=False))
    denied_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    status: str = "open"  # open | voided (the payer reversed the remittance it came from)
    recorded_at: datetime = Field(sa_column=_now_column())
    voided_by_remittance_id: uuid.UUID | None = None  # the reversal (PaymentReversed.remittance_id)
    voided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # denial (from PaymentPosted's adjustments) | underpayment (PaymentUnderpaid: denied_amount is the
    # shortfall, expected - actual allowed; lines the flagged service lines)
    kind: str = Field(default="denial", sa_column=Column(Text, nullable=False, server_default="denial"))
    expected_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))
    actual_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))
    lines: list | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    # 0010: root cause in words (category holds the root cause), the remarks, the codes the lists did not know,
    # the dates deadlines run from, and the work on the item (owner, appeal, write-off, rebill)
    remark_codes: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    unknown_codes: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    explanation: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    follow_up: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    remittance_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    service_date: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    owner: str | None = Field(default=None, sa_column=Column(Text, nullable=True, index=True))
    appeal_sent_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    appeal_method: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    appeal_answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    rebill_payer_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    write_off_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    write_off_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))
    write_off_requested_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    # 0013: the request a corrected or rebilled claim went out under (ClaimResubmissionRequested.request_id), the
    # rebilled claim (a payment on it recovers the item), and what recovered the item
    resubmission_id: uuid.UUID | None = None
    rebill_claim_id: uuid.UUID | None = None
    recovered_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))
    recovered_by_remittance_id: uuid.UUID | None = None


class DenialAction(Base, table=True):
    """Each thing done to an item, with who, when, the status before and after and what was recorded."""
    __tablename__ = "denial_actions"

    action_id: uuid.UUID = Field(primary_key=True)
    # the order actions happened in (two in one instant of the clock keep their order)
    seq: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), nullable=False))
    denial_id: uuid.UUID = Field(index=True)
    tenant_id: str = Field(index=True)
    action: str
    actor: str
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    from_status: str
    to_status: str
    detail: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))


class PayerDeadline(Base, table=True):
    """A payer's appeal window and timely-filing limit for a tenant (days)."""
    __tablename__ = "payer_deadlines"

    tenant_id: str = Field(primary_key=True)
    payer_id: str = Field(primary_key=True)
    appeal_days: int = Field(sa_column=Column(Integer, nullable=False))
    timely_filing_days: int = Field(sa_column=Column(Integer, nullable=False))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class DenialSettings(Base, table=True):
    """A tenant's defaults: deadlines for payers without a row, and the write-off amount above which a second
    person approves."""
    __tablename__ = "denial_settings"

    tenant_id: str = Field(primary_key=True)
    appeal_days: int = Field(sa_column=Column(Integer, nullable=False))
    timely_filing_days: int = Field(sa_column=Column(Integer, nullable=False))
    write_off_approval_above: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class AppealTemplateRow(Base, table=True):
    """A tenant's own appeal arguments by root cause (placeholders such as {payer_name}) and closing; the rest come
    from domain.appeal_packet's defaults."""

    __tablename__ = "appeal_templates"

    tenant_id: str = Field(primary_key=True)
    arguments: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))
    closing: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


denials = Denial.__table__
appeal_templates = AppealTemplateRow.__table__
denial_actions = DenialAction.__table__
payer_deadlines = PayerDeadline.__table__
denial_settings = DenialSettings.__table__

# the trend tables (migration 0011) join this metadata: migrations and tests create them with the others
from rcm_denials import trends_db  # noqa: E402,F401
