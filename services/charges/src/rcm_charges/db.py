"""charges schema: one row per captured encounter (= one claim)."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


class EncounterRecord(Base, table=True):
    __tablename__ = "encounters"
    __table_args__ = (UniqueConstraint("tenant_id", "source_system", "source_encounter_id", name="uq_encounter_source"),)

    claim_id: uuid.UUID = Field(primary_key=True)
    encounter_id: uuid.UUID = Field(unique=True)
    tenant_id: str = Field(index=True)
    source_system: str
    source_encounter_id: str
    intake_channel: str
    content_hash: str
    version: int = 1
    status: str = "captured"
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))
    received_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()))


encounters = EncounterRecord.__table__
