"""Front-desk registration checks for a patient and their coverages, before the visit (pure).

A wrong ZIP, a mistyped member id or a termed coverage costs seconds to fix at the desk and weeks
once the 837 is rejected. Problems name the field and the fix but never echo the patient's values,
so they can be logged and shown on shared work queues without leaking PHI.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from types import MappingProxyType
from typing import Any, Literal, Protocol

import re2
import zipcodes
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rcm_contracts.claim import Person
from rcm_contracts.dates import IsoDate

Severity = Literal["error", "warning"]
Relationship = Literal["self", "spouse", "child", "other"]
PlanCategory = Literal["commercial", "medicare", "medicaid", "tricare", "other"]

# CMS Medicare Beneficiary Identifier: 11 characters, no S, L, O, I, B, Z (they read as digits).
MEDICARE_MBI = (
    r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]"
    r"[0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$"
)
DEFAULT_MEMBER_ID = r"^[A-Za-z0-9-]{2,80}$"  # X12 NM109 safe characters, for payers without a rule

MAX_AGE_YEARS = 120
DEPENDENT_AGE_LIMIT = 26  # ACA: commercial plans must cover a child until the 26th birthday

US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM "
    "NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY".split()
)
US_TERRITORIES = frozenset({"PR", "VI", "GU", "AS", "MP"})
# Served by USPS (and present in the ZIP database): freely associated states and military mail
# (APO/FPO), which TRICARE patients really do register with.
USPS_OTHER = frozenset({"FM", "MH", "PW", "AA", "AE", "AP"})
US_POSTAL_STATE_CODES = US_STATES | US_TERRITORIES | USPS_OTHER

_ORDER_NAMES = {1: "primary", 2: "secondary", 3: "tertiary"}
# Words and X12 SBR01 payer responsibility codes the desk or an upstream system may send.
_ORDER_ALIASES = {"primary": 1, "p": 1, "secondary": 2, "s": 2, "tertiary": 3, "t": 3}


class _Registration(BaseModel):
    # extra="forbid": a misspelled field (say "efective_to") silently dropped would hide a termed plan.
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class RegistrationAddress(_Registration):
    line1: str = Field(min_length=1, max_length=55)
    line2: str | None = Field(default=None, max_length=55)
    city: str = Field(min_length=1, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")  # shape only: validate_registration checks it is real
    postal_code: str = Field(pattern=r"^[0-9]{5}([0-9]{4})?$")  # ZIP5 or ZIP+4, stored as in the 837 (N403)

    @field_validator("state", mode="before")
    @classmethod
    def _upper_state(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("postal_code", mode="before")
    @classmethod
    def _drop_zip4_hyphen(cls, value: Any) -> Any:
        if isinstance(value, str) and re.fullmatch(r"[0-9]{5}-[0-9]{4}", value.strip()):
            return value.strip().replace("-", "")
        return value

    @property
    def zip5(self) -> str:
        return self.postal_code[:5]


class PatientRegistration(_Registration):
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    birth_date: IsoDate
    sex: Literal["M", "F", "U"] = "U"
    address: RegistrationAddress
    phone: str | None = Field(default=None, pattern=r"^[2-9][0-9]{2}[2-9][0-9]{6}$")  # NANP, 10 digits

    @field_validator("phone", mode="before")
    @classmethod
    def _phone_digits(cls, value: Any) -> Any:
        # The desk types "(617) 555-0134" or "+1 617 555 0134"; keep the 10 digits a statement needs.
        if not isinstance(value, str):
            return value
        digits = re.sub(r"[\s().+-]", "", value)
        if not digits:
            return None
        return digits[1:] if len(digits) == 11 and digits.startswith("1") else digits


class CoverageRegistration(_Registration):
    payer_id: str = Field(min_length=1, max_length=80)
    payer_name: str = Field(min_length=1, max_length=60)
    member_id: str = Field(min_length=1, max_length=80)
    group_number: str | None = Field(default=None, max_length=50)
    plan_category: PlanCategory = "commercial"
    relationship: Relationship = "self"  # the patient's relationship to the subscriber
    subscriber: Person | None = None  # None when the patient is the subscriber
    order_of_benefits: int = Field(default=1, ge=1, le=3)  # 1 primary, 2 secondary, 3 tertiary
    effective_from: IsoDate
    effective_to: IsoDate | None = None  # None: open-ended

    @field_validator("order_of_benefits", mode="before")
    @classmethod
    def _order_from_name(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in _ORDER_ALIASES:
            return _ORDER_ALIASES[value.strip().lower()]
        return value


class RegistrationProblem(_Registration):
    field: str  # e.g. "address.postal_code", "coverages[1].member_id"
    code: str
    severity: Severity
    message: str  # says what to fix; never contains the patient's values


class MemberIdPattern(Protocol):
    @property
    def pattern(self) -> str: ...

    def fullmatch(self, text: str) -> object | None: ...


@dataclass(frozen=True)
class PayerMemberIdRules:
    """Member id format per payer, so a typo is caught at the desk rather than by a 999/277CA.

    Patterns must match the whole id. Config shape (dict or JSON):
    {"default": "<regex>", "payers": {"<payer_id>": "<regex>", ...}}; both keys are optional. Patterns are
    tenants' input: RE2 syntax, matched in linear time (see _compile_rule).
    """

    by_payer: Mapping[str, MemberIdPattern] = dataclass_field(default_factory=lambda: MappingProxyType({}))
    default: MemberIdPattern = dataclass_field(default_factory=lambda: _compile_rule("default", DEFAULT_MEMBER_ID))

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], *,
                     on_invalid: Callable[[str, str], None] | None = None) -> PayerMemberIdRules:
        """Raises ValueError on the first rule that does not compile; with `on_invalid(name, reason)` such a rule
        is reported and left out instead (the built-in default applies), for rules stored before RE2 refused them."""
        unknown = set(config) - {"default", "payers"}
        if unknown:
            raise ValueError(f"member id rules: unknown keys {sorted(unknown)}")
        payers = config.get("payers") or {}
        if not isinstance(payers, Mapping):
            raise ValueError("member id rules: 'payers' must map payer id to a regex")

        def compiled(name: str, regex: Any) -> MemberIdPattern | None:
            try:
                return _compile_rule(name, regex)
            except ValueError as exc:
                if on_invalid is None:
                    raise
                on_invalid(name, str(exc))
                return None

        by_payer = {str(payer_id).strip(): compiled(str(payer_id), rx) for payer_id, rx in payers.items()}
        default = compiled("default", config.get("default", DEFAULT_MEMBER_ID)) or cls().default
        return cls(by_payer=MappingProxyType({p: rx for p, rx in by_payer.items() if rx is not None}), default=default)

    @classmethod
    def from_json(cls, text: str) -> PayerMemberIdRules:
        config = json.loads(text)
        if not isinstance(config, Mapping):
            raise ValueError("member id rules: JSON must be an object")
        return cls.from_mapping(config)

    def pattern_for(self, payer_id: str) -> MemberIdPattern:
        return self.by_payer.get(payer_id.strip(), self.default)

    def accepts(self, payer_id: str, member_id: str) -> bool:
        return self.pattern_for(payer_id).fullmatch(member_id) is not None


def _re2_options() -> re2.Options:
    options = re2.Options()
    options.log_errors = False  # a refused pattern is the caller's 422, not a line on the service's stderr
    return options


_RE2_OPTIONS = _re2_options()


def _compile_rule(name: str, regex: Any) -> MemberIdPattern:
    """RE2, not `re`: a tenant's pattern runs on every registration, and a backtracking engine lets one pattern
    (`^(a+)+$`) take minutes on a 30-character id. RE2 matches in time linear in the input and refuses what it
    cannot do that way (backreferences, look-around), and patterns that would need more than its memory budget."""
    if not isinstance(regex, str) or not regex:
        raise ValueError(f"member id rule {name!r}: expected a non-empty regex string")
    try:
        return re2.compile(regex, _RE2_OPTIONS)
    except re2.error as exc:  # fail when set, not on the first patient of the day
        reason = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise ValueError(f"member id rule {name!r}: not a pattern RE2 can match in linear time ({reason})") from None


# ---------------------------------------------------------------- dates


def age_on(birth_date: date, day: date) -> int:
    """Completed years on `day` (a birthday counts on the day itself)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


