"""eligibility schema: one coverage check per claim."""

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


class CoverageCheck(Base, table=True):
    __tablename__ = "coverage_checks"

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str | None = None
    status: str
    reason: str | None = None
    result: dict = Field(sa_column=Column(JSONB, nullable=False))
    checked_at: datetime = Field(sa_column=_now_column())


coverage_checks = CoverageCheck.__table__
