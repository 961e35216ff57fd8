"""From a payer's 271 to a decision on the claim (pure): pass it on, or hold it for the front desk
(coverage inactive, member not found) or for authorizations (prior auth required and missing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit, EligibilityResult

from rcm_eligibility.domain.prior_auth import AuthRuleTable, auth_requirements, missing_authorizations
from rcm_x12.eligibility_271 import AmountBasis, CoverageSummary
from rcm_x12.reading import REJECTED_INTERCHANGE, STRAY_TEXT, WARNING, ReadingIssue

# Procedure -> 271 service type (EB03) whose authorization indicator applies. Radiology -> 4
# (diagnostic X-ray); everything else -> 30 (health benefit plan coverage).
DEFAULT_SERVICE_TYPES = {"7*": "4"}
NOT_FOUND_CODES = {"64", "65", "67", "68", "71", "72", "73", "75", "76", "77"}  # AAA03: patient/subscriber not found
SERVICE_TYPES_ASKED = ("30", "4", "98")


@dataclass(frozen=True)
class CoverageSnapshot:
    """What the pipeline keeps of a 271 (cacheable, JSON-serialisable, no patient identity)."""

    active: bool | None
    rejections: list[dict[str, str | None]] = field(default_factory=list)  # code, meaning, follow_up
    plan: str | None = None
    group_number: str | None = None
    deductible_remaining: str | None = None
    copay: str | None = None
    coinsurance_rate: str | None = None
    auth_required_service_types: list[str] = field(default_factory=list)
    coverage_start: str | None = None  # ISO dates of the coverage period the 271 reported
    coverage_end: str | None = None
    # what the 271 reader read around or refused in the interchange this answer came from (and the file's
    # refused interchanges, stray text): rcm_x12 ReadingIssue.as_json, never element values
    reading_issues: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "CoverageSnapshot":
        return cls(**data)


UNREADABLE_271 = "unreadable_271"


def snapshot_of(summaries: list[CoverageSummary], issues: Sequence[ReadingIssue] = (),
                in_answers: frozenset[str] = frozenset()) -> CoverageSnapshot:
    """The first summary's answer, with the reading issues about it: its interchange's envelope errors and
    warnings, except the warnings read in another patient's answer of the batch (`in_answers`: every warning read
    inside an answer of the file), and those about the whole file (all of them when there is no summary: they may
    say why, e.g. an interchange refused as 4010)."""
    if not summaries:
        return CoverageSnapshot(active=None, rejections=[{"code": "none", "meaning": "the 271 had no coverage loop",
                                                          "follow_up": None}],
                                reading_issues=[i.as_json() for i in issues])
    s = summaries[0]
    deductible = s.deductible_amount(basis=AmountBasis.REMAINING)
    copay = next((c for c in (s.copay_amount(st) for st in ("98", "30")) if c is not None), None)
    return CoverageSnapshot(
        active=s.active,
        rejections=[{"code": r.code, "meaning": r.meaning, "follow_up": r.follow_up_action} for r in s.rejections],
        plan=s.plan_description, group_number=s.group_number,
        deductible_remaining=str(deductible) if deductible is not None else None,
        copay=str(copay) if copay is not None else None,
        coinsurance_rate=str(s.coinsurance_rate()) if s.coinsurance_rate() is not None else None,
        auth_required_service_types=[st for st in SERVICE_TYPES_ASKED if s.authorization_required(st)],
        coverage_start=s.coverage_period.start.isoformat() if s.coverage_period and s.coverage_period.start else None,
        coverage_end=s.coverage_period.end.isoformat() if s.coverage_period and s.coverage_period.end else None,
        reading_issues=[i.as_json() for i in issues if _about(i, s, in_answers)],
    )


_FILE_ISSUES = frozenset({REJECTED_INTERCHANGE, STRAY_TEXT})  # about the file, whichever interchange answered


def _about(issue: ReadingIssue, summary: CoverageSummary, in_answers: frozenset[str]) -> bool:
    if issue.kind in _FILE_ISSUES:
        return True
    if issue.interchange != summary.interchange:
        return False
    # a warning read inside an answer goes with that answer only; one about the interchange (a set of another
    # kind, ignored) with every answer of it
    return issue.kind != WARNING or issue.reason in summary.warnings or issue.reason not in in_answers


def unreadable_snapshot(reason: str) -> CoverageSnapshot:
    """The answer when the payer's 271 cannot be read at all (not X12, no 271, nothing of 5010): held for the
    front desk with the reason, like a payer's refusal, rather than failing the claims it should answer."""
    return CoverageSnapshot(active=None, rejections=[{
        "code": UNREADABLE_271, "meaning": f"the payer's 271 response could not be read ({reason})",
        "follow_up": "ask the payer or clearinghouse for a 5010 (005010X279A1) response, or verify coverage by phone"}])


