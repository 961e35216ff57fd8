"""Rule sets: which catalog edits run for a tenant and payer, at what severity and with which parameters,
plus custom declarative rules (pure). Rule sets are data (JSON documents) so billing staff and denial
analysis change scrubbing per payer without a deploy.

A document configures a tenant's default (payer_id null) or one payer, and is versioned: a new version
with a later effective_from leaves the old one in force for earlier dates of service.

Resolution, for one claim: built-in defaults (every catalog edit on, at its default severity), overlaid
by the tenant default, overlaid by the claim's payer's set; each document the highest version whose
effective_from is on or before the claim's date of service. The date of service, not today, because
payer policy (a new authorization list, a shorter filing window) applies to services rendered after it
takes effect, and because a claim scrubbed again next month must get the same answer. A correction to
a rule set that should reach older claims is given an effective_from far enough back.

Overlay: per edit, a later layer's explicit enabled/severity wins and its parameters override key by key
(a list such as auth_required_codes is replaced, not merged). Custom rules are collected by id: a
payer's rule with a tenant rule's id replaces it (enabled=false switches it off for that payer).

Custom rule conditions are a closed vocabulary (no expressions, nothing evaluated), all of which must
hold. A rule with a line condition reports each matching line; one without reports the claim once.
  claim:  payer_id [..] (case-blind; a claim without coverage never matches), place_of_service [..],
          missing_prior_authorization: true
  line:   procedure_codes [..] (exact, or a prefix ending in '*'), diagnosis_codes [..] / missing_diagnosis_codes
          [..] (prefixes, dots ignored, over the diagnoses the line points at), modifier_any [..] (carries one),
          missing_modifier_any [..] (carries none of them: the payer wants any one), units_above N, charge_above N
Messages are static text (no interpolation), so a rule cannot put claim values into an edit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, field_validator, model_validator

from rcm_contracts.claim import Claim, ServiceLine
from rcm_contracts.dates import IsoDate

from rcm_scrubber.domain.catalog import (
    CATALOG,
    PLACES_OF_SERVICE,
    EditDefinition,
    EditParameters,
    Severity,
    normalize_code_patterns,
    split_code_patterns,
)

# Ids of the other engines' findings: a custom rule must not be mistaken for one of them in the review queue.
RESERVED_ID_PREFIXES = ("SCR", "COD", "ELG")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- edit settings


class EditSetting(_Strict):
    """One catalog edit's configuration in a document. None = inherit from the layer below."""

    enabled: bool | None = None
    severity: Severity | None = None


def _setting_model(definition: EditDefinition) -> type[EditSetting]:
    # One model per edit so its parameters are validated by that edit's own parameter model.
    fields: dict[str, Any] = {}
    if definition.parameters is not None:
        fields["parameters"] = (definition.parameters | None, None)
    return create_model(f"{definition.id}Setting", __base__=EditSetting, **fields)


# The "edits" object: one optional key per catalog id; any other key is an unknown edit id.
EditSettings: type[_Strict] = create_model(
    "EditSettings", __base__=_Strict, **{d.id: (_setting_model(d) | None, None) for d in CATALOG})


# ---------------------------------------------------------------- custom rules


def _codes(values: tuple[str, ...], what: str, check: Callable[[str], bool], expected: str) -> tuple[str, ...]:
    out = []
    for raw in values:
        value = raw.strip().upper()
        if not check(value):
            raise ValueError(f"{what} {raw!r}: expected {expected}")
        out.append(value)
    return tuple(out)


def _is_diagnosis_prefix(value: str) -> bool:
    return 1 <= len(value) <= 7 and value.isascii() and value.isalnum()


