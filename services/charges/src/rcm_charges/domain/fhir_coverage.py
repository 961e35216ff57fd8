"""Which coverage pays for an encounter, chosen the way FHIR says (pure, no I/O).

In order, the first rule that decides wins:
1. the encounter's Claim: its `insurance` entry marked `focal`, else the one with the lowest `sequence`
   (the next entry by sequence is the secondary);
2. `Coverage.order` of the patient's Coverage resources: the lowest (1) is the primary, the next the secondary;
3. the one Coverage active (status and period) on the date of service.
Several candidates and no rule choosing one, or none active on the date of service: the encounter is held for
the front desk (an intake issue), never rejected. So is a chosen Coverage without a member id or without a
payer identifier: completeness review names what is missing.

Self-pay: the chosen Coverage's payor is the Patient or a RelatedPerson, or its type is the self-pay code
(CodeSystem coverage-selfpay `pay`); or the encounter has no coverage at all and a self-pay marker (a Claim
insurance naming "self-pay" or Synthea's NO_INSURANCE payer, or an extension ending `/self-pay` with
valueBoolean true on the Encounter or Claim).

Issues name the claim field a fix supplies (`coverage.member_id`, `coverage.payer_id`, `coverage`) and a
reason naming FHIR paths, never a value (member ids are PHI).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from rcm_charges.domain.fhir_index import EncounterScope, Entry, codings
from rcm_contracts.claim import Coverage

MAX_PAYER_NAME = 60
RELATIONSHIPS = frozenset({"self", "spouse", "child", "other"})
SELF_PAY_TYPE_CODES = frozenset({"pay", "SELFPAY"})
# payer names EHR exports use for "nobody": Synthea writes NO_INSURANCE in Claim.insurance.coverage.display
SELF_PAY_NAMES = frozenset({"NO_INSURANCE", "NO INSURANCE", "SELF PAY", "SELF-PAY", "SELFPAY", "SELF"})
SELF_PAY_EXTENSION_SUFFIX = "/self-pay"
INACTIVE_STATUSES = frozenset({"cancelled", "entered-in-error", "draft"})


@dataclass
class CoverageChoice:
    coverage: Coverage | None = None
    secondary: Coverage | None = None
    self_pay: bool = False
    issues: list[dict] = field(default_factory=list)

    def hold(self, field_name: str, reason: str) -> "CoverageChoice":
        self.issues.append({"field": field_name, "reason": reason})
        return self


def choose_coverage(scope: EncounterScope, patient: Entry | None, service_date: date | None) -> CoverageChoice:
    candidates = _patient_coverages(scope, patient)
    insurance = _claim_insurance(scope)
    if insurance:
        return _by_claim(scope, insurance)
    ordered = [c for c in candidates if c.resource.order is not None]
    if ordered:
        return _by_order(scope, ordered)
    if candidates:
        return _by_date(scope, candidates, service_date)
    if _has_self_pay_extension(scope):
        return CoverageChoice(self_pay=True)
    return CoverageChoice()  # completeness review asks for a payer (or a self-pay mark)


# ---------------------------------------------------------------- the three rules
def _by_claim(scope: EncounterScope, insurance: list[tuple[str, Any]]) -> CoverageChoice:
    focal = [(path, ins) for path, ins in insurance if ins.focal]
    chosen = sorted(focal or insurance, key=lambda pi: pi[1].sequence or 0)
    primary_path, primary = chosen[0]
    rest = sorted((pi for pi in insurance if pi[1] is not primary and (pi[1].sequence or 0) > (primary.sequence or 0)),
                  key=lambda pi: pi[1].sequence or 0)
    entry = scope.resolve(primary.coverage, "Coverage")
    if entry is None:
        return _unlisted(primary_path, primary.coverage)
    choice = _chosen(entry, scope)
    if not choice.self_pay and rest:
        second = scope.resolve(rest[0][1].coverage, "Coverage")
        choice.secondary = _secondary(second, scope) if second is not None else None
    return choice


def _by_order(scope: EncounterScope, ordered: list[Entry]) -> CoverageChoice:
    ordered = sorted(ordered, key=lambda e: e.resource.order)
    if len(ordered) > 1 and ordered[0].resource.order == ordered[1].resource.order:
        return CoverageChoice().hold("coverage", f"several Coverage resources share the lowest order "
                                                 f"({ordered[0].resource.order}): the front desk picks the primary")
    choice = _chosen(ordered[0], scope)
    if not choice.self_pay and len(ordered) > 1:
        choice.secondary = _secondary(ordered[1], scope)
    return choice


def _by_date(scope: EncounterScope, candidates: list[Entry], service_date: date | None) -> CoverageChoice:
    active = [c for c in candidates if _active_on(c.resource, service_date)]
    if len(active) == 1:
        return _chosen(active[0], scope)
    if not active:
        return CoverageChoice().hold("coverage", f"none of the patient's {len(candidates)} Coverage resource(s) is "
                                                 "active on the date of service (status, period)")
    return CoverageChoice().hold("coverage", f"{len(active)} Coverage resources are active on the date of service "
                                             "and neither Claim.insurance (focal, sequence) nor Coverage.order "
                                             "chooses the primary: the front desk picks one")


# ---------------------------------------------------------------- candidates
def _patient_coverages(scope: EncounterScope, patient: Entry | None) -> list[Entry]:
    """The patient's Coverage resources that can pay: not cancelled or entered in error; a beneficiary
    resolving to another Patient of the bundle excludes it."""
    found = []
    for entry in scope.of_type("Coverage"):
        cov = entry.resource
        if cov.status in INACTIVE_STATUSES:
            continue
        beneficiary = scope.resolve(cov.beneficiary, "Patient")
        if beneficiary is not None and patient is not None and beneficiary is not patient:
            continue
        found.append(entry)
    return found


def _claim_insurance(scope: EncounterScope) -> list[tuple[str, Any]]:
    """The encounter's Claim.insurance entries (path, element), from its first Claim that has any."""
    for claim in scope.of_type("Claim"):
        entries = [(f"{claim.path}.insurance[{i}]", ins) for i, ins in enumerate(claim.resource.insurance or [])]
        if entries:
            return entries
    return []


