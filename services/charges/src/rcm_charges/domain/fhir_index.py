"""A FHIR R4B Bundle read for intake (pure, no I/O): its entries validated one by one, looked up by the
keys a Reference may use, and split per Encounter.

Entries are validated one at a time, not as one Bundle model, so that one invalid resource rejects only
the encounter it belongs to (a shared one, such as the Patient, every encounter that needs it), and so
that only the resource types intake reads are validated: a patient history export is mostly
ExplanationOfBenefit, Observation and Immunization, which no claim uses (their resourceType is checked,
their content is not). A Bundle that is not FHIR at all (not an object, not a Bundle, an entry that is
not an object or names no FHIR type) is rejected whole: `IntakeError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import fhir.resources.R4B as fhir_r4b
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.reference import Reference
from pydantic import ValidationError

from rcm_charges.domain.intake_errors import IntakeError, Problems, reason_of

# The types intake reads: validated in full. Any other type is carried along unread.
READ_TYPES = frozenset({"Patient", "Encounter", "Coverage", "Organization", "Practitioner", "PractitionerRole",
                        "RelatedPerson", "Condition", "Procedure", "ChargeItem", "Claim"})
# fhir.resources does not enforce the required BundleType binding
BUNDLE_TYPES = frozenset({"document", "message", "transaction", "transaction-response", "batch", "batch-response",
                          "history", "searchset", "collection"})


@dataclass(frozen=True)
class Entry:
    index: int
    resource: Any  # a fhir.resources R4B resource model

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    @property
    def resource_type(self) -> str:
        return self.resource.get_resource_type()


@dataclass
class _Invalid:
    """An entry of a read type that failed validation: its problems, and the encounter it names (raw)."""

    index: int
    resource_type: str
    errors: list[dict]
    encounter_refs: list[str]
    keys: list[str]  # the keys a Reference may use to point at it


@dataclass
class BundleIndex:
    """Entries by type and by reference key (entry.fullUrl, ResourceType/id); invalid entries kept apart."""

    bundle_type: str | None
    entry_count: int
    entries: list[Entry] = field(default_factory=list)
    invalid: list[_Invalid] = field(default_factory=list)
    by_reference: dict[str, Entry] = field(default_factory=dict)

    def of_type(self, resource_type: str) -> list[Entry]:
        return [e for e in self.entries if e.resource_type == resource_type]

    def resolve(self, reference: Reference | str | None, resource_type: str | None = None) -> Entry | None:
        target = reference.reference if isinstance(reference, Reference) else reference
        if not target:
            return None
        target = target.split("/_history/")[0]
        entry = self.by_reference.get(target)
        if entry is None and "/" in target:
            # an absolute URL whose fullUrl differs from the server base: fall back to Type/id
            entry = self.by_reference.get("/".join(target.rstrip("/").split("/")[-2:]))
        if entry is None or (resource_type is not None and entry.resource_type != resource_type):
            return None
        return entry

    def split(self) -> list["EncounterScope"]:
        """One scope per Encounter (valid or not), in bundle order. An entry pointing at an encounter
        (Condition.encounter, Procedure.encounter, ChargeItem.context, Claim.item.encounter) belongs to that
        encounter only; an entry pointing at none is shared (Patient, Coverage, Organization, ...). With a
        single Encounter every entry is in its scope, whatever it points at."""
        encounters = self.of_type("Encounter")
        invalid_encounters = [i for i in self.invalid if i.resource_type == "Encounter"]
        single = len(encounters) + len(invalid_encounters) == 1
        owners = {e.index: i for i, e in enumerate(encounters)}
        invalid_keys = {key: inv.index for inv in invalid_encounters for key in inv.keys}
        own: dict[int, list[Entry]] = {e.index: [] for e in encounters}
        shared: list[Entry] = []
        for entry in self.entries:
            if entry.resource_type == "Encounter":
                continue
            refs = encounter_references(entry.resource)
            if single or not refs:
                shared.append(entry)
                continue
            for ref in refs:
                target = self.resolve(ref, "Encounter")
                if target is not None and target.index in owners:
                    own[target.index].append(entry)
        # problems of invalid entries: those naming an encounter go to it, the others to every encounter
        problems: dict[int, list[dict]] = {}
        shared_problems: list[dict] = []
        for inv in self.invalid:
            if inv.resource_type == "Encounter":
                problems.setdefault(inv.index, []).extend(inv.errors)
                continue
            targets = set()
            for ref in inv.encounter_refs:
                found = self.resolve(ref, "Encounter")
                if found is not None:
                    targets.add(found.index)
                elif ref.split("/_history/")[0] in invalid_keys:
                    targets.add(invalid_keys[ref.split("/_history/")[0]])
            if single or not inv.encounter_refs:
                shared_problems.extend(inv.errors)
            for target in targets:
                problems.setdefault(target, []).extend(inv.errors)
        scopes = [EncounterScope(self, e, [e, *shared, *own[e.index]], [*shared_problems, *problems.get(e.index, [])])
                  for e in encounters]
        scopes += [EncounterScope(self, None, shared, [*shared_problems, *problems.get(inv.index, [])],
                                  invalid_index=inv.index, invalid_source_id=_raw_source_id(inv))
                   for inv in invalid_encounters]
        return sorted(scopes, key=lambda s: s.entry_index)


@dataclass
class EncounterScope:
    """The bundle seen from one encounter: its own entries and the shared ones; references still
    resolve against the whole bundle. `encounter` is None when the Encounter itself is invalid."""

    bundle: BundleIndex
    encounter: Entry | None
    entries: list[Entry]
    problems: list[dict]
    invalid_index: int | None = None
    invalid_source_id: str | None = None

    @property
    def entry_index(self) -> int:
        return self.encounter.index if self.encounter is not None else self.invalid_index

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.entry_index}].resource"

    def of_type(self, resource_type: str) -> list[Entry]:
        return [e for e in self.entries if e.resource_type == resource_type]

    def resolve(self, reference: Reference | str | None, resource_type: str | None = None) -> Entry | None:
        return self.bundle.resolve(reference, resource_type)


def read_bundle(raw: Any) -> BundleIndex:
    """Raises IntakeError only when the input is not a FHIR Bundle at all."""
    problems = Problems()
    if not isinstance(raw, dict):
        problems.add("Bundle", "must be a JSON object")
    elif raw.get("resourceType") != "Bundle":
        problems.add("Bundle.resourceType", "must be 'Bundle'")
    elif "entry" in raw and not isinstance(raw["entry"], list):
        problems.add("Bundle.entry", "must be an array")
    problems.raise_if_any()
    raw_entries = raw.get("entry") or []
    _check_shell(raw, raw_entries, problems)
    problems.raise_if_any()

    index = BundleIndex(bundle_type=raw.get("type"), entry_count=len(raw_entries))
    for i, raw_entry in enumerate(raw_entries):
        resource = raw_entry.get("resource")
        if resource is None:
            continue  # e.g. a DELETE request in a batch
        resource_type = resource["resourceType"]
        keys = _reference_keys(raw_entry, resource)
        if resource_type not in READ_TYPES:
            continue
        try:
            model = fhir_r4b.get_fhir_model_class(resource_type).model_validate(resource)
        except ValidationError as exc:
            errors = [{"field": fhir_path(f"Bundle.entry[{i}].resource", err["loc"]), "reason": reason_of(err["msg"])}
                      for err in exc.errors(include_input=False, include_url=False, include_context=False)]
            index.invalid.append(_Invalid(i, resource_type, errors, _raw_encounter_refs(resource), keys))
            continue
        except (KeyError, TypeError, ValueError):
            # fhir_core raises a bare KeyError for an unknown resourceType nested in contained[]
            index.invalid.append(_Invalid(i, resource_type, [{
                "field": f"Bundle.entry[{i}].resource",
                "reason": "contains a value or nested resource that is not valid FHIR R4B"}],
                _raw_encounter_refs(resource), keys))
            continue
        entry = Entry(i, model)
        index.entries.append(entry)
        for key in keys:
            index.by_reference[key] = entry
    return index


def _check_shell(raw: dict, raw_entries: list, problems: Problems) -> None:
    """The Bundle's own elements (type, meta, ...) and each entry's resourceType: fhir.resources crashes
    (KeyError) on unknown types and silently accepts a typeless one. Entry elements other than the resource
    (fullUrl, request, search) are not validated: intake reads fullUrl as a plain key, and validating ten
    thousand entry shells costs as much as the resources intake reads."""
    for i, entry in enumerate(raw_entries):
        if not isinstance(entry, dict):
            problems.add(f"Bundle.entry[{i}]", "must be an object")
            continue
        if "resource" not in entry:
            continue
        resource = entry["resource"]
        field_name = f"Bundle.entry[{i}].resource.resourceType"
        resource_type = resource.get("resourceType") if isinstance(resource, dict) else None
        if not isinstance(resource, dict):
            problems.add(f"Bundle.entry[{i}].resource", "must be an object")
        elif not isinstance(resource_type, str) or not resource_type:
            problems.add(field_name, "is required")
        elif resource_type not in _KNOWN_TYPES:
            try:
                fhir_r4b.get_fhir_model_class(resource_type)
                _KNOWN_TYPES.add(resource_type)
            except ValueError:
                problems.add(field_name, "is not a FHIR R4B resource type")
    if raw.get("type") is not None and raw.get("type") not in BUNDLE_TYPES:
        problems.add("Bundle.type", "must be a FHIR BundleType code (" + ", ".join(sorted(BUNDLE_TYPES)) + ")")
    if problems.errors:
        return
    try:
        Bundle.model_validate({k: v for k, v in raw.items() if k != "entry"})
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False, include_context=False):
            problems.add(fhir_path("Bundle", err["loc"]), reason_of(err["msg"]))


_KNOWN_TYPES: set[str] = set()  # resource type names fhir.resources knows (a cache of its lookup)


def _reference_keys(raw_entry: dict, resource: dict) -> list[str]:
    keys = []
    if isinstance(raw_entry.get("fullUrl"), str) and raw_entry["fullUrl"]:
        keys.append(raw_entry["fullUrl"])
    if isinstance(resource.get("id"), str) and resource["id"]:
        keys.append(f"{resource['resourceType']}/{resource['id']}")
    return keys


def _raw_encounter_refs(resource: dict) -> list[str]:
    """encounter_references() on an entry that failed validation (best effort, from the raw JSON)."""
    def ref(value: Any) -> list[str]:
        return [value["reference"]] if isinstance(value, dict) and isinstance(value.get("reference"), str) else []

    resource_type = resource.get("resourceType")
    if resource_type == "ChargeItem":
        return ref(resource.get("context"))
    if resource_type == "Claim":
        items = resource.get("item") if isinstance(resource.get("item"), list) else []
        return [r for item in items if isinstance(item, dict)
                for enc in (item.get("encounter") if isinstance(item.get("encounter"), list) else [])
                for r in ref(enc)]
    return ref(resource.get("encounter"))


def _raw_source_id(inv: _Invalid) -> str | None:
    key = next((k for k in inv.keys if k.startswith("Encounter/")), None)
    return key.split("/", 1)[1] if key else None


def encounter_references(resource: Any) -> list[Reference]:
    """Where a resource says which encounter it belongs to; none means it is shared (Patient, ...)."""
    resource_type = resource.get_resource_type()
    if resource_type == "ChargeItem":
        return [resource.context] if resource.context else []
    if resource_type == "Claim":
        return [ref for item in resource.item or [] for ref in item.encounter or []]
    encounter = getattr(resource, "encounter", None)
    return [encounter] if isinstance(encounter, Reference) else []


def codings(concept: CodeableConcept | Iterable[CodeableConcept] | None) -> list[Coding]:
    if concept is None:
        return []
    if isinstance(concept, CodeableConcept):
        return list(concept.coding or [])
    return [coding for c in concept for coding in (c.coding or [])]


def fhir_path(prefix: str, loc: tuple) -> str:
    """('entry', 2, 'resource', 'code') -> 'Bundle.entry[2].resource.code'."""
    path = prefix
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "root":  # fhir_core's marker for 'the value itself'
            path += f".{part}"
    return path


def no_single(resource_type: str, found: int) -> IntakeError:
    hint = " (a multi-encounter bundle, such as a patient history export, must be split first)"
    return IntakeError([{"field": resource_type,
                         "reason": f"the bundle needs exactly one {resource_type} resource, found {found}"
                         + (hint if resource_type == "Encounter" and found else "")}])
