"""scrubber schema: scrub result per claim; decision=review is the manual review queue."""

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import ARRAY, Column, DateTime, Index, Numeric, PrimaryKeyConstraint, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from rcm_runtime.phi import CLAIM_PHI, SealedColumn, SealedColumns, under

_registry = registry()
metadata = _registry.metadata


class Base(SQLModel, registry=_registry):
    pass


def _now_column() -> Column:
    return Column(DateTime(timezone=True), nullable=False, server_default=func.now())


class ScrubbedClaim(Base, table=True):
    """A claim's latest scrub. decision: clean (sent on to submission), review (waits in the manual
    review queue), held (parked by a person until released)."""

    __tablename__ = "scrubbed_claims"
    # keyed by (tenant, claim): the claim id comes from coding's event (migration 0004)
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "claim_id", name="scrubbed_claims_pkey"),)

    claim_id: uuid.UUID = Field(primary_key=True)
    tenant_id: str = Field(primary_key=True, index=True)
    decision: str = Field(index=True)
    edits: list = Field(sa_column=Column(JSONB, nullable=False))
    claim: dict = Field(sa_column=Column(JSONB, nullable=False))
    scrubbed_at: datetime = Field(sa_column=_now_column())
    payer_id: str | None = Field(default=None, index=True)
    edit_codes: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String), nullable=False,
                                                                         server_default="{}"))
    # where the claim came back from: scrub (pre-submission edits), build/validation (the 837P could not be
    # made valid), 999 / 277CA (the clearinghouse rejected it)
    stage: str = Field(default="scrub", sa_column_kwargs={"server_default": "scrub"})
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    rule_sets: list | None = Field(default=None, sa_column=Column(JSONB))  # which rule-set versions applied
    # the denials request (ClaimResubmissionRequested.request_id) this claim answers: a corrected claim or a
    # rebill; it travels with the claim to submission (migration 0010)
    resubmission_id: uuid.UUID | None = None


class ReviewAudit(Base, table=True):
    """Every review-queue action: who, when, what the claim and its edits were before and after."""

    __tablename__ = "review_audit"

    id: int | None = Field(default=None, primary_key=True)
    claim_id: uuid.UUID = Field(index=True)
    tenant_id: str
    actor: str
    action: str  # corrected | rescrubbed | held | released | returned
    before: dict | None = Field(default=None, sa_column=Column(JSONB))
    after: dict | None = Field(default=None, sa_column=Column(JSONB))
    note: str | None = None
    at: datetime = Field(sa_column=_now_column())


class RuleSetVersion(Base, table=True):
    """A versioned rule-set document (rcm_scrubber.domain.rule_sets): payer_id '*' = the tenant default."""

    __tablename__ = "rule_sets"

    tenant_id: str = Field(primary_key=True)
    payer_id: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    effective_from: date
    document: dict = Field(sa_column=Column(JSONB, nullable=False))
    created_by: str
    created_at: datetime = Field(sa_column=_now_column())


class ClaimFingerprint(Base, table=True):
    """Claims sent on, by fingerprint (patient, payer, dates and codes): duplicate detection (SCR034)."""

    __tablename__ = "claim_fingerprints"

    tenant_id: str = Field(primary_key=True)
    fingerprint: str = Field(primary_key=True)
    claim_id: uuid.UUID


class RuleProposal(Base, table=True):
    """A custom rule a denial pattern suggests (denials' DenialRuleRecommended), waiting for a person: approved, it
    joins the tenant's rule set for the payer (a new version); dismissed, it is kept with who dismissed it."""

    __tablename__ = "rule_proposals"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "proposal_id", name="rule_proposals_pkey"),)

    proposal_id: uuid.UUID = Field(primary_key=True)  # the recommendation's id: a redelivery adds nothing
    tenant_id: str = Field(primary_key=True)
    payer_id: str
    procedure_code: str
    carc: str
    count: int
    threshold: int
    window_start: date
    window_end: date
    denied_amount: Decimal = Field(sa_column=Column(Numeric(12, 2), nullable=False))
    rule: dict = Field(sa_column=Column(JSONB, nullable=False))  # the custom rule as it would be added
    status: str = Field(default="proposed", index=True)  # proposed | approved | dismissed
    decided_by: str | None = None
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    rule_set_version: int | None = None  # the payer's rule-set version the approval created
    note: str | None = None
    created_at: datetime = Field(sa_column=_now_column())


class Resubmission(Base, table=True):
    """A request from denial work to send a claim again (a corrected claim, a rebill), acted on once: what became
    of it (clean: sent on; review: waits in the review queue; refused: the reason). Ids and codes only."""

    __tablename__ = "resubmissions"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "request_id", name="resubmissions_pkey"),
                      Index("ix_resubmissions_claim", "tenant_id", "claim_id"))

    tenant_id: str = Field(primary_key=True)
    request_id: uuid.UUID = Field(primary_key=True)  # a redelivered request finds its row and does nothing
    denial_id: uuid.UUID
    claim_id: uuid.UUID  # the denied claim
    kind: str  # corrected | rebill
    resubmitted_claim_id: uuid.UUID | None = None  # the claim that went (the rebill's is new)
    outcome: str  # clean | review | refused
    reason: str | None = None
    received_at: datetime = Field(sa_column=_now_column())


scrubbed_claims = ScrubbedClaim.__table__
resubmissions = Resubmission.__table__
review_audit = ReviewAudit.__table__
rule_sets = RuleSetVersion.__table__
claim_fingerprints = ClaimFingerprint.__table__
rule_proposals = RuleProposal.__table__

# PHI at rest (rcm_runtime.phi): the patient and coverage parts of each claim and of the claims in audit snapshots,
# sealed. Fingerprints are stored as blind indexes (FINGERPRINT_FIELD): a plain digest of a name and birth date is
# guessable.
PHI = SealedColumns("scrubber", (SealedColumn(scrubbed_claims, "claim", paths=CLAIM_PHI),
                                 SealedColumn(review_audit, "before", paths=under("claim", CLAIM_PHI)),
                                 SealedColumn(review_audit, "after", paths=under("claim", CLAIM_PHI))))
FINGERPRINT_FIELD = "scrubber.claim_fingerprints.fingerprint"
