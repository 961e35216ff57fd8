"""submission schema: claims queued for, sent to and acknowledged by the clearinghouse."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Sequence, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


# ISA13/GS06 control numbers: unique and persisted, never reused.
interchange_control_seq = Sequence("interchange_control_seq", start=1, maxvalue=999_999_999, cycle=False, metadata=metadata)


class SubmissionRecord(Base, table=True):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_status_queued", "status", "queued_at"),)

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    status: str  # queued -> accepted | rejected
    clearinghouse: str | None = None
    interchange_control_number: str | None = None
    payer_claim_control_number: str | None = None
    ack_status_code: str | None = None
    ack_reason: str | None = None
    first_pass_accepted: bool | None = None
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))
    queued_at: datetime = Field(sa_column=_now_column())
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


submissions = SubmissionRecord.__table__