class When(_Strict):
    """Conditions of a custom rule; every given condition must hold."""

    payer_id: tuple[str, ...] | None = Field(default=None, min_length=1)
    procedure_codes: tuple[str, ...] | None = Field(default=None, min_length=1)  # exact, or prefix ending in '*'
    diagnosis_codes: tuple[str, ...] | None = Field(default=None, min_length=1)  # prefixes, dots ignored
    missing_diagnosis_codes: tuple[str, ...] | None = Field(default=None, min_length=1)
    modifier_any: tuple[str, ...] | None = Field(default=None, min_length=1)
    missing_modifier_any: tuple[str, ...] | None = Field(default=None, min_length=1)  # the line has none of them
    place_of_service: tuple[str, ...] | None = Field(default=None, min_length=1)
    units_above: Decimal | None = Field(default=None, ge=0)
    charge_above: Decimal | None = Field(default=None, ge=0)
    missing_prior_authorization: Literal[True] | None = None

    @field_validator("payer_id", mode="before")
    @classmethod
    def _one_payer_is_a_list(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("payer_id", mode="after")
    @classmethod
    def _payers(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return values and _codes(values, "payer id", lambda v: 1 <= len(v) <= 80, "1 to 80 characters")

    @field_validator("procedure_codes", mode="after")
    @classmethod
    def _procedures(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return values and normalize_code_patterns(values)

    @field_validator("diagnosis_codes", "missing_diagnosis_codes", mode="before")
    @classmethod
    def _drop_dots(cls, values: object) -> object:
        # ICD-10-CM is written with a dot (E11.9) but claims carry it without (E119).
        if isinstance(values, (list, tuple)):
            return [v.replace(".", "") if isinstance(v, str) else v for v in values]
        return values

    @field_validator("diagnosis_codes", "missing_diagnosis_codes", mode="after")
    @classmethod
    def _diagnoses(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return values and _codes(values, "diagnosis code prefix", _is_diagnosis_prefix,
                                "1 to 7 letters or digits of an ICD-10-CM code")

    @field_validator("modifier_any", "missing_modifier_any", mode="after")
    @classmethod
    def _modifiers(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return values and _codes(values, "modifier", lambda v: len(v) == 2 and v.isascii() and v.isalnum(),
                                "2 letters or digits")

    @field_validator("place_of_service", mode="after")
    @classmethod
    def _places(cls, values: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return values and _codes(values, "place of service", lambda v: v in PLACES_OF_SERVICE,
                                "a CMS place-of-service code")

    @model_validator(mode="after")
    def _not_empty(self) -> "When":
        # A rule without conditions would hold every claim for review.
        if all(getattr(self, c) is None for c in CONDITIONS):
            raise ValueError(f"a rule needs at least one condition: {', '.join(CONDITIONS)}")
        return self


CONDITIONS: tuple[str, ...] = tuple(When.model_fields)
# Conditions on a service line: a rule using any of them reports lines, otherwise the claim.
LINE_CONDITIONS = ("procedure_codes", "diagnosis_codes", "missing_diagnosis_codes", "modifier_any",
                   "missing_modifier_any", "units_above", "charge_above")


class CustomRule(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    enabled: bool = True
    when: When
    severity: Severity = "error"
    # Static text: it cannot interpolate claim values, so it cannot leak PHI into edits.
    message: str = Field(min_length=1, max_length=500)
    field: str | None = Field(default=None, max_length=100, pattern=r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*$")
    segment: str | None = Field(default=None, max_length=40)  # 837P loop/segment, for the reviewer

    @field_validator("id", mode="after")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value.upper().startswith(RESERVED_ID_PREFIXES):
            raise ValueError(f"ids starting with {'/'.join(RESERVED_ID_PREFIXES)} are reserved for built-in edits")
        return value

    @field_validator("message", mode="after")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("message must say what to fix")
        return value.strip()


# ---------------------------------------------------------------- documents


class RuleSetDocument(_Strict):
    tenant_id: str = Field(min_length=1, max_length=64)
    payer_id: str | None = Field(default=None, min_length=1, max_length=80)  # null: the tenant's default
    version: int = Field(ge=1)
    effective_from: IsoDate  # compared with the claim's date of service
    description: str | None = Field(default=None, max_length=500)
    edits: EditSettings = Field(default_factory=EditSettings)  # type: ignore[valid-type]
    custom_rules: tuple[CustomRule, ...] = ()

    @field_validator("payer_id", mode="after")
    @classmethod
    def _payer_key(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("use null for the tenant default")
        return payer_key(value)

    @field_validator("custom_rules", mode="after")
    @classmethod
    def _unique_ids(cls, rules: tuple[CustomRule, ...]) -> tuple[CustomRule, ...]:
        seen: set[str] = set()
        for rule in rules:
            if rule.id in seen:
                raise ValueError(f"custom rule id {rule.id!r} is used twice")
            seen.add(rule.id)
        return rules

    def setting(self, edit_id: str) -> EditSetting | None:
        return getattr(self.edits, edit_id, None)


def payer_key(payer_id: str | None) -> str | None:
    """Payer ids compare trimmed and case-blind (clearinghouse lists differ in case)."""
    return (payer_id.strip().upper() or None) if payer_id is not None else None


class RuleSetError(ValueError):
    """A rule-set document that cannot be used; errors are [{"field", "reason"}] for a 422 answer."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("invalid rule set: " + "; ".join(f"{e['field']}: {e['reason']}" for e in errors))
        self.errors = errors


def parse_rule_set(data: str | bytes | Mapping[str, Any]) -> RuleSetDocument:
    """Validate a rule-set document (JSON text or already-decoded object), listing every problem."""
    try:
        if isinstance(data, (str, bytes)):
            return RuleSetDocument.model_validate_json(data)
        return RuleSetDocument.model_validate(data)
    except ValidationError as exc:
        raise RuleSetError([_problem(e) for e in exc.errors(include_url=False, include_input=False)]) from None


def _problem(error: Mapping[str, Any]) -> dict[str, str]:
    loc = tuple(error.get("loc", ()))
    field = ".".join(str(p) for p in loc) or "document"
    reason = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        name = loc[-1] if loc else ""
        if len(loc) == 2 and loc[0] == "edits":
            reason = f"unknown edit id {name!r}: the catalog has {CATALOG[0].id}..{CATALOG[-1].id}"
        elif len(loc) >= 2 and loc[-2] == "when":
            reason = f"unknown condition {name!r}: use {', '.join(CONDITIONS)}"
        elif name == "parameters" and len(loc) == 3:
            source = next((d.parameters_from for d in CATALOG if d.id == loc[1]), None)
            reason = f"this edit takes its parameters from {source}" if source else "this edit has no parameters"
        else:
            reason = f"unknown key {name!r}"
    elif reason.startswith("Value error, "):
        reason = reason.removeprefix("Value error, ")
    return {"field": field, "reason": reason}


# ---------------------------------------------------------------- compiled rules


@dataclass(frozen=True)
class ActiveEdit:
    """A catalog edit as it runs for one tenant/payer: severity and message resolved, parameters typed."""

    definition: EditDefinition
    severity: Severity
    message: str
    parameters: EditParameters | None

    @property
    def id(self) -> str:
        return self.definition.id


def _diagnosis(code: str) -> str:
    return code.replace(".", "").upper()


@dataclass(frozen=True)
class CompiledRule:
    """A custom rule with its conditions turned into sets and prefixes, evaluated without any parsing."""

    id: str
    severity: Severity
    message: str
    field: str | None
    payers: frozenset[str] | None
    places: frozenset[str] | None
    missing_authorization: bool
    procedures: frozenset[str] | None
    procedure_prefixes: tuple[str, ...]
    diagnosis_any: tuple[str, ...] | None
    diagnosis_none: tuple[str, ...] | None
    modifier_any: frozenset[str] | None
    modifier_missing: frozenset[str] | None
    units_above: Decimal | None
    charge_above: Decimal | None
    line_scoped: bool

    @classmethod
    def of(cls, rule: CustomRule) -> "CompiledRule":
        w = rule.when
        codes = w.procedure_codes
        as_set = lambda values: frozenset(values) if values is not None else None  # noqa: E731
        return cls(
            id=rule.id, severity=rule.severity, message=rule.message, field=rule.field,
            payers=as_set(w.payer_id), places=as_set(w.place_of_service),
            missing_authorization=bool(w.missing_prior_authorization),
            procedures=split_code_patterns(codes)[0] if codes is not None else None,
            procedure_prefixes=split_code_patterns(codes)[1] if codes is not None else (),
            diagnosis_any=w.diagnosis_codes, diagnosis_none=w.missing_diagnosis_codes,
            modifier_any=as_set(w.modifier_any), modifier_missing=as_set(w.missing_modifier_any),
            units_above=w.units_above, charge_above=w.charge_above,
            line_scoped=any(getattr(w, c) is not None for c in LINE_CONDITIONS),
        )

    def hits(self, claim: Claim) -> list[int | None]:
        """Line numbers the rule holds for, [None] for a claim-level hit, [] when it does not apply."""
        if self.payers is not None and (claim.coverage is None or payer_key(claim.coverage.payer_id) not in self.payers):
            return []
        if self.places is not None and claim.place_of_service not in self.places:
            return []
        if self.missing_authorization and (claim.prior_authorization or "").strip():
            return []
        if not self.line_scoped:
            return [None]
        return [line.line_number for line in claim.lines if self._line_holds(claim, line)]

    def _line_holds(self, claim: Claim, line: ServiceLine) -> bool:
        if self.procedures is not None:
            code = line.procedure_code.upper()
            if code not in self.procedures and not (self.procedure_prefixes and code.startswith(self.procedure_prefixes)):
                return False
        if self.units_above is not None and not line.units > self.units_above:
            return False
        if self.charge_above is not None and not line.charge > self.charge_above:
            return False
        if self.modifier_any is not None and not any(m in self.modifier_any for m in line.modifiers):
            return False
        if self.modifier_missing is not None and any(m in self.modifier_missing for m in line.modifiers):
            return False
        if self.diagnosis_any is not None or self.diagnosis_none is not None:
            # Medical necessity is judged per line, on the diagnoses the line points at (SV107).
            n = len(claim.diagnoses)
            pointed = [_diagnosis(claim.diagnoses[p - 1]) for p in line.diagnosis_pointers if 1 <= p <= n]
            if self.diagnosis_any is not None and not any(d.startswith(self.diagnosis_any) for d in pointed):
                return False
            if self.diagnosis_none is not None and any(d.startswith(self.diagnosis_none) for d in pointed):
                return False
        return True


@dataclass(frozen=True)
class RuleSetRef:
    tenant_id: str
    payer_id: str | None
    version: int


@dataclass(frozen=True, eq=False)
class EffectiveRuleSet:
    """What runs on a claim: enabled catalog edits (catalog order) and enabled custom rules."""

    edits: tuple[ActiveEdit, ...]
    custom_rules: tuple[CompiledRule, ...]
    sources: tuple[RuleSetRef, ...] = ()  # documents overlaid, tenant default first; () = built-in defaults

    def active(self, edit_id: str) -> ActiveEdit | None:
        return next((e for e in self.edits if e.id == edit_id), None)


def compile_rule_set(*layers: RuleSetDocument) -> EffectiveRuleSet:
    """Overlay documents (lowest first) on the built-in defaults and compile the result once."""
    resolved: dict[str, tuple[bool, Severity, EditParameters | None]] = {}
    for definition in CATALOG:
        enabled, severity, overrides = True, definition.severity, {}
        for layer in layers:
            setting = layer.setting(definition.id)
            if setting is None:
                continue
            if setting.enabled is not None:
                enabled = setting.enabled
            if setting.severity is not None:
                severity = setting.severity
            parameters = getattr(setting, "parameters", None)
            if parameters is not None:
                overrides.update(parameters.model_dump(exclude_unset=True))
        typed = definition.parameters.model_validate(overrides) if definition.parameters else None
        resolved[definition.id] = (enabled, severity, typed)

    edits = []
    for definition in CATALOG:
        enabled, severity, parameters = resolved[definition.id]
        if not enabled:
            continue
        if definition.parameters_from:
            parameters = resolved[definition.parameters_from][2]
        message = definition.message.format(**parameters.model_dump()) if parameters else definition.message
        edits.append(ActiveEdit(definition, severity, message, parameters))

    rules: dict[str, CustomRule] = {}
    for layer in layers:
        for rule in layer.custom_rules:
            rules[rule.id] = rule  # same id: the payer's version replaces the tenant's, in its place
    return EffectiveRuleSet(
        edits=tuple(edits),
        custom_rules=tuple(CompiledRule.of(r) for r in rules.values() if r.enabled),
        sources=tuple(RuleSetRef(d.tenant_id, d.payer_id, d.version) for d in layers),
    )


DEFAULT_RULE_SET = compile_rule_set()


def default_document(tenant_id: str) -> RuleSetDocument:
    """The built-in defaults written out as a tenant document: a starting point to edit and save."""
    edits = {}
    for d in CATALOG:
        setting: dict[str, Any] = {"enabled": True, "severity": d.severity}
        if d.parameters is not None:
            setting["parameters"] = d.parameters().model_dump(mode="json")
        edits[d.id] = setting
    return RuleSetDocument.model_validate({"tenant_id": tenant_id, "payer_id": None, "version": 1,
                                           "effective_from": date.min, "edits": edits})


# ---------------------------------------------------------------- resolution


class RuleSetLibrary:
    """Every stored version of a deployment's rule sets; resolves the effective set for a claim.

    Compiled sets are cached per (tenant, payer, chosen versions), so scrubbing a batch compiles each
    combination once. A library is immutable: build a new one when documents change.
    """

    def __init__(self, documents: Iterable[RuleSetDocument] = ()) -> None:
        versions: dict[tuple[str, str | None], list[RuleSetDocument]] = {}
        for doc in documents:
            same = versions.setdefault((doc.tenant_id, doc.payer_id), [])
            if any(d.version == doc.version for d in same):
                raise RuleSetError([{"field": "version", "reason": (
                    f"version {doc.version} of tenant {doc.tenant_id!r} payer {doc.payer_id!r} is given twice")}])
            same.append(doc)
        self._versions = {k: sorted(v, key=lambda d: d.version, reverse=True) for k, v in versions.items()}
        # Keyed by the chosen documents' identities: the library holds them, so ids stay unique.
        self._compiled: dict[tuple[int, int], EffectiveRuleSet] = {}

    def select(self, tenant_id: str, payer_id: str | None, on: date) -> RuleSetDocument | None:
        """The highest version in force on the date (a later version may start later)."""
        return self._select(tenant_id, payer_key(payer_id), on)

    def _select(self, tenant_id: str, payer: str | None, on: date) -> RuleSetDocument | None:
        for doc in self._versions.get((tenant_id, payer), ()):
            if doc.effective_from <= on:
                return doc
        return None

    def effective(self, tenant_id: str, payer_id: str | None, *, on: date) -> EffectiveRuleSet:
        payer = payer_key(payer_id)
        base = self._select(tenant_id, None, on)
        specific = self._select(tenant_id, payer, on) if payer else None
        if base is None and specific is None:
            return DEFAULT_RULE_SET
        key = (id(base), id(specific))
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = compile_rule_set(*(d for d in (base, specific) if d is not None))
        return compiled

    def for_claim(self, claim: Claim, tenant_id: str) -> EffectiveRuleSet:
        payer = claim.coverage.payer_id if claim.coverage else None
        return self.effective(tenant_id, payer, on=claim.service_date)
