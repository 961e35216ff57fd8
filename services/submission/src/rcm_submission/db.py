"""submission schema: claims queued for, sent to and acknowledged by the clearinghouse."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, PrimaryKeyConstraint, Sequence, UniqueConstraint, func
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


# ISA13/GS06 control numbers: unique and persisted, never reused.
interchange_control_seq = Sequence("interchange_control_seq", start=1, maxvalue=999_999_999, cycle=False, metadata=metadata)


class SubmissionRecord(Base, table=True):
    __tablename__ = "submissions"
    # keyed by (tenant, claim): the claim id comes from the scrubber's events (migration 0004); CLM01 is derived
    # from the claim id, so it is unique per tenant too (a 277CA naming a CLM01 two tenants share is applied
    # only through the interchange it names)
    __table_args__ = (Index("ix_submissions_status_queued", "status", "queued_at"),
                      PrimaryKeyConstraint("tenant_id", "claim_id", name="submissions_pkey"),
                      UniqueConstraint("tenant_id", "patient_control_number",
                                       name="uq_submissions_tenant_patient_control_number"),
                      Index("ix_submissions_patient_control_number", "patient_control_number"))

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True, index=True)
    payer_id: str
    # queued -> sent -> accepted (277CA) | rejected (999/277CA, back in review); returned (never sent:
    # the 837P could not be built or failed the implementation-guide check)
    status: str
    patient_control_number: str  # CLM01, how 277CA and 835 name the claim (unique per tenant: see __table_args__)
    frequency_code: str = Field(default="1", sa_column_kwargs={"server_default": "1"})
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})  # interchanges this claim went out in
    ever_rejected: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})  # first-pass acceptance needs no earlier rejection
    clearinghouse: str | None = None
    interchange_control_number: str | None = None
    payer_claim_control_number: str | None = None
    ack_status_code: str | None = None
    ack_reason: str | None = None
    first_pass_accepted: bool | None = None
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))
    queued_at: datetime = Field(sa_column=_now_column())
    submitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # a secondary claim: the primary claim it follows (migration 0005). Its events are keyed by that claim, so
    # one claim's story (both payers) stays in one partition, in order, and in one timeline downstream.
    primary_claim_id: uuid.UUID | None = None
    # the denials request (ClaimScrubbed.resubmission_id) the claim was last queued again under: a corrected
    # claim replacing an accepted one, once per request (migration 0011)
    resubmission_id: uuid.UUID | None = None


class InterchangeRecord(Base, table=True):
    """An 837P interchange as sent: ISA13 = GS06, kept verbatim for audit and re-sends."""

    __tablename__ = "interchanges"

    interchange_control_number: str = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    clearinghouse: str
    claim_count: int
    # sending (committed, not yet handed over) -> sent -> accepted | rejected (999)
    status: str = "sending"
    content: str
    sent_at: datetime = Field(sa_column=_now_column())
    acknowledged_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class AcknowledgmentFile(Base, table=True):
    """Every file read from a clearinghouse: responses (999, 277CA) and 835s handed on to remittance. A file
    that does not parse (or names nothing we sent, or an 835 whose tenant is not certain) is quarantined with
    the reason and changes no claim."""

    __tablename__ = "acknowledgment_files"
    __table_args__ = (UniqueConstraint("clearinghouse", "content_sha256", name="uq_ack_file_content"),)

    id: int | None = Field(default=None, primary_key=True)
    clearinghouse: str
    name: str
    kind: str  # 999 | 277CA | 835 | unknown
    status: str  # processed | forwarded (an 835, to remittance as RemittanceReceived) | quarantined
    reason: str | None = None
    interchange_control_number: str | None = None
    claims_updated: int = 0
    tenant_id: str | None = None  # an 835's payee, resolved from the claims it pays (migration 0006)
    content_sha256: str
    content: str
    received_at: datetime = Field(sa_column=_now_column())


class ClearinghouseRoute(Base, table=True):
    __tablename__ = "clearinghouse_routes"

    tenant_id: str = Field(primary_key=True)
    payer_id: str = Field(primary_key=True)  # '*' = the tenant's fallback route
    clearinghouse: str
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class SubmissionAudit(Base, table=True):
    """Corrections, voids and secondary claims started by people: who, when, what."""

    __tablename__ = "submission_audit"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str
    actor: str
    action: str
    detail: dict | None = Field(default=None, sa_column=Column(JSONB))
    at: datetime = Field(sa_column=_now_column())


class PrimaryPayment(Base, table=True):
    """The primary payer's adjudication of a claim (from remittance), what a secondary claim carries
    in its 2320 loop."""

    __tablename__ = "primary_payments"
    # keyed by (tenant, claim): the claim id comes from remittance's events (migration 0004)
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "claim_id", name="primary_payments_pkey"),)

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True)
    payment: dict = Field(sa_column=Column(JSONB, nullable=False))


submissions = SubmissionRecord.__table__
interchanges = InterchangeRecord.__table__
acknowledgment_files = AcknowledgmentFile.__table__
clearinghouse_routes = ClearinghouseRoute.__table__
submission_audit = SubmissionAudit.__table__
primary_payments = PrimaryPayment.__table__

# PHI at rest (rcm_runtime.phi): the patient and coverage parts of each claim, and the X12 files as a whole (837P
# interchanges name patients and subscribers; 277CAs and 835s name patients too). Primary payments (PaymentPosted)
# and audit details carry no PHI.
PHI = SealedColumns("submission", (SealedColumn(submissions, "claim", paths=CLAIM_PHI),
                                   SealedColumn(interchanges, "content", kind="text"),
                                   SealedColumn(acknowledgment_files, "content", kind="text")))
