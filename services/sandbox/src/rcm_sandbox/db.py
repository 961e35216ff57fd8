"""sandbox schema: claims the simulated payer received, their adjudication and remittance."""

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Index, Numeric, Sequence, func, text
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


class PayerClaim(Base, table=True):
    __tablename__ = "payer_claims"
    # the remitter looks for the few claims with something left to do on every cycle
    __table_args__ = (
        Index("ix_payer_claims_reprocess_at", "reprocess_at", postgresql_where=text("reprocess_at IS NOT NULL")),
        Index("ix_payer_claims_recoupment_due", "tenant_id", postgresql_where=text("recoupment_due IS NOT NULL")),
    )

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    payer_claim_control_number: str = Field(unique=True)
    interchange_control_number: str
    # received -> remitted (-> reprocessed: reversed and corrected); a 7 or 8 received again -> replaced / voided
    # (rcm_sandbox.domain.replacement)
    status: str = Field(index=True)
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))  # the claim as last received
    # the payment standing now (every remitted claim's), kept so a later reprocessing or replacement reverses
    # exactly what was paid; none once voided
    adjudication: dict | None = Field(default=None, sa_column=Column(JSONB))
    # the claim that payment was made for: a replacement overwrites `claim`, and the reversal must echo the
    # original's lines and frequency code
    remitted_claim: dict | None = Field(default=None, sa_column=Column(JSONB))
    received_at: datetime = Field(sa_column=_now_column())
    remitted_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # when the payer finds it paid the claim wrongly (a member marked reprocess): the reversal and correction
    # go out in the first remit cycle at or after it
    reprocess_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # an overpayment the correction left with the provider, recovered (PLB WO) from a later check
    recoupment_due: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    recouped_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))


class OutboundFile(Base, table=True):
    """Responses (999, 277CA) waiting for the submitter to pick them up over HTTP."""

    __tablename__ = "outbound_files"

    id: int | None = Field(default=None, primary_key=True)
    submitter_id: str = Field(index=True)
    name: str
    content: str
    created_at: datetime = Field(sa_column=_now_column())


class ReceivedInterchange(Base, table=True):
    """Each 837 received (by name = the submitter's ISA13): a file sent twice is answered once."""

    __tablename__ = "received_interchanges"

    submitter_id: str = Field(primary_key=True)
    name: str = Field(primary_key=True)
    accepted: bool
    claim_count: int
    received_at: datetime = Field(sa_column=_now_column())


# Control numbers of what the sandbox sends (999, 277CA, 835 interchanges).
sandbox_control_seq = Sequence("sandbox_control_seq", start=1, maxvalue=999_999_999, cycle=True, metadata=metadata)

payer_claims = PayerClaim.__table__
outbound_files = OutboundFile.__table__
received_interchanges = ReceivedInterchange.__table__

# PHI at rest (rcm_runtime.phi): the payer's copy of each claim (and of the claim its standing payment was made for)
# has its patient and coverages sealed (what the sandbox looks up in it stays readable: frequency_code,
# billing_provider.npi, source_encounter_id); the responses
# waiting in the mailbox (999, 277CA naming patients, 835s) sealed whole, bound to their submitter (no tenant column:
# the mailbox is the clearinghouse's, one per submitter).
PHI = SealedColumns("sandbox", (SealedColumn(payer_claims, "claim", paths=CLAIM_PHI),
                                SealedColumn(payer_claims, "remitted_claim", paths=CLAIM_PHI),
                                SealedColumn(outbound_files, "content", kind="text", tenant_column="submitter_id")))
