"""sandbox schema: claims the simulated payer received, their adjudication and remittance."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PayerClaim(Base, table=True):
    __tablename__ = "payer_claims"

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    payer_claim_control_number: str = Field(unique=True)
    interchange_control_number: str
    status: str = Field(index=True)  # received -> remitted
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))
    adjudication: dict | None = Field(default=None, sa_column=Column(JSONB))
    received_at: datetime = Field(sa_column=_now_column())
    remitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


payer_claims = PayerClaim.__table__
