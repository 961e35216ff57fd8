"""denials tables of the trends (migration 0011): the facts of every posted payment (the denominator of a denial
rate), the denied lines (procedure, CARC) denial patterns are found in, the rule recommendations made, and each
tenant's pattern threshold. Codes, ids and amounts only: no PHI."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Column, Index, Numeric, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from rcm_denials.db import Base, _now_column


def _money() -> Column:
    return Column(Numeric(12, 2), nullable=False)


class PaymentFact(Base, table=True):
    """One posted payment (paid, partly paid or denied) of a tenant: what was billed and denied, by whom."""

    __tablename__ = "payment_facts"

    tenant_id: str = Field(primary_key=True)
    remittance_id: uuid.UUID = Field(primary_key=True)
    claim_id: uuid.UUID
    payer_id: str
    provider_npi: str | None = None  # the 835's payee (billing provider); None when the remittance names none
    remittance_date: date
    billed_amount: Decimal = Field(sa_column=_money())
    denied_amount: Decimal = Field(sa_column=_money())
    denied: bool
    root_cause: str | None = None
    reason_codes: list = Field(sa_column=Column(JSONB, nullable=False))
    carc_amounts: dict = Field(sa_column=Column(JSONB, nullable=False))  # GROUP-CARC -> denied amount
    status: str = "posted"  # posted | voided (the payer reversed it: counted nowhere)
    recorded_at: datetime = Field(sa_column=_now_column())
    # 0012: what an appeal letter states (CLP04 and CLP07)
    paid_amount: Decimal | None = Field(default=None, sa_column=Column(Numeric(12, 2), nullable=True))
    payer_claim_number: str | None = None


class DeniedLine(Base, table=True):
    """A denied service line: (payer, procedure, CARC) on a remittance date: what a denial pattern counts."""

    __tablename__ = "denied_lines"
    __table_args__ = (Index("ix_denied_lines_pattern", "tenant_id", "payer_id", "procedure_code", "carc",
                            "remittance_date"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str
    remittance_id: uuid.UUID
    claim_id: uuid.UUID
    payer_id: str
    procedure_code: str
    carc: str  # GROUP-CARC
    amount: Decimal = Field(sa_column=_money())
    remittance_date: date


class RuleRecommendation(Base, table=True):
    """A denial pattern recommended as a scrubber rule (DenialRuleRecommended), once per pattern and window."""

    __tablename__ = "rule_recommendations"
    __table_args__ = (UniqueConstraint("tenant_id", "payer_id", "procedure_code", "carc", "window_end",
                                       name="uq_rule_recommendations_pattern_window"),)

    recommendation_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(index=True)
    payer_id: str
    procedure_code: str
    carc: str
    count: int
    threshold: int
    window_start: date
    window_end: date
    denied_amount: Decimal = Field(sa_column=_money())
    created_at: datetime = Field(sa_column=_now_column())


class TrendSettings(Base, table=True):
    """A tenant's denial-pattern threshold (N: recommended when more than N claims in 30 days)."""

    __tablename__ = "trend_settings"

    tenant_id: str = Field(primary_key=True)
    rule_threshold: int
    updated_by: str
    updated_at: datetime = Field(sa_column=_now_column())


payment_facts = PaymentFact.__table__
denied_lines = DeniedLine.__table__
rule_recommendations = RuleRecommendation.__table__
trend_settings = TrendSettings.__table__
