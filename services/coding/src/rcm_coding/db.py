"""coding schema: the coding result per claim (status needs_coder = the coder queue) and its audit."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, PrimaryKeyConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from rcm_runtime.phi import CLAIM_PHI, SealedColumn, SealedColumns

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class CodedClaim(Base, table=True):
    __tablename__ = "coded_claims"
    # keyed by (tenant, claim): the claim id comes from eligibility's events (migration 0004)
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "claim_id", name="coded_claims_pkey"),)

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True, index=True)
    status: str = Field(index=True)
    edits: list = Field(sa_column=Column(JSONB, nullable=False))
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))
    coded_at: datetime = Field(sa_column=_now_column())
    assigned_to: str | None = None  # the coder working the claim


class CodingAudit(Base, table=True):
    """Every coder action: who, when, the codes before and after, and the edits that remained."""

    __tablename__ = "coding_audit"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str
    actor: str
    action: str  # assigned | recoded
    before: dict | None = Field(default=None, sa_column=Column(JSONB))
    after: dict | None = Field(default=None, sa_column=Column(JSONB))
    edits_after: list | None = Field(default=None, sa_column=Column(JSONB))
    at: datetime = Field(sa_column=_now_column())


coded_claims = CodedClaim.__table__
coding_audit = CodingAudit.__table__

# PHI at rest (rcm_runtime.phi): the patient and coverage parts of each claim, sealed (the audit rows hold codes only).
PHI = SealedColumns("coding", (SealedColumn(coded_claims, "claim", paths=CLAIM_PHI),))
