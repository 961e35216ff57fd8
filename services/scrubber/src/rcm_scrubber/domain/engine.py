"""The scrubber's rule engine: a coded claim through the effective rule set, before it is submitted (pure).

Each catalog edit has one check here: check(claim, context, parameters) -> hits, a hit being
(line number or None, field when it is not the catalog's). The engine turns hits into Edits with the
severity and message the rule set resolved, so checks never format text and cannot leak claim values.

Many checks repeat what the claim contract already validates (pointer range, frequency/original claim
number, formats). Claims reach the scrubber through events from several producers and versions; the
scrubber is the last gate before a payer sees the claim, so it judges the claim it is given.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from rcm_contracts.claim import Claim, Coverage, Insured, Person, Provider
from rcm_contracts.events import Edit
from rcm_x12.format import npi_is_valid as x12_npi_is_valid

from rcm_scrubber.domain.catalog import (
    CATALOG_BY_ID,
    AuthorizationParameters,
    EditParameters,
    TaxonomyParameters,
    TimelyFilingParameters,
    place_of_service_valid,
)
from rcm_scrubber.domain.rule_sets import DEFAULT_RULE_SET, EffectiveRuleSet, payer_key

Hit = tuple[int | None, str | None]
_NO_HITS: tuple[Hit, ...] = ()
_CLAIM_HIT: tuple[Hit, ...] = ((None, None),)
_ZERO = Decimal(0)

TAXONOMY_FORMAT = re.compile(r"[0-9A-Z]{9}X")  # NUCC provider taxonomy: 10 characters ending in X
# The 837P billing provider address must be where care is given; boxes belong in the pay-to loop (2010AB).
PO_BOX = re.compile(r"\b(?:P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|LOCK\s*BOX)\b", re.IGNORECASE)


# The NPI check digit rule is rcm_x12.format.npi_is_valid; cached here because a practice bills under few
# NPIs, so a batch checks each one once.
npi_is_valid = lru_cache(maxsize=65536)(x12_npi_is_valid)


def taxonomy_is_valid(code: str) -> bool:
    return TAXONOMY_FORMAT.fullmatch(code) is not None


@dataclass(frozen=True)
class CoverageDates:
    """The plan's coverage period as eligibility learned it (271 DTP*346/347); open ends are None."""

    start: date | None = None
    end: date | None = None

    def covers(self, on: date) -> bool:
        return (self.start is None or self.start <= on) and (self.end is None or on <= self.end)


@dataclass(frozen=True, kw_only=True, slots=True)
class ScrubContext:
    today: date
    tenant_id: str
    rule_set: EffectiveRuleSet = DEFAULT_RULE_SET  # resolved for this claim (RuleSetLibrary.for_claim)
    upstream: Sequence[Edit] = ()  # coding's edits: passed through first and unchanged
    known_fingerprints: AbstractSet[str] = frozenset()  # claim_fingerprint of claims already submitted
    coverage_dates: CoverageDates | None = None


def claim_fingerprint(claim: Claim, tenant_id: str) -> str:
    """Identity of the services billed: tenant, patient (name and birth date), payer, and each line's
    date of service and procedure code, order-blind. Two claims with one fingerprint bill the same
    services twice, which payers deny as duplicates (CARC 18).

    A digest keeps stored fingerprints short and uniform. It is not de-identification: names and dates
    are guessable, so a fingerprint store is handled as PHI."""
    p = claim.patient
    payer = (payer_key(claim.coverage.payer_id) if claim.coverage else None) or ""
    claim_date = claim.service_date
    claim_day = claim_date.isoformat()
    services = sorted([
        (claim_day if line.service_date is None or line.service_date == claim_date else line.service_date.isoformat())
        + "|" + line.procedure_code.strip().upper()
        for line in claim.lines])
    parts = [tenant_id, payer, p.last_name.strip().casefold(), p.first_name.strip().casefold(),
             p.birth_date.isoformat(), *services]
    return "v1:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


# ---------------------------------------------------------------- helpers


