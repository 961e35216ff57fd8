"""Prior-authorization requirements for a claim's service lines (pure).

A service that needed an authorization and was done without one is denied (CARC 197/15) and
rarely appealable, so the requirement must surface before the visit. Two sources say a line needs
one: the practice's payer rule table (payer policy lists) and the payer's own 271 answer
(EB11 authorization indicator = "Y" for the line's service type).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rcm_contracts.claim import Claim, ServiceLine
from rcm_contracts.events import Edit

CSV_COLUMNS = ("payer_id", "procedure_code", "place_of_service", "min_units", "description")
LIST_SEPARATOR = "|"  # several codes or places of service in one CSV cell: "21|22|23"
DEFAULT_SERVICE_TYPE = "30"  # X12 service type 30: health benefit plan coverage (the 270 default)
MISSING_AUTH_CODE = "ELG020"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def code_matches(pattern: str, procedure_code: str) -> bool:
    """Exact code, or a prefix when the pattern ends in '*' ("7014*" covers the CT 7014x family)."""
    code = procedure_code.strip().upper()
    if pattern.endswith("*"):
        return code.startswith(pattern[:-1])
    return code == pattern


class AuthRule(_Frozen):
    """One payer policy line. Empty payer_id / procedure_codes / places_of_service mean "any"."""

    payer_id: str | None = None
    procedure_codes: tuple[str, ...] = ()
    places_of_service: frozenset[str] = frozenset()
    min_units: Decimal | None = Field(default=None, gt=0)  # auth only at or above this many units
    description: str = ""

    @field_validator("payer_id", mode="before")
    @classmethod
    def _blank_payer_is_any(cls, value: object) -> object:
        return (value.strip() or None) if isinstance(value, str) else value

    @field_validator("procedure_codes", mode="after")
    @classmethod
    def _normalize_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        normalized = tuple(c.strip().upper() for c in codes if c.strip())
        for code in normalized:
            if "*" in code[:-1]:  # only a trailing wildcard: a rule table is not a regex language
                raise ValueError(f"procedure code pattern {code!r}: '*' is only allowed at the end")
        return normalized

    @field_validator("places_of_service", mode="after")
    @classmethod
    def _check_places(cls, places: frozenset[str]) -> frozenset[str]:
        normalized = frozenset(p.strip() for p in places if p.strip())
        for pos in normalized:
            if not (len(pos) == 2 and pos.isascii() and pos.isdigit()):
                raise ValueError(f"place of service {pos!r}: expected a two-digit CMS POS code")
        return normalized

    def applies_to(self, payer_id: str, line: ServiceLine, place_of_service: str) -> bool:
        return (
            (self.payer_id is None or self.payer_id.upper() == payer_id.strip().upper())
            and (not self.procedure_codes or any(code_matches(p, line.procedure_code) for p in self.procedure_codes))
            and (not self.places_of_service or place_of_service in self.places_of_service)
            and (self.min_units is None or line.units >= self.min_units)
        )


class AuthRuleTable(_Frozen):
    rules: tuple[AuthRule, ...] = ()

    @classmethod
    def from_csv(cls, text: str) -> AuthRuleTable:
        """Rules from CSV with header payer_id,procedure_code,place_of_service,min_units,description.

        A blank cell means "any"; code and POS cells may list several values separated by '|'.
        """
        reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # spreadsheets export a BOM
        header = tuple(name.strip() for name in reader.fieldnames or ())
        if header != CSV_COLUMNS:
            raise ValueError(f"auth rule CSV: header must be {','.join(CSV_COLUMNS)}")
        reader.fieldnames = list(header)
        rules = []
        for row in reader:
            if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
                continue  # blank line between payer sections
            try:
                rules.append(_rule_from_row(row))
            except ValueError as exc:
                raise ValueError(f"auth rule CSV line {reader.line_num}: {exc}") from exc
        return cls(rules=tuple(rules))

    def matching(self, payer_id: str, line: ServiceLine, place_of_service: str) -> list[AuthRule]:
        return [rule for rule in self.rules if rule.applies_to(payer_id, line, place_of_service)]


def _split_cell(cell: str | None) -> list[str]:
    return [part.strip() for part in (cell or "").split(LIST_SEPARATOR) if part.strip()]


def _rule_from_row(row: Mapping[str, str | None]) -> AuthRule:
    if row.get(None):  # type: ignore[call-overload]  # DictReader puts surplus cells under None
        raise ValueError("more cells than columns (quote descriptions that contain commas)")
    units = (row.get("min_units") or "").strip()
    try:
        min_units = Decimal(units) if units else None
    except InvalidOperation as exc:
        raise ValueError("min_units must be a number") from exc
    return AuthRule(
        payer_id=row.get("payer_id") or None,
        procedure_codes=tuple(_split_cell(row.get("procedure_code"))),
        places_of_service=frozenset(_split_cell(row.get("place_of_service"))),
        min_units=min_units,
        description=(row.get("description") or "").strip(),
    )


class AuthRequirement(_Frozen):
    """A line that needs a prior authorization, and why (a payer rule, the 271, or both)."""

    line_number: int
    procedure_code: str
    rule: AuthRule | None = None  # first matching payer rule
    service_type: str | None = None  # set when the payer's 271 flagged this service type

    @property
    def reason(self) -> str:
        reasons = []
        if self.rule is not None:
            reasons.append(f"payer rule: {self.rule.description or 'prior authorization list'}")
        if self.service_type is not None:
            reasons.append(f"271 authorization indicator for service type {self.service_type}")
        return "; ".join(reasons)


def service_type_for(procedure_code: str, service_types: Mapping[str, str] | None) -> str:
    """X12 service type of a procedure: exact key first, then the longest '*' prefix key, else 30."""
    if not service_types:
        return DEFAULT_SERVICE_TYPE
    code = procedure_code.strip().upper()
    normalized = {key.strip().upper(): value for key, value in service_types.items()}
    if code in normalized:
        return normalized[code]
    prefixes = [key for key in normalized if key.endswith("*") and code_matches(key, code)]
    return normalized[max(prefixes, key=len)] if prefixes else DEFAULT_SERVICE_TYPE


def auth_requirements(
    claim: Claim,
    table: AuthRuleTable,
    *,
    payer_says_auth_required: AbstractSet[str] = frozenset(),
    service_types: Mapping[str, str] | None = None,
) -> list[AuthRequirement]:
    """Lines needing an authorization. payer_says_auth_required: 271 service types with EB11 = Y."""
    if claim.coverage is None:  # self-pay: no payer to authorize anything
        return []
    payer_id = claim.coverage.payer_id
    flagged_types = {t.strip() for t in payer_says_auth_required}
    requirements = []
    for line in claim.lines:
        rules = table.matching(payer_id, line, claim.place_of_service)
        service_type = service_type_for(line.procedure_code, service_types)
        flagged = service_type if service_type in flagged_types else None
        if rules or flagged:
            requirements.append(AuthRequirement(line_number=line.line_number, procedure_code=line.procedure_code,
                                                rule=rules[0] if rules else None, service_type=flagged))
    return requirements


def missing_authorizations(
    claim: Claim,
    requirements: Iterable[AuthRequirement],
    authorization_numbers: Mapping[int, str] | str | None,
) -> list[Edit]:
    """ELG020 per line that needs an authorization and has none.

    authorization_numbers: per line number (837P loop 2400 REF*G1), or one number for the whole
    claim (loop 2300 REF*G1), or None when nothing was obtained.
    """
    line_numbers = {line.line_number for line in claim.lines}
    edits = []
    for req in requirements:
        if req.line_number not in line_numbers:  # a requirement for another version of the claim
            continue
        if _authorization_for(req.line_number, authorization_numbers):
            continue
        edits.append(Edit(
            code=MISSING_AUTH_CODE, severity="error", line_number=req.line_number, field="authorization_number",
            message=(f"line {req.line_number}: procedure {req.procedure_code} requires prior authorization "
                     f"({req.reason}); obtain prior authorization from the payer before the visit or attach "
                     "the authorization number (837P REF*G1)"),
        ))
    return edits


def _authorization_for(line_number: int, authorization_numbers: Mapping[int, str] | str | None) -> str | None:
    if authorization_numbers is None:
        return None
    if isinstance(authorization_numbers, str):  # claim-level number covers every line
        return authorization_numbers.strip() or None
    return (authorization_numbers.get(line_number) or "").strip() or None