# ---------------------------------------------------------------- checks


def _problem(field_name: str, code: str, severity: Severity, message: str) -> RegistrationProblem:
    return RegistrationProblem(field=field_name, code=code, severity=severity, message=message)


def birth_date_problems(birth_date: date, *, today: date, field_name: str) -> list[RegistrationProblem]:
    if birth_date > today:
        return [_problem(field_name, "REG001", "error", "birth date is in the future: re-enter the birth date")]
    if birth_date < _years_before(today, MAX_AGE_YEARS):
        return [_problem(field_name, "REG002", "error",
                         f"birth date is more than {MAX_AGE_YEARS} years ago: check the birth year")]
    return []


def postal_address_problems(state: str, postal_code: str, *, field_prefix: str) -> list[RegistrationProblem]:
    """State must be a USPS state/territory code; the ZIP must exist and be in that state (837 N402/N403)."""
    problems: list[RegistrationProblem] = []
    state_is_real = state in US_POSTAL_STATE_CODES
    if not state_is_real:
        problems.append(_problem(f"{field_prefix}state", "REG003", "error",
                                 "state is not a US state or territory postal code: pick the state from the list"))
    rows = zipcodes.matching(postal_code[:5])
    if not rows:
        problems.append(_problem(f"{field_prefix}postal_code", "REG004", "error",
                                 "ZIP code does not exist: check the ZIP on the patient's ID or mail"))
        return problems
    if state_is_real and all(row["state"] != state for row in rows):
        problems.append(_problem(f"{field_prefix}postal_code", "REG005", "error",
                                 "ZIP code belongs to a different state: correct the ZIP or the state"))
    if not any(row["active"] for row in rows):
        problems.append(_problem(f"{field_prefix}postal_code", "REG006", "warning",
                                 "ZIP code is retired by USPS: statements may be returned, confirm the address"))
    return problems


