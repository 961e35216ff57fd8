"""scrubber schema: scrub result per claim; decision=review is the manual review queue."""

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


class ScrubbedClaim(Base, table=True):
    __tablename__ = "scrubbed_claims"

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    decision: str = Field(index=True)
    edits: list = Field(sa_column=Column(JSONB, nullable=False))
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))
    scrubbed_at: datetime = Field(sa_column=_now_column())


scrubbed_claims = ScrubbedClaim.__table__
