"""charges schema: encounters (one per claim), their versions and audit trail, the chargemaster."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Numeric, UniqueConstraint, func
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
    status: str = "captured"  # captured | self_pay (to patient billing) | open (charge-lag window) | held (completeness review)
    submission: dict | None = Field(default=None, sa_column=Column(JSONB))  # what the EHR sent (latest version)
    missing: list | None = Field(default=None, sa_column=Column(JSONB))  # completeness findings while held
    claim: dict | None = Field(default=None, sa_column=Column(JSONB))  # the claim once released
    received_at: datetime = Field(sa_column=_now_column())
    released_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    release_after: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))  # charge lag


class EncounterAudit(Base, table=True):
    """Every change to an encounter after intake: who, when, what before, what after."""

    __tablename__ = "encounter_audit"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str
    actor: str
    action: str  # corrected_resend | fixed | late_charge | released
    version: int
    before: dict | None = Field(default=None, sa_column=Column(JSONB))
    after: dict | None = Field(default=None, sa_column=Column(JSONB))
    at: datetime = Field(sa_column=_now_column())


class ChargemasterRow(Base, table=True):
    __tablename__ = "chargemaster_items"
    __table_args__ = (UniqueConstraint("tenant_id", "code", "modifier", "effective_from", name="uq_chargemaster_item"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    code: str
    modifier: str = ""
    price: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    effective_from: date
    effective_to: date | None = None
    imported_at: datetime = Field(sa_column=_now_column())


class TenantSettings(Base, table=True):
    """Per-tenant intake settings. default_billing_provider: applied to encounters that name no billing
    provider with an NPI (Synthea organisations carry none; many EHR feeds bill under one group NPI)."""

    __tablename__ = "tenant_settings"

    tenant_id: str = Field(primary_key=True)
    default_billing_provider: dict | None = Field(default=None, sa_column=Column(JSONB))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class ProviderProfile(Base, table=True):
    """What the billing company enrolled for a provider (tax id, address with ZIP+4, taxonomy): EHRs
    usually send only the NPI, the 837P needs the rest. Intake fills fields the encounter left empty."""

    __tablename__ = "provider_profiles"

    tenant_id: str = Field(primary_key=True)
    npi: str = Field(primary_key=True)
    provider: dict = Field(sa_column=Column(JSONB, nullable=False))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class PayerListing(Base, table=True):
    """A payer the tenant bills (its id at the clearinghouse) and the names and ids EHRs send for it."""

    __tablename__ = "payers"

    tenant_id: str = Field(primary_key=True)
    payer_id: str = Field(primary_key=True)
    name: str
    aliases: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]"))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class MllpMessage(Base, table=True):
    """Each HL7 v2 message taken over MLLP, by its control id (MSH-10) per tenant and sender (MSH-3, MSH-4), with
    the ACK it got: a resend gets the same ACK and is not applied again. Written in the transaction of what the
    message did, so the ACK goes out only once that committed. Holds no PHI (our ACK texts, ids, a digest)."""

    __tablename__ = "mllp_messages"

    tenant_id: str = Field(primary_key=True)
    sending_application: str = Field(primary_key=True)
    sending_facility: str = Field(primary_key=True)
    control_id: str = Field(primary_key=True)
    message_digest: str  # SHA-256 of the message: a different message reusing the control id is refused
    message_type: str  # e.g. DFT^P03, ADT^A04
    ack_code: str  # AA | AE | AR
    ack: str  # the ACK's text, sent again as it is to a resend
    received_at: datetime = Field(sa_column=_now_column())


encounters = EncounterRecord.__table__
mllp_messages = MllpMessage.__table__
payers = PayerListing.__table__
provider_profiles = ProviderProfile.__table__
tenant_settings = TenantSettings.__table__
encounter_audit = EncounterAudit.__table__
chargemaster_items = ChargemasterRow.__table__

# PHI at rest (rcm_runtime.phi): the patient and coverage parts of each encounter as sent, of its claim and of the
# audited versions, sealed; the provider profiles and chargemaster hold none.
PHI = SealedColumns("charges", tuple(SealedColumn(table, column, paths=CLAIM_PHI) for table, column in (
    (encounters, "submission"), (encounters, "claim"), (encounter_audit, "before"), (encounter_audit, "after"))))