def _dated_hits(claim: Claim, outside: Callable[[date], bool]) -> list[Hit]:
    """The claim's date of service once, then each line carrying a date of its own."""
    hits: list[Hit] = [(None, None)] if outside(claim.service_date) else []
    for line in claim.lines:
        d = line.service_date
        if d is not None and d != claim.service_date and outside(d):
            hits.append((line.line_number, None))
    return hits


def _first_date_of_service(claim: Claim) -> date:
    dates = [line.service_date for line in claim.lines if line.service_date is not None]
    return min(claim.service_date, *dates) if dates else claim.service_date


def _blank(value: str | None) -> bool:
    return value is None or not value.strip()


def _same_person(a: Person, b: Person) -> bool:
    return (a.first_name.strip().casefold() == b.first_name.strip().casefold()
            and a.last_name.strip().casefold() == b.last_name.strip().casefold() and a.birth_date == b.birth_date)


def _npi_hit(provider: Provider | None) -> tuple[Hit, ...]:
    return _CLAIM_HIT if provider is not None and not npi_is_valid(provider.npi) else _NO_HITS


def _taxonomy_hit(provider: Provider | None, params: TaxonomyParameters) -> tuple[Hit, ...]:
    if provider is None:
        return _NO_HITS
    if provider.taxonomy is None:
        return _CLAIM_HIT if params.required else _NO_HITS
    return _NO_HITS if taxonomy_is_valid(provider.taxonomy) else _CLAIM_HIT


# ---------------------------------------------------------------- checks (one per catalog id)

Check = Callable[[Claim, ScrubContext, EditParameters | None], Sequence[Hit]]


