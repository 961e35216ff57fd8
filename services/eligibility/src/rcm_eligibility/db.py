"""eligibility schema: coverage checks per claim (held ones are the work queues) and the 271 cache."""

import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, PrimaryKeyConstraint, Sequence, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from rcm_runtime.phi import CLAIM_PHI, SealedColumn, SealedColumns

_registry = registry()
metadata = _registry.metadata

# ISA13 of the 270s we send: unique and persisted
inquiry_control_seq = Sequence("inquiry_control_seq", start=1, maxvalue=999_999_999, metadata=metadata)


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class CoverageCheck(Base, table=True):
    __tablename__ = "coverage_checks"
    # keyed by (tenant, claim): the claim id comes from charges' events (migration 0006)
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "claim_id", name="coverage_checks_pkey"),)

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True, index=True)
    payer_id: str | None = None
    status: str  # active | inactive | unknown | held
    reason: str | None = None
    result: dict = Field(sa_column=Column(JSONB, nullable=False))
    checked_at: datetime = Field(sa_column=_now_column())
    work_queue: str | None = Field(default=None, index=True)  # front-desk | authorizations, while held
    hold_reason: str | None = None
    edits: list | None = Field(default=None, sa_column=Column(JSONB))
    claim: dict | None = Field(default=None, sa_column=Column(JSONB))  # kept to release a held claim
    snapshot: dict | None = Field(default=None, sa_column=Column(JSONB))  # what the 271 said


class EligibilityCache(Base, table=True):
    __tablename__ = "eligibility_cache"
    __table_args__ = (UniqueConstraint("tenant_id", "payer_id", "member_id", "service_date", name="uq_eligibility_cache"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    payer_id: str
    member_id: str  # its blind index (MEMBER_ID_INDEX, rcm_runtime.phi), never the member id itself
    service_date: date
    snapshot: dict = Field(sa_column=Column(JSONB, nullable=False))
    fetched_at: datetime = Field(sa_column=_now_column())


class PatientRecord(Base, table=True):
    """A registered patient (front desk or EHR), keyed by the practice's own patient id (its MRN: stored sealed,
    found by its blind index `patient_key`, migration 0011)."""

    __tablename__ = "patients"
    __table_args__ = (UniqueConstraint("tenant_id", "patient_key", name="uq_patient"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    patient_id: str  # sealed (PHI below)
    patient_key: str  # the MRN's blind index (PHI.blind_index(patients, "patient_id", ...))
    patient: dict = Field(sa_column=Column(JSONB, nullable=False))
    coverages: list = Field(sa_column=Column(JSONB, nullable=False))
    updated_at: datetime = Field(sa_column=_now_column())


class MemberIdRule(Base, table=True):
    """A tenant's member-id format for one payer (payer_id '*' = the tenant's default for payers without
    one), so a mistyped id is caught at registration rather than by a payer rejection."""

    __tablename__ = "member_id_rules"

    tenant_id: str = Field(primary_key=True)
    payer_id: str = Field(primary_key=True)
    pattern: str
    description: str | None = None
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class Appointment(Base, table=True):
    """A scheduled visit and the outcome of its pre-visit eligibility check."""

    __tablename__ = "appointments"
    __table_args__ = (UniqueConstraint("tenant_id", "source_system", "source_appointment_id", name="uq_appointment"),)

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    source_system: str
    source_appointment_id: str
    patient_id: str  # the MRN, sealed (PHI below): nothing looks appointments up by it
    scheduled_date: date
    status: str  # verified | problems
    work_queue: str | None = Field(default=None, index=True)  # front-desk | authorizations while problems remain
    problems: list = Field(sa_column=Column(JSONB, nullable=False))
    eligibility: dict | None = Field(default=None, sa_column=Column(JSONB))
    checked_at: datetime = Field(sa_column=_now_column())


coverage_checks = CoverageCheck.__table__
patients = PatientRecord.__table__
appointments = Appointment.__table__
member_id_rules = MemberIdRule.__table__
eligibility_cache = EligibilityCache.__table__

# PHI at rest (rcm_runtime.phi): the patient and coverage parts of each claim, and a registration's demographics and
# coverages whole, sealed. The 271 cache is found by member id: it stores the member id's blind index. The 271
# snapshots keep no patient identity (rcm_eligibility.domain.decision.CoverageSnapshot). The practice's MRN
# (patients.patient_id, appointments.patient_id) is sealed; a registration is found by its blind index.
PHI = SealedColumns("eligibility", (SealedColumn(coverage_checks, "claim", paths=CLAIM_PHI),
                                    SealedColumn(patients, "patient", kind="json"),
                                    SealedColumn(patients, "coverages", kind="json"),
                                    SealedColumn(patients, "patient_id", kind="identifier", index="patient_key"),
                                    SealedColumn(appointments, "patient_id", kind="identifier")))
MEMBER_ID_INDEX = "eligibility.eligibility_cache.member_id"