def member_id_problems(coverage: CoverageRegistration, rules: PayerMemberIdRules, *,
                       field_prefix: str) -> list[RegistrationProblem]:
    if rules.accepts(coverage.payer_id, coverage.member_id):
        return []
    return [_problem(f"{field_prefix}member_id", "REG010", "error",
                     "member id does not match this payer's format: re-enter it from the insurance card "
                     "(no spaces or dashes unless printed as part of the id)")]


def coverage_period_problems(coverage: CoverageRegistration, *, today: date,
                             field_prefix: str) -> list[RegistrationProblem]:
    start, end = coverage.effective_from, coverage.effective_to
    if end is not None and end < start:
        # The period is nonsense; judging it against today would only add noise.
        return [_problem(f"{field_prefix}effective_to", "REG011", "error",
                         "coverage ends before it starts: correct the effective dates")]
    if start > today:
        # Often legitimate (new plan year entered early), but it does not cover a visit today.
        return [_problem(f"{field_prefix}effective_from", "REG012", "warning",
                         "coverage is not yet effective: today's visit is not covered by it")]
    if end is not None and end < today:
        return [_problem(f"{field_prefix}effective_to", "REG013", "error",
                         "coverage has ended: ask for the current insurance card or end-date this coverage")]
    return []


def subscriber_problems(coverage: CoverageRegistration, patient: PatientRegistration, *,
                        today: date, field_prefix: str) -> list[RegistrationProblem]:
    subscriber = coverage.subscriber
    problems: list[RegistrationProblem] = []
    if coverage.relationship != "self" and subscriber is None:
        problems.append(_problem(f"{field_prefix}subscriber", "REG016", "error",
                                 f"relationship is {coverage.relationship}: enter the subscriber (policy holder) "
                                 "name and birth date"))
    if coverage.relationship == "self" and subscriber is not None and not _same_person(subscriber, patient):
        problems.append(_problem(f"{field_prefix}relationship", "REG017", "warning",
                                 "relationship is self but another person is entered as subscriber: "
                                 "set the relationship or remove the subscriber"))
    if subscriber is not None:
        problems += birth_date_problems(subscriber.birth_date, today=today,
                                        field_name=f"{field_prefix}subscriber.birth_date")
        if subscriber.address is not None:
            problems += postal_address_problems(subscriber.address.state, subscriber.address.postal_code,
                                                field_prefix=f"{field_prefix}subscriber.address.")
    return problems


