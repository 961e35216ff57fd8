"""patient_billing schema: one patient balance per (tenant, claim), and every remittance event applied to it."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, Index, Numeric, PrimaryKeyConstraint, String, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from decimal import Decimal
from datetime import date
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PatientBalance(Base, table=True):
    __tablename__ = "patient_balances"
    # one balance per claim of a tenant (migration 0004; before, one per remittance): later payments and
    # reversals replace its amount due. A claim id comes from events, so it is unique per tenant only.
    __table_args__ = (UniqueConstraint("tenant_id", "claim_id", name="uq_patient_balances_tenant_claim"),
                      Index("ix_patient_balances_tenant_account", "tenant_id", "patient_account"))

    statement_id: uuid.UUID = Field(primary_key=True)
    remittance_id: uuid.UUID | None = None  # the remittance that opened it (None: a self-pay encounter did, 0012)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str = Field(index=True)
    amount_due: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    due_date: date | None = None  # None while awaiting_insurance (not billed yet; migration 0005)
    # open | closed (amount due 0; reopens if a correction leaves the patient a share) | awaiting_insurance (the
    # claim went on to the next payer for the patient's share: recorded, not billed)
    status: str = "open"
    opened_at: datetime = Field(sa_column=_now_column())
    last_remittance_id: uuid.UUID | None = None  # the remittance that last changed it
    updated_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # the patient's account (the practice's guarantor account; a patient token's `rcm_patient` claim names it),
    # linked by billing staff (migration 0008): what the patient-facing routes select on
    patient_account: str | None = Field(default=None, max_length=64)
    account_linked_by: str | None = None  # the staff token's subject
    # what opened it (migration 0012): `remittance` (the payer left the patient a share) or `self_pay` (a self-pay
    # encounter from charges: the full charge, less the tenant's self-pay discount, with no payer in between)
    origin: str = Field(default="remittance", sa_column=Column(String, nullable=False, server_default="remittance"))
    # the itemized statement of a self-pay balance (rcm_patient_billing.domain.self_pay.StatementLine.as_dict):
    # codes, units, dates of service and amounts only
    lines: list | None = Field(default=None, sa_column=Column(JSONB))


class PatientPayment(Base, table=True):
    """A patient's own payment toward one of their balances (migration 0008), once per (tenant, account, reference):
    a payment sent again with the same reference is the same payment. The amount due stays the ledger's figure
    (replaced by every remittance); what is left to pay is that less the patient's payments."""

    __tablename__ = "patient_payments"
    __table_args__ = (UniqueConstraint("tenant_id", "patient_account", "reference",
                                       name="uq_patient_payments_reference"),)

    payment_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    patient_account: str
    statement_id: uuid.UUID = Field(index=True)
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    reference: str  # the client's idempotency key
    paid_by: str  # the token's subject
    paid_at: datetime = Field(sa_column=_now_column())


class BalancePosting(Base, table=True):
    """Every PaymentPosted / PaymentReversed applied, once per remittance of a tenant: a remittance seen again
    (a repost as a new event) changes nothing, and a payment whose reversal came first is known as reversed."""

    __tablename__ = "balance_postings"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "remittance_id", name="balance_postings_pkey"),)

    tenant_id: str = Field(primary_key=True)
    remittance_id: uuid.UUID = Field(primary_key=True)
    claim_id: uuid.UUID
    kind: str  # payment | reversal
    reversed_remittance_id: uuid.UUID | None = Field(default=None, index=True)
    patient_responsibility: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    patient_responsibility_total: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    statement_id: uuid.UUID | None = None  # the balance it applied to (None: the claim has none)
    effect: str  # opened | changed | unchanged | none | superseded | migrated
    amount_due_after: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2)))
    applied_at: datetime = Field(sa_column=_now_column())


patient_balances = PatientBalance.__table__
class PaymentPlan(Base, table=True):
    """A patient account's payment plan (migration 0009), set by billing staff: one per account, replaced when
    changed. The schedule (what is due when) is computed from it and what the account has left to pay."""

    __tablename__ = "payment_plans"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "patient_account", name="payment_plans_pkey"),)

    tenant_id: str = Field(primary_key=True)
    patient_account: str = Field(primary_key=True, max_length=64)
    installment: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    day_of_month: int  # 1..28: every month has it
    starts_on: date
    set_by: str  # the staff token's subject
    set_at: datetime = Field(sa_column=_now_column())


class SelfPaySettings(Base, table=True):
    """A tenant's self-pay discount (migration 0012): the percentage taken off every line of a self-pay statement
    opened from now on (statements already opened keep theirs). No row: no discount."""

    __tablename__ = "self_pay_settings"

    tenant_id: str = Field(primary_key=True)
    discount_percent: Decimal = Field(sa_column=Column(Numeric(5, 2), nullable=False))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


balance_postings = BalancePosting.__table__
self_pay_settings = SelfPaySettings.__table__
payment_plans = PaymentPlan.__table__
patient_payments = PatientPayment.__table__
