"""remittance schema: every file received (verbatim, idempotent on its content), each claim payment posted
once per (tenant, payment key: rcm_remittance.domain.identity), the claim ledger's immutable entries, the
unmatched queue, payer aliases and the audit of what operators did."""

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, Numeric, Text, UniqueConstraint, func
from decimal import Decimal
from datetime import date
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from rcm_runtime.phi import SealedColumn, SealedColumns

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class PostedPayment(Base, table=True):
    """One claim payment (CLP) posted: once per (tenant, payment_key). outcome: paid | partially_paid | denied |
    reversed (CLP02 22: `reverses` names the original, whose `reversed_by` names it) | not_our_claim (23)."""

    __tablename__ = "posted_payments"
    # the payer's claim number: a PLB recoupment quotes it (migration 0012)
    __table_args__ = (UniqueConstraint("tenant_id", "payment_key", name="uq_posted_payment_key"),
                      Index("ix_posted_payments_tenant_pccn", "tenant_id", "payer_claim_control_number"))

    remittance_id: uuid.UUID = Field(primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    payer_claim_control_number: str
    trace_number: str
    payment_date: date
    total_charge: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    allowed_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    paid_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    patient_responsibility: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    outcome: str
    adjustments: list = Field(sa_column=Column(JSONB, nullable=False))
    remark_codes: list = Field(sa_column=Column(JSONB, nullable=False))
    posted_at: datetime = Field(sa_column=_now_column())
    payment_key: str
    file_id: uuid.UUID | None = Field(default=None, index=True)
    status_code: str | None = None  # CLP02
    payer_key: str | None = None  # the normalised payer (identity.payer_key)
    patient_control_number: str | None = None
    reverses: uuid.UUID | None = None
    reversed_by: uuid.UUID | None = None


posted_payments = PostedPayment.__table__


class ClaimRef(Base, table=True):
    """CLP01 -> claim: what submission published when it sent the claim (claim-submitted). The tenant's own
    submitted claims: nothing is posted to a claim that is not here for the caller's tenant."""

    __tablename__ = "claim_refs"
    __table_args__ = (Index("ix_claim_refs_tenant_claim", "tenant_id", "claim_id"),)

    tenant_id: str = Field(primary_key=True)
    patient_control_number: str = Field(primary_key=True)
    claim_id: uuid.UUID  # a secondary claim's CLP01 names its primary claim: both payers post to one ledger
    payer_id: str
    # migration 0007, coordination of benefits: P/S/T as sent (None: before 1.2), and the payer the claim goes on
    # to when this one leaves the patient a share (patient billing waits for it)
    payer_responsibility: str | None = None
    next_payer_id: str | None = None
    place_of_service: str | None = None  # CLM05-1 as sent (migration 0008); the contract prices by it


class UnmatchedPayment(Base, table=True):
    """A claim payment in an 835 that names no claim we know (yet): kept whole, with the reason. It is
    posted when the claim's claim-submitted event arrives (the 835 can overtake it); otherwise a person
    works it (status unmatched)."""

    __tablename__ = "unmatched_payments"
    __table_args__ = (UniqueConstraint("tenant_id", "payment_key", name="uq_unmatched_payment_key"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str | None = None
    trace_number: str | None = None
    patient_control_number: str
    payer_claim_control_number: str | None = None
    paid_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    reason: str
    # unmatched -> posted (its claim was submitted) | matched (an operator named the claim) | returned;
    # held (a status the 835 guide does not define, or a reversal of nothing posted) -> returned
    status: str = "unmatched"
    # {"check": the check's context, "claim": the claim payment (rcm_remittance.domain.remit.claim_to_json)}
    advice: dict = Field(sa_column=Column(JSONB, nullable=False))
    received_at: datetime = Field(sa_column=_now_column())
    payment_key: str | None = None
    file_id: uuid.UUID | None = None
    claim_id: uuid.UUID | None = None  # once posted
    resolved_by: str | None = None
    resolved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))


class RemittanceFile(Base, table=True):
    """Every remittance received, verbatim, once per (tenant, SHA-256 of its content). status: posted |
    partially_posted (some claim payments unmatched or held) | held (does not balance; nothing posted until
    released) | rejected (unreadable, truncated, not 5010; or rejected by an operator)."""

    __tablename__ = "remittance_files"
    __table_args__ = (UniqueConstraint("tenant_id", "sha256", name="uq_remittance_file_content"),
                      Index("ix_remittance_files_tenant_received", "tenant_id", "received_at"))

    id: uuid.UUID = Field(primary_key=True)
    tenant_id: str
    sha256: str
    source: str  # x12 | json
    status: str
    reason: str | None = None
    payer_id: str | None = None
    trace_numbers: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    payment_date: date | None = None
    findings: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    totals: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    outcomes: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = Field(sa_column=_now_column())
    # who handed the file in: the caller of POST /v1/remittances... (its token's subject, or apikey:<digest prefix>),
    # "clearinghouse:<name>" (an 835 submission polled from a clearinghouse connection, RemittanceReceived); "api"
    # for files posted before authentication named callers; null for files received before migration 0009
    received_by: str | None = None
    reviewed_by: str | None = None
    review_reason: str | None = None


class LedgerEntry(Base, table=True):
    """Immutable: a claim's ledger is the sum of its entries (rcm_remittance.domain.ledger); a reversal adds
    the negated entries. PLB entries (kind provider_adjustment) are against the provider and the check:
    claim_id names the claim only when the PLB reference names one of the tenant's claims."""

    __tablename__ = "ledger_entries"
    __table_args__ = (Index("ix_ledger_entries_tenant_claim", "tenant_id", "claim_id"),
                      UniqueConstraint("tenant_id", "entry_key", name="uq_ledger_entry_key"))

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    tenant_id: str
    claim_id: uuid.UUID | None = None
    remittance_id: uuid.UUID | None = None  # the posted payment it belongs to
    file_id: uuid.UUID | None = None
    line_number: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    kind: str
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    procedure_code: str | None = None
    group_code: str | None = None
    reason_code: str | None = None
    remark_codes: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    trace_number: str | None = None
    provider_id: str | None = None
    reference: str | None = None
    note: str | None = None
    entry_key: str | None = None  # PLB entries: their identity (posted once, like a claim payment)
    created_at: datetime = Field(sa_column=_now_column())


class PayerAlias(Base, table=True):
    """A payer's N1*PR/REF*2U id -> the payer key (TRN03) learned from 835s naming both."""

    __tablename__ = "payer_aliases"

    tenant_id: str = Field(primary_key=True)
    alias: str = Field(primary_key=True)
    payer_key: str


class RemittanceAudit(Base, table=True):
    """Who did what to a file or an unmatched payment, and why."""

    __tablename__ = "remittance_audit"

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(index=True)
    subject: str  # file | unmatched
    subject_id: str
    action: str  # release | reject | match | return
    actor: str
    reason: str
    at: datetime = Field(sa_column=_now_column())


claim_refs = ClaimRef.__table__
unmatched_payments = UnmatchedPayment.__table__
remittance_files = RemittanceFile.__table__
ledger_entries = LedgerEntry.__table__
payer_aliases = PayerAlias.__table__
remittance_audit = RemittanceAudit.__table__


# ---------------------------------------------------------------- deposits (ERA-to-deposit reassociation)


class DepositRow(Base, table=True):
    """A bank deposit read from a BAI2 file or a CSV export (rcm_remittance.domain.deposits), stored once per
    (tenant, deposit key): the same file uploaded again, or another file listing the same deposit, adds nothing. status: unmatched | matched |
    amount_mismatch, as the last reassociation found it; matched_file_ids names the remittance file(s)."""

    __tablename__ = "deposits"
    __table_args__ = (UniqueConstraint("tenant_id", "file_sha256", "line", name="uq_deposit_file_line"),
                      UniqueConstraint("tenant_id", "deposit_key", name="uq_deposit_key"),
                      Index("ix_deposits_tenant_status", "tenant_id", "status"),
                      Index("ix_deposits_matched_file_ids", "matched_file_ids", postgresql_using="gin",
                            postgresql_ops={"matched_file_ids": "jsonb_path_ops"}))

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    tenant_id: str
    file_sha256: str
    source: str  # bai2 | csv
    line: int = Field(sa_column=Column(Integer, nullable=False))
    deposit_key: str  # deposits.deposit_key: the same deposit in two overlapping bank files is stored once (0010)
    deposit_date: date
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    trace: str | None = None
    trace_key: str | None = None  # deposits.normalise_trace(trace)
    bank_reference: str | None = None
    customer_reference: str | None = None
    type_code: str | None = None
    status: str = "unmatched"
    matched_by: str | None = None  # trace | amount_and_date
    matched_file_ids: list = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    difference: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))
    received_at: datetime = Field(sa_column=_now_column())