def _billing_npi(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _npi_hit(claim.billing_provider)


def _rendering_npi(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _npi_hit(claim.rendering_provider)


def _no_coverage(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _CLAIM_HIT if claim.coverage is None else _NO_HITS


def _future_service(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    today = ctx.today
    return _dated_hits(claim, lambda d: d > today)


def _total_charge(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    total = sum((line.charge for line in claim.lines), _ZERO)
    return _CLAIM_HIT if total != claim.total_charge else _NO_HITS


def _line_charge(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return [(line.line_number, None) for line in claim.lines if line.charge <= 0]


def _referring_npi(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _npi_hit(claim.referring_provider)


def _supervising_npi(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _npi_hit(claim.supervising_provider)


def _billing_tax_id(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    tin = claim.billing_provider.tax_id
    valid = tin is not None and len(tin) == 9 and tin.isascii() and tin.isdigit() and tin != "000000000"
    return _NO_HITS if valid else _CLAIM_HIT


def _billing_name(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _CLAIM_HIT if _blank(claim.billing_provider.name) else _NO_HITS


def _billing_address(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _CLAIM_HIT if claim.billing_provider.address is None else _NO_HITS


def _billing_zip_plus_four(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    address = claim.billing_provider.address
    if address is None:
        return _NO_HITS  # SCR011 says the whole address is missing
    zip_code = address.postal_code
    return _NO_HITS if len(zip_code) == 9 and zip_code.isascii() and zip_code.isdigit() else _CLAIM_HIT


def _billing_po_box(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    address = claim.billing_provider.address
    if address is None:
        return _NO_HITS
    boxed = PO_BOX.search(address.line1) or (address.line2 and PO_BOX.search(address.line2))
    return _CLAIM_HIT if boxed else _NO_HITS


def _billing_taxonomy(claim: Claim, ctx: ScrubContext, params: TaxonomyParameters) -> Sequence[Hit]:
    return _taxonomy_hit(claim.billing_provider, params)


def _rendering_taxonomy(claim: Claim, ctx: ScrubContext, params: TaxonomyParameters) -> Sequence[Hit]:
    return _taxonomy_hit(claim.rendering_provider, params)


def _provider_names(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    hits: list[Hit] = []
    for role in ("rendering_provider", "referring_provider", "supervising_provider"):
        provider = getattr(claim, role)
        if provider is not None and _blank(provider.name):
            hits.append((None, f"{role}.name"))
    return hits


def _dependent_subscriber(coverage: Coverage | None) -> tuple[str, Person | Insured] | None:
    """(field, person) of the subscriber when the patient is not the subscriber: the full Person, else the
    insured known by name only (an 837P sends no birth date for them). None when self or nobody is named."""
    if coverage is None or coverage.relationship == "self":
        return None
    if coverage.subscriber is not None:
        return "coverage.subscriber", coverage.subscriber
    if coverage.insured is not None:
        return "coverage.insured", coverage.insured
    return None


def _person_names(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    people: list[tuple[str, Person | Insured]] = [("patient", claim.patient)]
    if (subscriber := _dependent_subscriber(claim.coverage)) is not None:
        people.append(subscriber)
    hits: list[Hit] = []
    for path, person in people:
        if _blank(person.first_name):
            hits.append((None, f"{path}.first_name"))
        if _blank(person.last_name):
            hits.append((None, f"{path}.last_name"))
    return hits


def _birth_date(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    born = claim.patient.birth_date
    return _CLAIM_HIT if born > claim.service_date or born > ctx.today else _NO_HITS


def _sex_unknown(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _CLAIM_HIT if claim.patient.sex == "U" else _NO_HITS


def _patient_address(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _CLAIM_HIT if claim.patient.address is None else _NO_HITS


def _subscriber_missing(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    coverage = claim.coverage
    missing = coverage is not None and coverage.relationship != "self" and _dependent_subscriber(coverage) is None
    return _CLAIM_HIT if missing else _NO_HITS


def _subscriber_contradicts_self(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    coverage = claim.coverage
    if coverage is None or coverage.relationship != "self" or coverage.subscriber is None:
        return _NO_HITS
    # Integrations that always copy the patient into the subscriber are consistent; only a different person is not.
    return _NO_HITS if _same_person(coverage.subscriber, claim.patient) else _CLAIM_HIT


def _payer_id(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    coverage = claim.coverage  # NM109 is 2-80 characters
    return _CLAIM_HIT if coverage is not None and len(coverage.payer_id.strip()) < 2 else _NO_HITS


def _member_id(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    coverage = claim.coverage
    return _CLAIM_HIT if coverage is not None and len(coverage.member_id.strip()) < 2 else _NO_HITS


def _frequency_code(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _NO_HITS if claim.frequency_code in ("1", "7", "8") else _CLAIM_HIT


def _original_claim_number(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    missing = claim.frequency_code in ("7", "8") and _blank(claim.original_claim_number)
    return _CLAIM_HIT if missing else _NO_HITS


def _place_of_service(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _NO_HITS if place_of_service_valid(claim.place_of_service, claim.service_date) else _CLAIM_HIT


def _line_before_claim(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    first = claim.service_date
    return [(line.line_number, None) for line in claim.lines
            if line.service_date is not None and line.service_date < first]


def _outside_coverage(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    period = ctx.coverage_dates
    cov = claim.coverage
    if period is None and cov is not None and (cov.effective_from or cov.effective_to):
        period = CoverageDates(cov.effective_from, cov.effective_to)  # what the payer's 271 reported
    if period is None:
        return _NO_HITS
    return _dated_hits(claim, lambda d: not period.covers(d))


def _no_diagnosis(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _NO_HITS if claim.diagnoses else _CLAIM_HIT


def _diagnosis_pointers(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    n = len(claim.diagnoses)
    if n == 0:
        return _NO_HITS  # SCR030: every pointer is dangling for one reason, reported once
    hits: list[Hit] = []
    for line in claim.lines:
        for p in line.diagnosis_pointers:
            if p < 1 or p > n:
                hits.append((line.line_number, None))
                break
    return hits


def _days_since_service(claim: Claim, ctx: ScrubContext) -> int:
    # The oldest line runs out first: a payer counts each service from its own date.
    return (ctx.today - _first_date_of_service(claim)).days


def _timely_filing_passed(claim: Claim, ctx: ScrubContext, params: TimelyFilingParameters) -> Sequence[Hit]:
    return _CLAIM_HIT if _days_since_service(claim, ctx) > params.timely_filing_days else _NO_HITS


def _timely_filing_near(claim: Claim, ctx: ScrubContext, params: TimelyFilingParameters) -> Sequence[Hit]:
    days_left = params.timely_filing_days - _days_since_service(claim, ctx)
    return _CLAIM_HIT if 0 <= days_left < params.warning_days else _NO_HITS


def _duplicate(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    # Replacements and voids re-send the original's services on purpose.
    if not ctx.known_fingerprints or claim.frequency_code != "1":
        return _NO_HITS
    return _CLAIM_HIT if claim_fingerprint(claim, ctx.tenant_id) in ctx.known_fingerprints else _NO_HITS


def _authorization_missing(claim: Claim, ctx: ScrubContext, params: AuthorizationParameters) -> Sequence[Hit]:
    if not params.auth_required_codes or not _blank(claim.prior_authorization):
        return _NO_HITS
    return [(line.line_number, None) for line in claim.lines if params.requires_authorization(line.procedure_code)]


def _prior_payer_missing(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    return _CLAIM_HIT if claim.payer_responsibility in ("S", "T") and not claim.other_payers else _NO_HITS


def _not_cpt_hcpcs(claim: Claim, ctx: ScrubContext, _: object) -> Sequence[Hit]:
    # getattr: claims of producers older than the line code system carry CPT/HCPCS by definition.
    return [(line.line_number, None) for line in claim.lines
            if getattr(line, "code_system", "cpt-hcpcs") != "cpt-hcpcs"]


_CHECKS: dict[str, Check] = {
    "SCR001": _billing_npi,
    "SCR002": _rendering_npi,
    "SCR003": _no_coverage,
    "SCR004": _future_service,
    "SCR005": _total_charge,
    "SCR006": _line_charge,
    "SCR007": _referring_npi,
    "SCR008": _supervising_npi,
    "SCR009": _billing_tax_id,
    "SCR010": _billing_name,
    "SCR011": _billing_address,
    "SCR012": _billing_zip_plus_four,
    "SCR013": _billing_po_box,
    "SCR014": _billing_taxonomy,
    "SCR015": _rendering_taxonomy,
    "SCR016": _provider_names,
    "SCR017": _person_names,
    "SCR018": _birth_date,
    "SCR019": _sex_unknown,
    "SCR020": _patient_address,
    "SCR021": _subscriber_missing,
    "SCR022": _subscriber_contradicts_self,
    "SCR023": _payer_id,
    "SCR024": _member_id,
    "SCR025": _frequency_code,
    "SCR026": _original_claim_number,
    "SCR027": _place_of_service,
    "SCR028": _line_before_claim,
    "SCR029": _outside_coverage,
    "SCR030": _no_diagnosis,
    "SCR031": _diagnosis_pointers,
    "SCR032": _timely_filing_passed,
    "SCR033": _timely_filing_near,
    "SCR034": _duplicate,
    "SCR035": _authorization_missing,
    "SCR036": _prior_payer_missing,
    "SCR037": _not_cpt_hcpcs,
}
if _CHECKS.keys() != CATALOG_BY_ID.keys():  # a catalog entry without a check would silently never fire
    raise RuntimeError(f"catalog and checks differ: {sorted(_CHECKS.keys() ^ CATALOG_BY_ID.keys())}")


# ---------------------------------------------------------------- the engine


def _edit(code: str, severity: Literal["error", "warning"], message: str, field: str | None,
          line_number: int | None) -> Edit:
    return Edit(code=code, severity=severity, field=field, line_number=line_number,
                message=message if line_number is None else f"line {line_number}: {message}")


def scrub(claim: Claim, *, context: ScrubContext) -> list[Edit]:
    """Upstream edits first and unchanged, then catalog edits in id order, then custom rules in order."""
    edits: list[Edit] = list(context.upstream)
    for active in context.rule_set.edits:
        definition = active.definition
        for line_number, field in _CHECKS[definition.id](claim, context, active.parameters):
            edits.append(_edit(definition.id, active.severity, active.message, field or definition.field, line_number))
    for rule in context.rule_set.custom_rules:
        for line_number in rule.hits(claim):
            edits.append(_edit(rule.id, rule.severity, rule.message, rule.field, line_number))
    return edits


def decision(edits: Sequence[Edit]) -> Literal["clean", "review"]:
    """Any error (ours or upstream's) holds the claim for review; warnings alone let it go."""
    return "review" if any(e.severity == "error" for e in edits) else "clean"