def _same_person(subscriber: Person, patient: PatientRegistration) -> bool:
    return (subscriber.birth_date == patient.birth_date
            and subscriber.first_name.strip().casefold() == patient.first_name.casefold()
            and subscriber.last_name.strip().casefold() == patient.last_name.casefold())


def dependent_age_problems(coverage: CoverageRegistration, patient: PatientRegistration, *,
                           today: date, field_prefix: str) -> list[RegistrationProblem]:
    # Warning only: some plans and states extend dependent coverage past 26 (end of month/year, disability).
    if (coverage.relationship == "child" and coverage.plan_category == "commercial"
            and age_on(patient.birth_date, today) >= DEPENDENT_AGE_LIMIT):
        return [_problem(f"{field_prefix}relationship", "REG018", "warning",
                         f"dependent child has reached {DEPENDENT_AGE_LIMIT} on a commercial plan: "
                         "verify the dependent is still covered (270/271) before the visit")]
    return []


def order_of_benefits_problems(coverages: Sequence[CoverageRegistration]) -> list[RegistrationProblem]:
    """Orders must be unique and run 1, 2, 3 without gaps, or COB on secondary claims goes wrong."""
    problems: list[RegistrationProblem] = []
    seen: Counter[int] = Counter()
    for i, coverage in enumerate(coverages):
        order = coverage.order_of_benefits
        seen[order] += 1
        if seen[order] == 2:  # report each clash once, on the second coverage claiming the rank
            problems.append(_problem(f"coverages[{i}].order_of_benefits", "REG014", "error",
                                     f"more than one {_ORDER_NAMES[order]} coverage: "
                                     "give each coverage its own order of benefits"))
    missing = [n for n in range(1, max(seen, default=0) + 1) if n not in seen]
    if missing:
        names = ", ".join(_ORDER_NAMES[n] for n in missing)
        problems.append(_problem("coverages", "REG015", "error",
                                 f"order of benefits has a gap (no {names}): number coverages 1, 2, 3 "
                                 "starting with the primary"))
    return problems


def validate_registration(patient: PatientRegistration, coverages: Sequence[CoverageRegistration], *,
                          today: date, rules: PayerMemberIdRules) -> list[RegistrationProblem]:
    """Every problem with a registration, errors and warnings, in form order. Empty means ready."""
    problems = birth_date_problems(patient.birth_date, today=today, field_name="birth_date")
    problems += postal_address_problems(patient.address.state, patient.address.postal_code,
                                        field_prefix="address.")
    for i, coverage in enumerate(coverages):
        prefix = f"coverages[{i}]."
        problems += member_id_problems(coverage, rules, field_prefix=prefix)
        problems += coverage_period_problems(coverage, today=today, field_prefix=prefix)
        problems += subscriber_problems(coverage, patient, today=today, field_prefix=prefix)
        problems += dependent_age_problems(coverage, patient, today=today, field_prefix=prefix)
    problems += order_of_benefits_problems(coverages)
    return problems