class EraPaymentRow(Base, table=True):
    """The payments (checks/EFTs) of the remittance files, as reassociation needs them: TRN02, BPR02, BPR04,
    BPR16. Derived from remittance_files (read once per file through the same reader as posting)."""

    __tablename__ = "era_payments"

    tenant_id: str = Field(primary_key=True)
    file_id: uuid.UUID = Field(primary_key=True)
    check_index: int = Field(sa_column=Column(Integer, primary_key=True))
    trace: str
    trace_key: str | None = None
    amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    payment_date: date | None = None
    method: str | None = None
    payer_id: str | None = None


deposits = DepositRow.__table__
era_payments = EraPaymentRow.__table__


# ---------------------------------------------------------------- contracts and underpayments (revision 0006)


class PayerContract(Base, table=True):
    """A tenant's contract with one payer: its fee table (the CSV as the operator sent it, re-read when a
    file is posted), and/or a percentage of the Medicare physician fee schedule for one locality (MAC +
    locality number), and the tolerance beyond which a short payment is "paid incorrectly". Replaced whole by
    each PUT (remittance_audit keeps who and why, subject `contract`)."""

    __tablename__ = "payer_contracts"

    tenant_id: str = Field(primary_key=True)
    payer_id: str = Field(primary_key=True)
    fee_table: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fee_table_rows: int = Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))
    medicare_percent: Decimal | None = Field(default=None, sa_column=Column(Numeric(7, 3), nullable=True))
    medicare_mac: str | None = None
    medicare_locality: str | None = None
    tolerance_absolute: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))
    tolerance_percent: Decimal | None = Field(default=None, sa_column=Column(Numeric(7, 3), nullable=True))
    version: int = Field(default=1, sa_column=Column(Integer, nullable=False, server_default="1"))
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