def with_coverage_period(claim: Claim, snapshot: CoverageSnapshot | None) -> Claim:
    """The claim with the coverage period the payer reported, for the scrubber's coverage-dates edit."""
    if claim.coverage is None or snapshot is None or not (snapshot.coverage_start or snapshot.coverage_end):
        return claim
    return claim.model_copy(update={"coverage": claim.coverage.model_copy(update={
        "effective_from": date.fromisoformat(snapshot.coverage_start) if snapshot.coverage_start else None,
        "effective_to": date.fromisoformat(snapshot.coverage_end) if snapshot.coverage_end else None})})


@dataclass(frozen=True)
class Decision:
    result: EligibilityResult
    hold_reason: str | None = None
    work_queue: str | None = None
    edits: list[Edit] = field(default_factory=list)


def decide(claim: Claim, snapshot: CoverageSnapshot | None, *, source: str, now: datetime,
           auth_rules: AuthRuleTable, service_types: dict[str, str] | None = None) -> Decision:
    cov = claim.coverage
    if cov is None:
        return Decision(EligibilityResult(status="unknown", checked_at=now, reason="no coverage on file (self-pay)",
                                          source="none"))
    if snapshot is None:
        # No inquiry could be built (invalid provider, subscriber or payer data): not held here, since the
        # scrubber's edits name what to fix; the claim goes on with coverage unverified.
        return Decision(EligibilityResult(status="unknown", checked_at=now, payer_id=cov.payer_id, source="none",
                                          reason="eligibility not verified: the 270 inquiry could not be built "
                                                 "(check the provider NPI, the payer id and the subscriber's data)"))
    base = dict(checked_at=now, payer_id=cov.payer_id, source=source, plan_name=snapshot.plan or cov.payer_name,
                group_number=snapshot.group_number,
                deductible_remaining=Decimal(snapshot.deductible_remaining) if snapshot.deductible_remaining else None,
                copay=Decimal(snapshot.copay) if snapshot.copay else None,
                coinsurance_rate=Decimal(snapshot.coinsurance_rate) if snapshot.coinsurance_rate else None)
    if snapshot.rejections:
        r = snapshot.rejections[0]
        not_found = r["code"] in NOT_FOUND_CODES
        # an answer that could not be read holds the claim as a refusal does (the contract's payer_rejected),
        # said as what it is
        said = "eligibility not verified" if r["code"] == UNREADABLE_271 else "payer rejected the eligibility inquiry"
        message = (f"{said}: {r['meaning']}"
                   + (f" ({r['follow_up']})" if r.get("follow_up") else "")
                   + ("; verify the member id and the patient's name and date of birth with the card" if not_found else ""))
        return Decision(EligibilityResult(status="unknown", reason=message, **base),
                        "member_not_found" if not_found else "payer_rejected", "front-desk",
                        [Edit(code="ELG010", severity="error", field="coverage.member_id" if not_found else "coverage",
                              message=message)])
    if snapshot.active is False:
        message = "coverage is not active on the date of service: update the patient's coverage or bill the patient"
        return Decision(EligibilityResult(status="inactive", reason=message, **base), "coverage_inactive", "front-desk",
                        [Edit(code="ELG011", severity="error", field="coverage", message=message)])
    types = service_types or DEFAULT_SERVICE_TYPES
    requirements = auth_requirements(claim, auth_rules, payer_says_auth_required=set(snapshot.auth_required_service_types),
                                     service_types=types)
    missing = missing_authorizations(claim, requirements, claim.prior_authorization)
    result = EligibilityResult(status="active" if snapshot.active else "unknown",
                               authorization_required=bool(requirements), **base)
    if missing:
        return Decision(result, "authorization_required", "authorizations", missing)
    return Decision(result)