def _active_on(cov: Any, service_date: date | None) -> bool:
    if cov.status not in (None, "active"):
        return False
    if service_date is None or cov.period is None:
        return True
    start, end = _day(cov.period.start), _day(cov.period.end)
    return (start is None or start <= service_date) and (end is None or service_date <= end)


def _day(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None  # a partial date ('2024', kept as str) bounds nothing


# ---------------------------------------------------------------- one coverage
def _unlisted(path: str, reference: Any) -> CoverageChoice:
    """Claim.insurance names a coverage that is not in the bundle (Synthea: `coverage.display` only)."""
    name = (reference.display or "").strip() if reference is not None else ""
    if name.upper() in SELF_PAY_NAMES:
        return CoverageChoice(self_pay=True)
    identifier = reference.identifier.value if reference is not None and reference.identifier is not None else None
    if not name and not identifier:
        return CoverageChoice().hold("coverage.payer_id", f"{path}.coverage does not resolve to a Coverage in the "
                                                          "bundle and names no payer")
    return CoverageChoice().hold("coverage.member_id", f"{path}.coverage names a payer but no Coverage with the "
                                                       "member id (subscriberId) is in the bundle")


def _chosen(entry: Entry, scope: EncounterScope) -> CoverageChoice:
    if _is_self_pay(entry, scope):
        return CoverageChoice(self_pay=True)
    choice = CoverageChoice()
    choice.coverage = _coverage(entry, scope, choice)
    return choice


def _secondary(entry: Entry, scope: EncounterScope) -> Coverage | None:
    """The payer after the primary; an incomplete one is left off (the primary claim does not need it)."""
    if _is_self_pay(entry, scope):
        return None
    return _coverage(entry, scope, CoverageChoice())


def _is_self_pay(entry: Entry, scope: EncounterScope) -> bool:
    cov = entry.resource
    if any(c.code in SELF_PAY_TYPE_CODES for c in codings(cov.type)):
        return True
    for payor in cov.payor or []:
        target = (payor.reference or "").split("/_history/")[0]
        if payor.type in ("Patient", "RelatedPerson") or target.startswith(("Patient/", "RelatedPerson/")):
            return True
        resolved = scope.resolve(payor)
        if resolved is not None and resolved.resource_type in ("Patient", "RelatedPerson"):
            return True
    return False


def _coverage(entry: Entry, scope: EncounterScope, choice: CoverageChoice) -> Coverage | None:
    cov = entry.resource
    payer_id, payer_name = _payer(cov.payor[0] if cov.payor else None, scope)
    member_id = cov.subscriberId or (cov.identifier[0].value if cov.identifier else None)
    if payer_id is None and payer_name is None:
        choice.hold("coverage.payer_id", f"{entry.path}.payor[0] names no payer (identifier, display or a "
                                         "resolvable Organization)")
    elif payer_id is None:  # the tenant's payer list may know the name (charges maps it, and the hold goes)
        choice.hold("coverage.payer_id", f"{entry.path}.payor[0] names the payer by display only: its payer id is "
                                         "needed (or the name as an alias in the tenant's payer list)")
        payer_id = payer_name
    if member_id is None:
        choice.hold("coverage.member_id", f"{entry.path}.subscriberId (or identifier[0].value) is missing: the "
                                          "member id")
    if payer_id is None or member_id is None:
        return None
    try:
        return Coverage(payer_id=payer_id, payer_name=(payer_name or payer_id)[:MAX_PAYER_NAME], member_id=member_id,
                        group_number=_group_number(cov), relationship=_relationship(cov))
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False, include_context=False):
            name = str(err["loc"][0]) if err["loc"] else "coverage"
            choice.hold(f"coverage.{name}", f"{entry.path}: {name} {' '.join(err['msg'].split())}")
        return None


def _payer(payor: Any, scope: EncounterScope) -> tuple[str | None, str | None]:
    if payor is None:
        return None, None
    payer_id = payor.identifier.value if payor.identifier is not None else None
    payer_name = payor.display
    org = scope.resolve(payor, "Organization")
    if org is not None:  # a plain reference to the payer Organization is common too
        payer_id = payer_id or (org.resource.identifier[0].value if org.resource.identifier else None)
        payer_name = payer_name or org.resource.name
    return payer_id, payer_name


def _group_number(cov: Any) -> str | None:
    for cov_class in cov.class_fhir or []:
        if any(c.code == "group" for c in codings(cov_class.type)):
            return cov_class.value
    return None


def _relationship(cov: Any) -> str:
    found = codings(cov.relationship)
    if not found or not found[0].code:
        return "self"
    return found[0].code if found[0].code in RELATIONSHIPS else "other"


def _has_self_pay_extension(scope: EncounterScope) -> bool:
    for entry in [*scope.of_type("Encounter"), *scope.of_type("Claim")]:
        for ext in entry.resource.extension or []:
            if ext.url and ext.url.endswith(SELF_PAY_EXTENSION_SUFFIX) and ext.valueBoolean is True:
                return True
    return False
