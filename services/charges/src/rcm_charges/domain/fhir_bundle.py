"""FHIR R4B Bundle -> EncounterSubmitted (pure, no I/O): one encounter as an EHR POSTs it, or a
patient's multi-encounter export (Synthea) split per encounter.

Each Encounter of a Bundle is mapped on its own (read_encounters): one bad encounter, or a bad resource
only it uses, rejects that encounter alone. The coverage is chosen as FHIR says (fhir_coverage); what a
person must resolve (no member id, several coverages and no rule) travels as `intake_issues` and charges
holds the encounter. Every rejection is an IntakeError listing field paths and reasons. Reasons are written here or
taken from pydantic's message templates, never from the input, so no PHI leaks into responses or logs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

from fhir.resources.R4B.codeableconcept import CodeableConcept
from fhir.resources.R4B.coding import Coding
from fhir.resources.R4B.extension import Extension
from pydantic import BaseModel, ValidationError

from rcm_charges.domain.fhir_coverage import choose_coverage
from rcm_charges.domain.fhir_index import EncounterScope, Entry, codings, fhir_path, no_single, read_bundle
from rcm_charges.domain.intake_errors import IntakeError, Problems, reason_of
from rcm_contracts.claim import Address, Person, Provider
from rcm_contracts.events import EncounterLine, EncounterSubmitted

CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"
HCPCS_SYSTEM = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
BILLABLE_CODE_SYSTEMS = frozenset({CPT_SYSTEM, HCPCS_SYSTEM})
ICD10CM_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
SNOMED_SYSTEM = "http://snomed.info/sct"
CVX_SYSTEM = "http://hl7.org/fhir/sid/cvx"

MODIFIER_EXTENSION_SUFFIX = "/procedure-modifier"
CHARGE_EXTENSION_SUFFIX = "/charge-amount"
PLACE_OF_SERVICE_EXTENSION_SUFFIX = "place-of-service"

DEFAULT_PLACE_OF_SERVICE = "11"  # office
PLACE_OF_SERVICE_BY_ENCOUNTER_CLASS = {
    "AMB": "11",  # office
    "EMER": "23",  # emergency room - hospital
    "IMP": "21",  # inpatient hospital
    "VR": "02",  # telehealth other than in patient's home
    "HH": "12",  # home
}
SEX_BY_GENDER = {"male": "M", "female": "F", "other": "U", "unknown": "U"}

MAX_DIAGNOSES = 12  # CMS-1500 / 837P carry at most 12 diagnosis codes
MAX_MODIFIERS = 4
MAX_LINES = 50  # 837P loop 2400 repeats at most 50 times
MAX_SOURCE_DIAGNOSES = 50
MAX_PROVIDER_NAME = 60

UNBILLABLE_ENCOUNTER_STATUSES = frozenset({"cancelled", "entered-in-error"})
UNBILLABLE_PROCEDURE_STATUSES = frozenset({"not-done", "entered-in-error"})
UNBILLABLE_CHARGE_ITEM_STATUSES = frozenset({"not-billable", "aborted", "entered-in-error"})

ContractT = TypeVar("ContractT", bound=BaseModel)

_PROCEDURE_CODE = re.compile(r"^[A-Z0-9]{5}$")  # CPT (5 digits / 4+letter) and HCPCS Level II
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_PLACE_OF_SERVICE = re.compile(r"^\d{2}$")
_STATE = re.compile(r"^[A-Z]{2}$")
_SNOMED_CODE = re.compile(r"^[0-9]{6,18}$")
_CVX_CODE = re.compile(r"^[0-9]{1,3}$")


_Problems = Problems  # the mapping code's local name


# ---------------------------------------------------------------- public entry points
@dataclass(frozen=True)
class EncounterOutcome:
    """One Encounter of a Bundle: its submission, or the problems that reject it (each with field and
    reason). An encounter the mapper could only half-read (no member id, no rule choosing the coverage)
    is a submission with `intake_issues`: charges holds it."""

    entry_index: int
    source_encounter_id: str | None
    submission: EncounterSubmitted | None = None
    errors: tuple[dict, ...] = ()

    @property
    def entry(self) -> str:
        return f"Bundle.entry[{self.entry_index}].resource"


@dataclass(frozen=True)
class BundleEncounters:
    bundle_type: str | None
    entry_count: int
    outcomes: list[EncounterOutcome]


def read_encounters(bundle: Any, *, source_system: str) -> BundleEncounters:
    """Every Encounter of a Bundle (one visit as an EHR POSTs it, or a patient's history export),
    each mapped on its own: captured, held or rejected independently. Raises IntakeError only when the
    input is not a FHIR Bundle at all, or holds no Encounter."""
    index = read_bundle(bundle)
    scopes = index.split()
    if not scopes:
        raise no_single("Encounter", 0)
    outcomes = []
    for scope in scopes:
        try:
            submission = _encounter_submission(scope, source_system)
            outcomes.append(EncounterOutcome(scope.entry_index, submission.source_encounter_id, submission))
        except IntakeError as exc:
            outcomes.append(EncounterOutcome(scope.entry_index, _source_id_of(scope), errors=tuple(exc.errors)))
    return BundleEncounters(index.bundle_type, index.entry_count, outcomes)


def bundle_to_encounter(bundle: Any, *, source_system: str) -> EncounterSubmitted:
    """A single-encounter bundle (an EHR posting one visit); IntakeError when it holds several."""
    read = read_encounters(bundle, source_system=source_system)
    if len(read.outcomes) != 1:
        raise no_single("Encounter", len(read.outcomes))
    [outcome] = read.outcomes
    if outcome.errors:
        raise IntakeError(list(outcome.errors))
    return outcome.submission


def _source_id_of(scope: EncounterScope) -> str | None:
    if scope.encounter is None:
        return scope.invalid_source_id
    return _encounter_id(scope.encounter.resource)


def _encounter_id(enc: Any) -> str | None:
    """The EHR's id of an encounter: its first identifier's value, else the resource id."""
    return (enc.identifier[0].value if enc.identifier and enc.identifier[0].value else None) or enc.id or None


def _encounter_submission(scope: EncounterScope, source_system: str) -> EncounterSubmitted:
    problems = _Problems()
    for problem in scope.problems:  # invalid entries this encounter needs
        problems.add(problem["field"], problem["reason"])
    problems.raise_if_any()
    encounter = scope.encounter
    enc = encounter.resource
    patient = _patient_entry(scope, enc)
    if enc.status in UNBILLABLE_ENCOUNTER_STATUSES:
        problems.add("Encounter.status", "a cancelled or entered-in-error encounter is not billable")
    service_date = _service_date(enc, problems)
    choice = choose_coverage(scope, patient, service_date)
    values = {
        "source_system": source_system,
        "source_encounter_id": _source_encounter_id(enc, problems),
        "service_date": service_date,
        "place_of_service": _place_of_service(enc, problems),
        "patient": _patient(patient.resource, problems) if patient is not None else None,
        "coverage": choice.coverage,
        "secondary_coverage": choice.secondary,
        "self_pay": choice.self_pay,
        "intake_issues": choice.issues,
        "billing_provider": _billing_provider(enc, scope, problems),
        "rendering_provider": _rendering_provider(enc, scope, problems),
        "diagnoses": _diagnoses(scope),
        "source_diagnoses": _source_diagnoses(scope),
        "lines": _service_lines(scope, problems),
        "prior_authorization": _prior_authorization(scope),
    }
    if patient is None:
        found = len(scope.bundle.of_type("Patient"))
        problems.add("Patient", f"the bundle needs exactly one Patient resource, found {found}" if found != 1
                     else "Encounter.subject does not resolve to the Patient of the bundle")
    problems.raise_if_any()

    submission = _contract(
        EncounterSubmitted,
        problems,
        prefix="Encounter",
        paths={
            "source_system": "source_system",  # the caller's argument, not a bundle field
            "source_encounter_id": "Encounter.identifier[0].value",
            "lines": "Procedure",
        },
        **values,
    )
    problems.raise_if_any()
    return submission


def _patient_entry(scope: EncounterScope, enc: Any) -> Entry | None:
    """Encounter.subject; the bundle's only Patient when the subject does not resolve (or is absent)."""
    subject = scope.resolve(enc.subject, "Patient")
    if subject is not None:
        return subject
    patients = scope.bundle.of_type("Patient")
    return patients[0] if len(patients) == 1 else None


def _prior_authorization(index: EncounterScope) -> str | None:
    """Claim.insurance.preAuthRef of a FHIR Claim in the bundle (the EHR's prior-authorization number)."""
    for entry in index.of_type("Claim"):
        for insurance in entry.resource.insurance or []:
            for ref in insurance.preAuthRef or []:
                if ref and ref.strip():
                    return ref.strip()[:50]
    return None


# ---------------------------------------------------------------- encounter
def _source_encounter_id(enc: Any, problems: _Problems) -> str | None:
    found = _encounter_id(enc)
    if found is None:
        problems.add("Encounter.identifier[0].value", "is required (or Encounter.id)")
    return found


def _service_date(enc: Any, problems: _Problems) -> date | None:
    start = enc.period.start if enc.period is not None else None
    if start is None:
        problems.add("Encounter.period.start", "is required: it is the date of service")
        return None
    return _full_date(start, "Encounter.period.start", problems)


def _full_date(value: Any, field: str, problems: _Problems) -> date | None:
    """FHIR allows partial dates ('2020', '2020-04'), which fhir.resources keeps as str; claims need a day."""
    if isinstance(value, datetime):
        return value.date()  # the local date the EHR recorded, not its UTC date
    if isinstance(value, date):
        return value
    problems.add(field, "must be a full date (year, month and day)")
    return None


def _place_of_service(enc: Any, problems: _Problems) -> str:
    for i, ext in enumerate(enc.extension or []):
        if ext.url and ext.url.endswith(PLACE_OF_SERVICE_EXTENSION_SUFFIX):
            code = _extension_code(ext)
            if code is None or not _PLACE_OF_SERVICE.match(code):
                problems.add(f"Encounter.extension[{i}]", "place-of-service extension needs a 2-digit CMS POS code")
                return DEFAULT_PLACE_OF_SERVICE
            return code
    # serviceType's usual value set is also numeric, so only trust a coding from a POS code system
    for coding in codings(enc.serviceType):
        if coding.system and "place-of-service" in coding.system.lower():
            if coding.code and _PLACE_OF_SERVICE.match(coding.code):
                return coding.code
    encounter_class = enc.class_fhir.code if enc.class_fhir is not None else None
    return PLACE_OF_SERVICE_BY_ENCOUNTER_CLASS.get(encounter_class or "", DEFAULT_PLACE_OF_SERVICE)


def _extension_code(ext: Extension) -> str | None:
    if ext.valueCode or ext.valueString:
        return (ext.valueCode or ext.valueString).strip()
    if ext.valueCoding is not None:
        return ext.valueCoding.code
    codes = [c.code for c in codings(ext.valueCodeableConcept) if c.code]
    return codes[0] if codes else None


# ---------------------------------------------------------------- patient
def _patient(pat: Any, problems: _Problems) -> Person | None:
    name = pat.name[0] if pat.name else None
    if name is None:
        problems.add("Patient.name", "is required")
    elif not name.given or not name.given[0]:
        problems.add("Patient.name[0].given[0]", "is required: the patient's first name")
    if name is not None and not name.family:
        problems.add("Patient.name[0].family", "is required: the patient's last name")

    birth_date = None
    if pat.birthDate is None:
        problems.add("Patient.birthDate", "is required")
    else:
        birth_date = _full_date(pat.birthDate, "Patient.birthDate", problems)

    # fhir.resources does not enforce the AdministrativeGender binding, so check it here
    if pat.gender is not None and pat.gender not in SEX_BY_GENDER:
        problems.add("Patient.gender", "must be one of male, female, other, unknown")
    sex = SEX_BY_GENDER.get(pat.gender or "", "U")

    if name is None or not name.given or not name.family or birth_date is None:
        return None
    return _contract(
        Person,
        problems,
        prefix="Patient",
        paths={"first_name": "Patient.name[0].given[0]", "last_name": "Patient.name[0].family"},
        first_name=name.given[0],
        last_name=name.family,
        birth_date=birth_date,
        sex=sex,
        address=_address(pat.address[0] if pat.address else None),
    )


def _address(addr: Any) -> Address | None:
    """Optional on the contract: an incomplete or non-US-shaped address is dropped, not rejected."""
    if addr is None or not addr.line or not addr.city or not addr.state or not addr.postalCode:
        return None
    state = addr.state.strip().upper()
    postal_code = "".join(ch for ch in addr.postalCode if ch.isdigit())
    if not _STATE.match(state) or len(postal_code) not in (5, 9):
        return None
    try:
        return Address(
            line1=addr.line[0],
            line2=addr.line[1] if len(addr.line) > 1 else None,
            city=addr.city,
            state=state,
            postal_code=postal_code,
        )
    except ValidationError:
        return None


# ---------------------------------------------------------------- providers
def _billing_provider(enc: Any, index: EncounterScope, problems: _Problems) -> Provider | None:
    """None when the encounter names no billing organization with an NPI (Synthea's carry none): the
    tenant's default billing provider applies, or completeness review holds the encounter."""
    if enc.serviceProvider is None:
        return None
    org = index.resolve(enc.serviceProvider, "Organization")
    if org is None:
        problems.add("Encounter.serviceProvider", "does not resolve to an Organization entry in the bundle")
        return None
    npi = _npi_identifier(org.resource)
    if npi is None:
        return None
    return _provider(org, npi, org.resource.name, problems)


def _rendering_provider(enc: Any, index: EncounterScope, problems: _Problems) -> Provider | None:
    """Optional: without a resolvable Practitioner NPI the billing provider renders the service."""
    participant = enc.participant[0] if enc.participant else None
    practitioner = index.resolve(participant.individual if participant else None, "Practitioner")
    if practitioner is None:
        return None
    npi = _npi_identifier(practitioner.resource)
    if npi is None:
        return None
    return _provider(practitioner, npi, _practitioner_name(practitioner.resource), problems)


def _npi_identifier(resource: Any) -> tuple[int, str] | None:
    for i, identifier in enumerate(resource.identifier or []):
        if identifier.system == NPI_SYSTEM and identifier.value:
            return i, identifier.value.strip()
    return None


def _practitioner_name(practitioner: Any) -> str | None:
    if not practitioner.name:
        return None
    name = practitioner.name[0]
    return " ".join([*(name.given or []), *([name.family] if name.family else [])]) or None


def _provider(entry: Entry, npi: tuple[int, str], name: str | None, problems: _Problems) -> Provider | None:
    npi_index, npi_value = npi
    return _contract(
        Provider,
        problems,
        prefix=entry.path,
        paths={"npi": f"{entry.path}.identifier[{npi_index}].value", "name": f"{entry.path}.name"},
        npi=npi_value,
        name=name[:MAX_PROVIDER_NAME] if name else None,
    )


# ---------------------------------------------------------------- diagnoses
def _diagnoses(index: EncounterScope) -> list[str]:
    """ICD-10-CM codes in bundle order, as claims carry them: no dot, upper case, each once."""
    codes: list[str] = []
    for entry in index.of_type("Condition"):
        for coding in codings(entry.resource.code):
            if coding.system == ICD10CM_SYSTEM and coding.code:
                code = coding.code.replace(".", "").strip().upper()
                if code and code not in codes:
                    codes.append(code)
    return codes[:MAX_DIAGNOSES]


def _source_diagnoses(index: EncounterScope) -> list[dict]:
    """SNOMED CT conditions of an encounter with no ICD-10-CM coding: the coder maps them."""
    found: list[dict] = []
    for entry in index.of_type("Condition"):
        found_codings = codings(entry.resource.code)
        if any(c.system == ICD10CM_SYSTEM for c in found_codings):
            continue
        for coding in found_codings:
            code = (coding.code or "").strip()
            if coding.system == SNOMED_SYSTEM and _SNOMED_CODE.match(code):
                item = {"system": "snomed-ct", "code": code}
                if item not in found:
                    found.append(item)
    return found[:MAX_SOURCE_DIAGNOSES]


# ---------------------------------------------------------------- service lines
def _service_lines(index: EncounterScope, problems: _Problems) -> list[EncounterLine]:
    lines: list[EncounterLine] = []
    billable_found = False
    for entry in _billable_sources(index):
        found = _billable_coding(entry.resource.code)
        if found is None:
            continue
        billable_found = True
        if entry.resource.get_resource_type() == "Procedure":
            line = _procedure_line(entry, found, problems)
        else:
            line = _charge_item_line(entry, found, problems)
        if line is not None:
            lines.append(line)

    if not billable_found:
        lines = _source_coded_lines(index, problems)
    if not billable_found and not lines:
        problems.add(
            "Procedure",
            f"no billable service found: no Procedure or ChargeItem coded in CPT/HCPCS ({CPT_SYSTEM} or "
            f"{HCPCS_SYSTEM}), and no Claim item or Procedure coded in SNOMED CT or CVX for a coder to code",
        )
    return lines


def _source_coded_lines(index: EncounterScope, problems: _Problems) -> list[EncounterLine]:
    """Services the EHR coded in SNOMED CT / CVX only (Synthea): they travel as they came, with the
    EHR's charge when it sent one, and coding sends the claim to the coder queue. The EHR's Claim
    items are its billing view of the visit (net amounts included), so they win over Procedures."""
    lines: list[EncounterLine] = []
    for claim in index.of_type("Claim"):
        for i, item in enumerate(claim.resource.item or []):
            found = _source_coding(item.productOrService)
            if found is None:
                continue
            system, code = found
            units = item.quantity.value if item.quantity is not None and item.quantity.value else Decimal(1)
            charge = item.net.value if item.net is not None else None
            line = _contract(EncounterLine, problems, prefix=f"{claim.path}.item[{i}]",
                             paths={"charge": f"{claim.path}.item[{i}].net.value"},
                             procedure_code=code, code_system=system, units=units, charge=charge)
            if line is not None:
                lines.append(line)
    if lines:
        return lines[:MAX_LINES]
    for entry in _billable_sources(index):
        if entry.resource.get_resource_type() != "Procedure":
            continue
        found = _source_coding(entry.resource.code)
        if found is not None:
            line = _line(entry, problems, procedure_code=found[1], code_system=found[0], units=Decimal(1),
                         charge=_optional_charge_amount(entry, problems))
            if line is not None:
                lines.append(line)
    return lines[:MAX_LINES]


def _source_coding(concept: CodeableConcept | None) -> tuple[str, str] | None:
    for coding in codings(concept):
        code = (coding.code or "").strip()
        if coding.system == SNOMED_SYSTEM and _SNOMED_CODE.match(code):
            return "snomed-ct", code
        if coding.system == CVX_SYSTEM and _CVX_CODE.match(code):
            return "cvx", code
    return None


def _billable_sources(index: EncounterScope) -> list[Entry]:
    """Procedures and ChargeItems in bundle order, minus those not performed or not to be billed."""
    charged = _procedures_charged_by_charge_items(index)
    sources = []
    for entry in index.entries:
        resource_type = entry.resource.get_resource_type()
        if resource_type == "Procedure":
            if entry.resource.status not in UNBILLABLE_PROCEDURE_STATUSES and entry.index not in charged:
                sources.append(entry)
        elif resource_type == "ChargeItem" and entry.resource.status not in UNBILLABLE_CHARGE_ITEM_STATUSES:
            sources.append(entry)
    return sources


def _procedures_charged_by_charge_items(index: EncounterScope) -> set[int]:
    """A ChargeItem whose service is a Procedure is that procedure's charge: bill it once, not twice."""
    charged: set[int] = set()
    for entry in index.of_type("ChargeItem"):
        for service in entry.resource.service or []:
            procedure = index.resolve(service, "Procedure")
            if procedure is not None:
                charged.add(procedure.index)
    return charged


def _billable_coding(concept: CodeableConcept | None) -> tuple[int, Coding] | None:
    """The first CPT/HCPCS coding of a code; None when coded in other systems (e.g. SNOMED) only."""
    for i, coding in enumerate(codings(concept)):
        if coding.system in BILLABLE_CODE_SYSTEMS:
            return i, coding
    return None


def _procedure_code(entry: Entry, found: tuple[int, Coding], problems: _Problems) -> str | None:
    i, coding = found
    code = (coding.code or "").strip().upper()
    if not _PROCEDURE_CODE.match(code):
        problems.add(f"{entry.path}.code.coding[{i}].code", "must be a 5-character CPT/HCPCS code")
        return None
    return code


def _procedure_line(entry: Entry, found: tuple[int, Coding], problems: _Problems) -> EncounterLine | None:
    code = _procedure_code(entry, found, problems)
    charge = _charge_amount(entry, problems)
    modifiers = _modifiers(entry, problems)
    if code is None or charge is None or modifiers is None:
        return None
    return _line(entry, problems, procedure_code=code, modifiers=modifiers, units=Decimal(1), charge=charge)


def _charge_item_line(entry: Entry, found: tuple[int, Coding], problems: _Problems) -> EncounterLine | None:
    item = entry.resource
    code = _procedure_code(entry, found, problems)
    units = Decimal(1)  # an absent quantity means one
    if item.quantity is not None and item.quantity.value is not None:
        units = item.quantity.value
    charge = _price_override(entry, problems)
    modifiers = _modifiers(entry, problems)
    if code is None or charge is None or modifiers is None:
        return None
    return _line(
        entry,
        problems,
        procedure_code=code,
        modifiers=modifiers,
        units=units,
        charge=charge,
        paths={"units": f"{entry.path}.quantity.value", "charge": f"{entry.path}.priceOverride.value"},
    )


def _price_override(entry: Entry, problems: _Problems) -> Decimal | None:
    price = entry.resource.priceOverride
    if price is None or price.value is None:
        problems.add(f"{entry.path}.priceOverride.value", "is required: a line charge is never assumed to be 0")
        return None
    if price.currency not in (None, "USD"):
        problems.add(f"{entry.path}.priceOverride.currency", "must be USD")
        return None
    return price.value


def _charge_amount(entry: Entry, problems: _Problems) -> Decimal | None:
    for i, ext in enumerate(entry.resource.extension or []):
        if ext.url and ext.url.endswith(CHARGE_EXTENSION_SUFFIX):
            money = ext.valueMoney
            if money is None or money.value is None:
                problems.add(f"{entry.path}.extension[{i}].valueMoney.value", "is required: the line charge")
                return None
            if money.currency not in (None, "USD"):
                problems.add(f"{entry.path}.extension[{i}].valueMoney.currency", "must be USD")
                return None
            return money.value
    problems.add(
        f"{entry.path}.extension",
        f"needs a charge-amount extension (url ending {CHARGE_EXTENSION_SUFFIX}) with valueMoney; "
        "a missing charge is never assumed to be 0",
    )
    return None


def _optional_charge_amount(entry: Entry, problems: _Problems) -> Decimal | None:
    """A source-coded procedure may come without a charge: chargemaster or completeness review prices it."""
    if any(ext.url and ext.url.endswith(CHARGE_EXTENSION_SUFFIX) for ext in entry.resource.extension or []):
        return _charge_amount(entry, problems)
    return None


def _modifiers(entry: Entry, problems: _Problems) -> list[str] | None:
    modifiers: list[str] = []
    for i, ext in enumerate(entry.resource.extension or []):
        if ext.url and ext.url.endswith(MODIFIER_EXTENSION_SUFFIX):
            code = (ext.valueCode or "").strip().upper()
            if not _MODIFIER.match(code):
                problems.add(f"{entry.path}.extension[{i}].valueCode", "must be a 2-character CPT/HCPCS modifier")
                return None
            modifiers.append(code)
    if len(modifiers) > MAX_MODIFIERS:
        problems.add(f"{entry.path}.extension", f"carries more than {MAX_MODIFIERS} procedure modifiers")
        return None
    return modifiers


def _line(
    entry: Entry, problems: _Problems, *, paths: Mapping[str, str] | None = None, **values: Any
) -> EncounterLine | None:
    return _contract(
        EncounterLine,
        problems,
        prefix=entry.path,
        paths={
            "procedure_code": f"{entry.path}.code",
            "modifiers": f"{entry.path}.extension",
            "charge": f"{entry.path}.extension",
            **(paths or {}),
        },
        **values,
    )


# ---------------------------------------------------------------- small helpers
def _contract(
    model: type[ContractT], problems: _Problems, *, prefix: str, paths: Mapping[str, str], **values: Any
) -> ContractT | None:
    """Build a contract model; report its validation failures at the FHIR path the value came from."""
    try:
        return model(**values)
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False, include_context=False):
            head = str(err["loc"][0]) if err["loc"] else ""
            problems.add(paths.get(head) or fhir_path(prefix, err["loc"]), _reason(err["msg"]))
        return None


_reason = reason_of
