"""denials schema: one denial per posted payment that carries denial adjustments, and one underpayment item per
posted payment remittance found paid below the contract (kind `underpayment`, category `underpaid`)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Numeric, Text, UniqueConstraint, func
from decimal import Decimal
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
    __table_args__ = (UniqueConstraint("tenant_id", "remittance_id", "kind", name="uq_denials_tenant_remittance_kind"),)

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


denials = Denial.__table__

from rcm_denials import trends_db  # noqa: E402  (the trend tables join this metadata)

# the trend tables (migration 0011) are in this metadata: migrations and tests create them with the others
TREND_TABLES = (trends_db.payment_facts, trends_db.denied_lines, trends_db.rule_recommendations,
                trends_db.trend_settings)
