"""patient_billing schema: patient balances opened from payer remittances."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Numeric, UniqueConstraint, func
from decimal import Decimal
from datetime import date
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PatientBalance(Base, table=True):
    __tablename__ = "patient_balances"
    # once per remittance of a tenant: a remittance id comes from remittance's events, so it is unique per
    # tenant, never across tenants (migration 0003)
    __table_args__ = (UniqueConstraint("tenant_id", "remittance_id", name="uq_patient_balances_tenant_remittance"),)

    statement_id: uuid.UUID = Field(primary_key=True)
    remittance_id: uuid.UUID
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str = Field(index=True)
    amount_due: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    due_date: date
    status: str = "open"
    opened_at: datetime = Field(sa_column=_now_column())


patient_balances = PatientBalance.__table__