class PaymentUnderpayment(Base, table=True):
    """The underpayment finding of one posted payment (posted_payments.remittance_id) "paid incorrectly":
    expected vs actual allowed per claim and per line (every line checked, flagged or not). Once per
    (tenant, remittance id): a payment is posted once, so is its finding."""

    __tablename__ = "payment_underpayments"
    __table_args__ = (UniqueConstraint("tenant_id", "remittance_id", name="uq_payment_underpayment"),
                      Index("ix_payment_underpayments_tenant_claim", "tenant_id", "claim_id"))

    id: int | None = Field(default=None, sa_column=Column(BigInteger, primary_key=True, autoincrement=True))
    tenant_id: str
    remittance_id: uuid.UUID
    claim_id: uuid.UUID
    file_id: uuid.UUID | None = None
    payer_id: str
    contract_version: int = Field(sa_column=Column(Integer, nullable=False))
    expected_allowed: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    actual_allowed: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    difference: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))  # actual - expected
    lines: list = Field(sa_column=Column(JSONB, nullable=False))
    found_at: datetime = Field(sa_column=_now_column())


payer_contracts = PayerContract.__table__
payment_underpayments = PaymentUnderpayment.__table__

# PHI at rest (rcm_runtime.phi): every remittance file kept verbatim names patients (835 NM1*QC, JSON advice), sealed
# whole. A queued claim payment's advice (unmatched_payments.advice) has its claim payment sealed (the patient's
# account, the payer's claim number, dates of service, procedures; `claims`: the whole RemittanceAdvice queued before
# revision 0004); the check's context (payer, trace, payment date) stays readable, and its key `check` is what tells a
# claim payment the waiting-payments pass can post (ADVICE_MARK) from an advice queued before 0004.
PHI = SealedColumns("remittance", (SealedColumn(remittance_files, "content", kind="text"),
                                   SealedColumn(unmatched_payments, "advice", paths=("claim", "claims"))))
ADVICE_MARK = "check"
