"""HL7 v2 DFT^P03 (detailed financial transaction, v2.3-2.5.1) -> EncounterSubmitted (pure, no I/O).

Parsing is our own and tolerant: segments may be separated by CR, LF or CRLF; the delimiters come
from MSH-1/MSH-2; ``""`` (the HL7 null) reads as empty; escape sequences are decoded in free text.
Every rejection is an ``IntakeError`` (the FHIR intake's class) listing ``{"field", "reason"}``
problems. Reasons are fixed texts or pydantic message templates, never input values, so no PHI
reaches responses or logs. Field paths: ``MSH-9`` / ``PID-7`` / ``PV1-19`` for the once-only
segments, ``FT1[2].11`` / ``IN1[1].36`` / ``DG1[1].3`` (1-based occurrence in the message, not the
set id) for repeating ones.

Where vendors put things, and the precedence used here (first match wins):

* procedure code: FT1-25 (first component) > FT1-7 when it looks like CPT/HCPCS and is not coded in
  another system > PR1-3 of the PR1 belonging to that FT1 (the PR1s after it, or in v2.3 layouts where
  all PR1s follow all FT1s, the PR1 at the same position).
* modifiers: FT1-26 (repeating) > PR1-16 (repeating) of the same PR1; at most 4.
* units: FT1-10, default 1.
* charge: FT1-11 (extended amount) > FT1-12 (unit amount) x units > FT1-7 when it is a money amount
  (digits with a decimal point, e.g. Medplum's ``150.00``) and the code came from FT1-25 or PR1-3.
  A line without a charge is left unpriced (never assumed to be 0): charges prices it from the tenant's
  chargemaster or holds the encounter in completeness review.
* diagnoses: DG1-3 (in segment order) then the lines' FT1-19 (repeating); PR1-15 only when neither
  is present. ICD-10-CM only: dots removed, upper case, each once, at most 12. ICD-9 is rejected
  (coding system I9/I9C/ICD9 in the CE or DG1-2 at any date; an unlabelled numeric code for a date of
  service on/after 2015-10-01). Other systems (SNOMED CT, local) are skipped: coding supplies them.
* diagnosis pointers: the positions of the line's own FT1-19 (or PR1-15) codes, else [1].
* providers, each an XCN whose XCN-1 is a 10-digit NPI with identifier type (XCN-13) NPI or blank (or an
  assigning authority naming NPI); the check digit is not verified here (the scrubber flags Luhn failures):
  - rendering (performing) provider: FT1-20 performed by (the first FT1 of the encounter naming one) >
    PV1-7 attending > PV1-9 consulting; left out when it is the billing provider.
  - referring provider on the claim: FT1-21 ordered by > PV1-8 referring.
  - billing provider: MSH-4 sending facility with universal id type NPI (the organization) where the sender
    puts it there, else none from the message: charges applies the tenant's default billing provider (and
    the enrolled provider profiles fill tax id, address, taxonomy), or holds the encounter for it. An
    individual performing the service is never taken as the billing provider.
  The first field of a role that names a provider decides: an id of another system (XCN-13 DEA, a local
  type...) is skipped for the next field, but an identifier where an NPI belongs that is not one (an e-mail
  address, 9 digits, a name without an id) becomes an `intake_issues` entry naming the field: the encounter
  is held in completeness review for a person to supply the NPI, never rejected and never guessed.
* source_encounter_id: PV1-19 visit number > the first FT1-2 transaction id > MSH-10.
* service date: FT1-4 (transaction date) > PV1-44 (admit date). Lines with different dates of service
  become separate encounters (a claim header has one date): each gets ``<id>-<YYYYMMDD>`` as its id.
* place of service: FT1-16 point of care > PV1-3 when it is a 2-digit CMS POS code, else "11".
* transaction types (FT1-6): CG or blank is a charge; payments and adjustments (PY, AJ, ...) are
  skipped (payments are posted from remittances); credits (CD, CR) are rejected.
* coverage: the first IN1 (IN1-1 = 1 preferred): payer id IN1-3 (else IN1-2 plan id), payer name
  IN1-4, member id IN1-36 (policy number) > IN1-49 (insured's id), group IN1-8, relationship IN1-17
  (01/SEL/self -> self, 02/SPO -> spouse, 03/CHD -> child, blank -> self, anything else -> other).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rcm_charges.domain.intake_errors import IntakeError, Problems, reason_of
from rcm_contracts.claim import Address, Coverage, Person, Provider
from rcm_contracts.events import EncounterLine, EncounterSubmitted, MissingItem

__all__ = ["IntakeError", "dft_to_encounters", "split_messages"]

ContractT = TypeVar("ContractT", bound=BaseModel)

DEFAULT_PLACE_OF_SERVICE = "11"  # office
MAX_DIAGNOSES = 12
MAX_MODIFIERS = 4
MAX_POINTERS = 4
MAX_NAME = 60
ICD10_EFFECTIVE = date(2015, 10, 1)
ICD9_REASON = (
    "ICD-9-CM diagnosis code: ICD-9 is invalid for dates of service on/after 2015-10-01; "
    "only ICD-10-CM is accepted"
)

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
_PROCEDURE_CODE = re.compile(r"^(?:[0-9]{4}[0-9A-Z]|[A-Z][0-9]{4})$")  # CPT (incl. Cat II/III, PLA), HCPCS II
_MODIFIER = re.compile(r"^[A-Z0-9]{2}$")
_MONEY_IN_CODE_FIELD = re.compile(r"^\$?[0-9]{1,9}\.[0-9]{1,2}$")  # needs a decimal point: not a CDM code
_AMOUNT = re.compile(r"^-?[0-9]{1,10}(?:\.[0-9]{1,4})?$")  # Money: at most 12 digits, 2 decimals
_UNITS = re.compile(r"^[0-9]{1,5}(?:\.[0-9]{1,3})?$")
_POS = re.compile(r"^[0-9]{2}$")
_NPI = re.compile(r"^[0-9]{10}$")
_ICD10 = re.compile(r"^[A-Z][0-9][0-9A-Z]{1,5}$")  # 3-7 characters once the dot is removed
_ICD9_NUMERIC = re.compile(r"^[0-9]{3}(?:\.?[0-9]{1,2})?$")
_DATE = re.compile(r"^([0-9]{8})")

_CPT_SYSTEMS = frozenset({"", "CPT", "CPT4", "C4", "C5", "HCPCS", "HCPT", "HPC", "CPTHCPCS", "AMACPT"})
_ICD10_SYSTEMS = frozenset({"I10", "I10C", "ICD10", "ICD10CM", "ICD10C"})
_ICD9_SYSTEMS = frozenset({"I9", "I9C", "I9CM", "I9CDX", "ICD9", "ICD9CM", "ICD9C"})
_CHARGE_TYPES = frozenset({"", "CG"})
_CREDIT_TYPES = frozenset({"CD", "CR"})
_RELATIONSHIPS = {
    "": "self",
    "01": "self",
    "SEL": "self",
    "SELF": "self",
    "02": "spouse",
    "SPO": "spouse",
    "SPOUSE": "spouse",
    "03": "child",
    "CHD": "child",
    "CHILD": "child",
}
_SEX = {"M": "M", "F": "F"}  # everything else (U, O, A, N, blank) -> "U"
US_STATES = frozenset(
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY "
    "NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY AS GU MP PR VI FM MH PW AA AE AP".split()
)
# Segment ids that, found after whitespace inside another segment, betray collapsed separators.
_KNOWN_SEGMENTS = (
    "MSH|EVN|PID|PD1|PV1|PV2|NK1|ROL|DB1|OBX|NTE|FT1|PR1|DG1|DRG|GT1|IN1|IN2|IN3|ACC|ORC|OBR|AL1|MRG|Z[A-Z0-9]{2}"
)
_BATCH_ENVELOPE = frozenset({"FHS", "FTS", "BHS", "BTS"})
_INTERNAL_REASON = "could not be read as an HL7 v2 DFT^P03 message"


# ---------------------------------------------------------------- public entry points
def split_messages(text: str) -> list[str]:
    """A file or stream of HL7 v2 messages -> one string per message, segments joined by CR.

    Accepts CR, LF or CRLF between segments; messages may be separated by blank lines or simply
    follow each other (each MSH starts a new one). Batch envelopes (FHS/BHS/BTS/FTS), MLLP framing
    bytes and a BOM are dropped. Text before the first MSH is returned as its own (invalid) message
    so that it is rejected rather than silently lost. Never raises on str or bytes input.
    """
    if isinstance(text, (bytes, bytearray)):
        text = _decode(bytes(text))
    if not isinstance(text, str):
        return []
    messages: list[list[str]] = []
    current: list[str] | None = None
    for line in _lines(text):
        if line[:3] in _BATCH_ENVELOPE:
            continue
        if line.startswith("MSH") or current is None:
            current = [line]
            messages.append(current)
        else:
            current.append(line)
    return ["\r".join(segments) for segments in messages]


def dft_to_encounters(message: str, *, source_system: str | None = None) -> list[EncounterSubmitted]:
    """One DFT^P03 message -> its encounters (one per date of service; usually exactly one).

    Raises IntakeError, and only IntakeError, when the message cannot become encounters.
    """
    try:
        return _DftMapper(_parse(message), source_system).map()
    except IntakeError:
        raise
    except Exception:  # noqa: BLE001 - the contract: bad input never raises anything but IntakeError
        raise IntakeError([{"field": "message", "reason": _INTERNAL_REASON}]) from None


# ---------------------------------------------------------------- tolerant ER7 parsing
@dataclass(frozen=True)
class _Delimiters:
    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"


@dataclass
class _Segment:
    name: str
    fields: list[str]  # fields[n] is SEG-n (for MSH, fields[1] is MSH-1 the field separator)
    occurrence: int  # 1-based among segments of the same name
    delims: _Delimiters

    def raw(self, n: int) -> str:
        value = self.fields[n] if 0 <= n < len(self.fields) else ""
        return "" if value.strip() == '""' else value  # "" is the HL7 explicit null

    def repetitions(self, n: int) -> list[str]:
        raw = self.raw(n)
        if self.name == "MSH" and n == 2:
            return [raw]
        return [r for r in raw.split(self.delims.repetition)] if raw else []

    def component(self, n: int, c: int = 1, rep: int = 0) -> str:
        """SEG-n.c (first subcomponent), unescaped and stripped; '' when absent."""
        reps = self.repetitions(n)
        if rep >= len(reps):
            return ""
        return _component(reps[rep], c, self.delims)

    def path(self, n: int | str, *, repeating: bool) -> str:
        return f"{self.name}[{self.occurrence}].{n}" if repeating else f"{self.name}-{n}"


def _component(value: str, c: int, delims: _Delimiters) -> str:
    parts = value.split(delims.component)
    if c - 1 >= len(parts):
        return ""
    sub = parts[c - 1].split(delims.subcomponent)[0]
    text = _unescape(sub, delims).strip()
    return "" if text == '""' else text


def _unescape(value: str, d: _Delimiters) -> str:
    if d.escape not in value:
        return value
    mapping = {"F": d.field, "S": d.component, "R": d.repetition, "T": d.subcomponent, "E": d.escape}
    out, i = [], 0
    while i < len(value):
        ch = value[i]
        end = value.find(d.escape, i + 1) if ch == d.escape else -1
        if ch == d.escape and end > i:
            seq = value[i + 1 : end]
            if seq in mapping:
                out.append(mapping[seq])
            elif seq.startswith(".") or seq[:1] in ("H", "N", "X", "Z", "C", "M"):
                pass  # formatting / hex / charset / local escapes: dropped from plain text
            else:
                out.append(value[i : end + 1])
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _lines(text: str) -> list[str]:
    text = text.replace("\ufeff", "").replace("\x0b", "").replace("\x1c", "")
    return [line.strip() for line in _LINE_BREAK.split(text) if line.strip()]


@dataclass
class _Message:
    delims: _Delimiters
    segments: list[_Segment]

    def all(self, name: str) -> list[_Segment]:
        return [s for s in self.segments if s.name == name]

    def first(self, name: str) -> _Segment | None:
        found = self.all(name)
        return found[0] if found else None


def _parse(message: Any) -> _Message:
    if isinstance(message, (bytes, bytearray)):
        message = _decode(bytes(message))
    if not isinstance(message, str):
        raise IntakeError([{"field": "message", "reason": "must be HL7 v2 text"}])
    lines = [line for line in _lines(message) if line[:3] not in _BATCH_ENVELOPE]
    if not lines:
        raise IntakeError([{"field": "message", "reason": "is empty"}])
    header = lines[0]
    if not header.startswith("MSH") or len(header) < 8:
        raise IntakeError([{"field": "MSH", "reason": "the message must start with an MSH segment"}])
    separator = header[3]
    if separator.isalnum() or separator.isspace():
        raise IntakeError([{"field": "MSH-1", "reason": "is not a valid field separator"}])
    encoding = header[4:].split(separator, 1)[0]
    if len(encoding) < 2 or len(set(encoding + separator)) != len(encoding) + 1 or any(
        ch.isalnum() or ch.isspace() for ch in encoding
    ):
        raise IntakeError([{"field": "MSH-2", "reason": "needs distinct component and repetition characters"}])
    delims = _Delimiters(
        field=separator,
        component=encoding[0],
        repetition=encoding[1],
        escape=encoding[2] if len(encoding) > 2 else "\\",
        subcomponent=encoding[3] if len(encoding) > 3 else "&",
    )
    headers = sum(1 for line in lines if line.startswith("MSH"))
    if headers > 1:
        raise IntakeError(
            [{"field": "MSH", "reason": f"holds {headers} messages: split them with split_messages first"}]
        )

    problems = _Problems()
    segments: list[_Segment] = []
    counts: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        name = line.split(separator, 1)[0]
        if not _SEGMENT_ID.match(name):
            problems.add("message", f"line {number} does not start with a 3-character segment id")
            continue
        counts[name] = counts.get(name, 0) + 1
        if name == "MSH":
            fields = ["MSH", separator, *line[4:].split(separator)]
        else:
            fields = line.split(separator)
        segments.append(_Segment(name, fields, counts[name], delims))
    problems.raise_if_any()

    collapsed = _collapsed_segments(segments, delims)
    if collapsed:
        host, inner = collapsed
        reason = (
            f"segment separators are missing: {', '.join(inner)} segments run together inside {host} "
            "(segments must be separated by CR, LF or CRLF)"
        )
        if not any(s.name == "FT1" for s in segments):
            reason += "; no FT1 segment found"
        raise IntakeError([{"field": "message", "reason": reason}])
    return _Message(delims, segments)


def _collapsed_segments(segments: list[_Segment], delims: _Delimiters) -> tuple[str, list[str]] | None:
    pattern = re.compile(rf"\s({_KNOWN_SEGMENTS}){re.escape(delims.field)}")
    for segment in segments:
        body = delims.field.join(segment.fields[2 if segment.name == "MSH" else 1 :])
        found = pattern.findall(body)
        if found:
            return segment.name, list(dict.fromkeys(found))
    return None


# ---------------------------------------------------------------- problems & contracts
_Problems = Problems


def _contract(
    model: type[ContractT], problems: _Problems, *, paths: Mapping[str, str], default: str, **values: Any
) -> ContractT | None:
    try:
        return model(**values)
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False, include_context=False):
            head = str(err["loc"][0]) if err["loc"] else ""
            problems.add(paths.get(head, default), reason_of(err["msg"]))
        return None


# ---------------------------------------------------------------- value helpers
def _hl7_date(value: str) -> date | None:
    match = _DATE.match(value.strip())
    if not match:
        return None
    digits = match.group(1)
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def _normalize_system(system: str) -> str:
    return re.sub(r"[\s\-._]", "", system).upper()


def _amount(segment: _Segment, n: int, problems: _Problems, path: str) -> Decimal | None:
    """A CP/MO amount (``150.00`` or ``150.00&USD``); None when blank, reports when unreadable."""
    reps = segment.repetitions(n)
    if not reps:
        return None
    first = reps[0].split(segment.delims.component)[0]
    parts = first.split(segment.delims.subcomponent)
    text = _unescape(parts[0], segment.delims).strip().replace(",", "").removeprefix("$")
    currency = _unescape(parts[1], segment.delims).strip().upper() if len(parts) > 1 else ""
    if not text or text == '""':
        return None
    if not _AMOUNT.match(text):
        problems.add(path, "must be a decimal money amount")
        return None
    if currency not in ("", "USD"):
        problems.add(path, "must be in USD")
        return None
    return Decimal(text)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class _Npi:
    npi: str
    name: str | None
    field: str


def _xcn_npi(segment: _Segment, n: int, path: str) -> tuple[_Npi | None, str]:
    """A repeating XCN field's provider: (its NPI, "npi"), (None, "invalid") when it names a provider whose id
    where an NPI belongs is not one, or (None, "absent") when it names none (or only ids of other systems)."""
    invalid = False
    for rep in segment.repetitions(n):
        ident = _component(rep, 1, segment.delims)
        family = _component(rep, 2, segment.delims)
        if not ident and not family:
            continue
        id_type = _component(rep, 13, segment.delims).upper()
        authority = _component(rep, 9, segment.delims).upper()
        labelled_npi = id_type == "NPI" or "NPI" in authority
        if ident and id_type and not labelled_npi:
            continue  # a DEA number, a local id...: not where the NPI is
        if _NPI.match(ident):  # unlabelled, or labelled an NPI (any other label was skipped above)
            given = _component(rep, 3, segment.delims)
            name = " ".join(p for p in (given, family) if p) or None
            return _Npi(ident, name[:MAX_NAME] if name else None, path), "npi"
        invalid = True
    return None, "invalid" if invalid else "absent"


def _hd_npi(segment: _Segment, n: int, path: str) -> list[_Npi]:
    """An HD (e.g. MSH-4 sending facility) whose universal id type is NPI: the organization's NPI."""
    ident = segment.component(n, 2)
    if segment.component(n, 3).upper() == "NPI" and _NPI.match(ident):
        name = segment.component(n, 1)
        return [_Npi(ident, name[:MAX_NAME] if name else None, path)]
    return []


# ---------------------------------------------------------------- diagnoses
@dataclass(frozen=True)
class _Diagnosis:
    code: str  # normalized ICD-10-CM, or "" when not usable
    field: str
    kind: str  # "icd10" | "icd9" | "icd9-looking" | "other" | "invalid"


def _diagnosis(raw_code: str, system: str, field: str) -> _Diagnosis | None:
    raw_code = raw_code.strip()
    if not raw_code:
        return None
    norm_system = _normalize_system(system)
    code = raw_code.replace(".", "").replace(" ", "").upper()
    if norm_system in _ICD9_SYSTEMS:
        return _Diagnosis("", field, "icd9")
    if norm_system in _ICD10_SYSTEMS:
        return _Diagnosis(code, field, "icd10" if _ICD10.match(code) else "invalid")
    if norm_system:
        return _Diagnosis("", field, "other")  # SNOMED CT, local codes: not billable diagnoses
    if _ICD9_NUMERIC.match(raw_code):
        return _Diagnosis(code, field, "icd9-looking")
    return _Diagnosis(code, field, "icd10" if _ICD10.match(code) else "invalid")


def _ce_diagnoses(segment: _Segment, n: int, path: str, fallback_system: str = "") -> list[_Diagnosis]:
    found = []
    for rep in segment.repetitions(n):
        system = _component(rep, 3, segment.delims) or fallback_system
        diagnosis = _diagnosis(_component(rep, 1, segment.delims), system, path)
        if diagnosis is not None:
            found.append(diagnosis)
    return found


# ---------------------------------------------------------------- mapping
@dataclass
class _Line:
    ft1: _Segment
    service_date: date | None
    place_of_service: str | None
    values: dict[str, Any] | None  # EncounterLine kwargs (without pointers) or None when broken
    charge_field: str  # where the charge came from, for contract errors
    own_diagnoses: list[_Diagnosis] = field(default_factory=list)  # FT1-19
    procedure_diagnoses: list[_Diagnosis] = field(default_factory=list)  # PR1-15
    prs: list[_Segment] = field(default_factory=list)


class _DftMapper:
    def __init__(self, message: _Message, source_system: str | None) -> None:
        self.msg = message
        self.source_system = source_system
        self.problems = _Problems()

    # -------------------------------------------------------------- top level
    def map(self) -> list[EncounterSubmitted]:
        msh = self.msg.first("MSH")
        assert msh is not None
        if msh.component(9, 1).upper() != "DFT" or msh.component(9, 2).upper() != "P03":
            raise IntakeError([{"field": "MSH-9", "reason": "message type must be DFT^P03"}])
        ft1s = self.msg.all("FT1")
        if not ft1s:
            raise IntakeError([{"field": "FT1", "reason": "no FT1 segment found: a DFT^P03 needs at least one"}])

        source_system = self._source_system(msh)
        pid = self.msg.first("PID")
        pv1 = self.msg.first("PV1")
        patient = self._patient(pid)
        coverage = self._coverage()
        secondary_coverage = self._secondary_coverage()
        pr1s_by_ft1 = self._procedures_by_ft1()
        lines = [
            line
            for i, ft1 in enumerate(ft1s)
            if (line := self._line(ft1, pr1s_by_ft1.get(i, []), pv1)) is not None
        ]
        if not lines and not self.problems.errors:
            self.problems.add("FT1", "no charge transaction (FT1-6 CG) found: nothing to bill")
        message_diagnoses = self._message_diagnoses()
        groups = self._group_by_date(lines)
        base_id, base_id_field = self._source_encounter_id(msh, pv1, ft1s)

        drafts = []
        for service_date, group in groups:
            diagnoses, pointers = self._diagnoses(group, message_diagnoses, service_date)
            issues: list[MissingItem] = []
            billing, rendering = self._billing_and_rendering(msh, pv1, group, issues)
            referring = self._referring(pv1, group, issues)
            drafts.append((service_date, group, diagnoses, pointers, billing, rendering, referring, issues))
        self.problems.raise_if_any()

        encounters = []
        for service_date, group, diagnoses, pointers, billing, rendering, referring, issues in drafts:
            encounter_id = base_id
            if len(groups) > 1:
                encounter_id = f"{base_id[:119]}-{service_date:%Y%m%d}"
            built_lines = [
                _contract(
                    EncounterLine,
                    self.problems,
                    paths={**_line_paths(line.ft1), "charge": line.charge_field},
                    default=line.ft1.path(25, repeating=True),
                    diagnosis_pointers=line_pointers,
                    **line.values,
                )
                for line, line_pointers in zip(group, pointers)
            ]
            if any(b is None for b in built_lines):
                continue
            encounter = _contract(
                EncounterSubmitted,
                self.problems,
                paths={
                    "source_system": "MSH-3",
                    "source_encounter_id": base_id_field,
                    "service_date": group[0].ft1.path(4, repeating=True),
                    "place_of_service": "PV1-3",
                    "patient": "PID",
                    "coverage": "IN1",
                    "billing_provider": "MSH-4",
                    "rendering_provider": group[0].ft1.path(20, repeating=True),
                    "referring_provider": group[0].ft1.path(21, repeating=True),
                    "diagnoses": "DG1",
                    "lines": "FT1",
                },
                default="message",
                source_system=source_system,
                source_encounter_id=encounter_id,
                service_date=service_date,
                place_of_service=self._place_of_service(pv1, group),
                patient=patient,
                coverage=coverage,
                secondary_coverage=secondary_coverage,
                billing_provider=billing,
                rendering_provider=rendering,
                referring_provider=referring,
                diagnoses=diagnoses,
                lines=built_lines,
                intake_issues=issues,
            )
            if encounter is not None:
                encounters.append(encounter)
        self.problems.raise_if_any()
        return encounters

    # -------------------------------------------------------------- header
    def _source_system(self, msh: _Segment) -> str | None:
        if self.source_system is not None:
            if not isinstance(self.source_system, str) or not self.source_system.strip():
                self.problems.add("source_system", "must be a non-empty string")
                return None
            return self.source_system.strip()
        value = msh.component(3, 1) or msh.component(3, 2)
        if not value:
            self.problems.add("MSH-3", "is required (the sending application), or pass source_system")
            return None
        return value

    def _source_encounter_id(self, msh: _Segment, pv1: _Segment | None, ft1s: list[_Segment]) -> tuple[str, str]:
        if pv1 is not None and pv1.component(19):
            return pv1.component(19), "PV1-19"
        for ft1 in ft1s:
            if ft1.component(2):
                return ft1.component(2), ft1.path(2, repeating=True)
        if msh.component(10):
            return msh.component(10), "MSH-10"
        self.problems.add("PV1-19", "is required (or FT1-2 transaction id, or MSH-10 control id)")
        return "", "PV1-19"

    # -------------------------------------------------------------- patient
    def _patient(self, pid: _Segment | None) -> Person | None:
        if pid is None:
            self.problems.add("PID", "is required: the patient")
            return None
        family, given = pid.component(5, 1), pid.component(5, 2)
        if not family:
            self.problems.add("PID-5.1", "is required: the patient's last name")
        if not given:
            self.problems.add("PID-5.2", "is required: the patient's first name")
        birth_date = None
        if not pid.component(7):
            self.problems.add("PID-7", "is required: the patient's birth date")
        else:
            birth_date = _hl7_date(pid.component(7))
            if birth_date is None:
                self.problems.add("PID-7", "must be a date YYYYMMDD")
        if not family or not given or birth_date is None:
            return None
        return _contract(
            Person,
            self.problems,
            paths={"first_name": "PID-5.2", "last_name": "PID-5.1", "birth_date": "PID-7", "sex": "PID-8"},
            default="PID",
            first_name=given,
            last_name=family,
            birth_date=birth_date,
            sex=_SEX.get(pid.component(8).upper(), "U"),
            address=_address(pid, 11),
        )

    # -------------------------------------------------------------- coverage
    def _coverage(self) -> Coverage | None:
        in1s = self.msg.all("IN1")
        if not in1s:
            return None
        return self._insurance(next((s for s in in1s if s.component(1) == "1"), in1s[0]))

    def _secondary_coverage(self) -> Coverage | None:
        """The IN1 with set id 2: the coverage that pays after the primary (coordination of benefits)."""
        in1 = next((s for s in self.msg.all("IN1") if s.component(1) == "2"), None)
        return None if in1 is None else self._insurance(in1)

    def _insurance(self, in1: _Segment) -> Coverage | None:
        p = lambda n: in1.path(n, repeating=True)  # noqa: E731
        payer_id = in1.component(3) or in1.component(2)
        payer_name = in1.component(4) or payer_id
        member_id = in1.component(36) or in1.component(49)
        if not payer_id:
            self.problems.add(p(3), "is required (or IN1-2): the payer id")
        if not member_id:
            self.problems.add(p(36), "is required (or IN1-49): the member id")
        if not payer_id or not member_id:
            return None
        relationship = _RELATIONSHIPS.get(in1.component(17).upper(), "other")
        return _contract(
            Coverage,
            self.problems,
            paths={
                "payer_id": p(3),
                "payer_name": p(4),
                "member_id": p(36),
                "group_number": p(8),
                "relationship": p(17),
                "subscriber": p(16),
            },
            default=p(1),
            payer_id=payer_id,
            payer_name=payer_name[:MAX_NAME],
            member_id=member_id,
            group_number=in1.component(8) or None,
            relationship=relationship,
            subscriber=None if relationship == "self" else _subscriber(in1),
        )

    # -------------------------------------------------------------- lines
    def _procedures_by_ft1(self) -> dict[int, list[_Segment]]:
        """PR1s belong to the FT1 before them (v2.4+ FINANCIAL group); in v2.3 layouts where every PR1
        follows every FT1 and the counts match, the n-th PR1 belongs to the n-th FT1."""
        by_ft1: dict[int, list[_Segment]] = {}
        ft1_index = -1
        positions = {id(s): i for i, s in enumerate(self.msg.segments)}
        pr1s = self.msg.all("PR1")
        ft1s = self.msg.all("FT1")
        last_ft1 = max(positions[id(s)] for s in ft1s)
        if pr1s and len(pr1s) == len(ft1s) and all(positions[id(p)] > last_ft1 for p in pr1s):
            return {i: [p] for i, p in enumerate(pr1s)}
        for segment in self.msg.segments:
            if segment.name == "FT1":
                ft1_index += 1
            elif segment.name == "PR1" and ft1_index >= 0:
                by_ft1.setdefault(ft1_index, []).append(segment)
        return by_ft1

    def _line(self, ft1: _Segment, prs: list[_Segment], pv1: _Segment | None) -> _Line | None:
        p = lambda n: ft1.path(n, repeating=True)  # noqa: E731
        transaction_type = ft1.component(6).upper()
        if transaction_type in _CREDIT_TYPES:
            self.problems.add(p(6), "credit transactions (charge reversals) are not accepted: only charges (CG)")
            return None
        if transaction_type not in _CHARGE_TYPES:
            return None  # payments and adjustments are not claim lines

        code, code_source = self._procedure_code(ft1, prs)
        modifiers = self._modifiers(ft1, prs)
        units = self._units(ft1)
        charge, charge_field = self._charge(ft1, units, code_source)
        service_date = self._service_date(ft1, pv1)

        values = None
        if code is not None and modifiers is not None and units is not None:  # charge may be None: unpriced
            values = {"procedure_code": code, "modifiers": modifiers, "units": units, "charge": charge}
        own = _ce_diagnoses(ft1, 19, p(19))
        procedure_dx = [d for pr1 in prs for d in _ce_diagnoses(pr1, 15, pr1.path(15, repeating=True))]
        return _Line(ft1, service_date, self._line_pos(ft1), values, charge_field, own, procedure_dx, prs)

    def _procedure_code(self, ft1: _Segment, prs: list[_Segment]) -> tuple[str | None, str | None]:
        p = lambda n: ft1.path(n, repeating=True)  # noqa: E731
        code = ft1.component(25).upper()
        if code:
            if not _PROCEDURE_CODE.match(code):
                self.problems.add(p(25), "must be a 5-character CPT/HCPCS code")
                return None, None
            return code, "FT1-25"
        transaction_code = ft1.component(7).upper()
        system = _normalize_system(ft1.component(7, 3))
        if _PROCEDURE_CODE.match(transaction_code) and system in _CPT_SYSTEMS:
            return transaction_code, "FT1-7"
        for pr1 in prs:
            code = pr1.component(3).upper()
            if code:
                if not _PROCEDURE_CODE.match(code):
                    self.problems.add(pr1.path(3, repeating=True), "must be a 5-character CPT/HCPCS code")
                    return None, None
                return code, "PR1-3"
        self.problems.add(p(25), "no CPT/HCPCS procedure code in FT1-25, FT1-7 or PR1-3")
        return None, None

    def _modifiers(self, ft1: _Segment, prs: list[_Segment]) -> list[str] | None:
        sources = [(ft1, 26)] + [(pr1, 16) for pr1 in prs]
        for segment, n in sources:
            values = [_component(rep, 1, segment.delims).upper() for rep in segment.repetitions(n)]
            values = [v for v in values if v]
            if not values:
                continue
            path = segment.path(n, repeating=True)
            if any(not _MODIFIER.match(v) for v in values):
                self.problems.add(path, "each modifier must be 2 characters (letters or digits)")
                return None
            unique = list(dict.fromkeys(values))
            if len(unique) > MAX_MODIFIERS:
                self.problems.add(path, f"carries more than {MAX_MODIFIERS} procedure modifiers")
                return None
            return unique
        return []

    def _units(self, ft1: _Segment) -> Decimal | None:
        text = ft1.component(10)
        if not text:
            return Decimal(1)
        if "." in text:
            text = text.rstrip("0").rstrip(".") or "0"
        units = Decimal(text) if _UNITS.match(text) else None
        if units is None or units <= 0:
            self.problems.add(ft1.path(10, repeating=True), "must be a positive number of units")
            return None
        return units

    def _charge(
        self, ft1: _Segment, units: Decimal | None, code_source: str | None
    ) -> tuple[Decimal | None, str]:
        p = lambda n: ft1.path(n, repeating=True)  # noqa: E731
        before = len(self.problems.errors)
        extended = _amount(ft1, 11, self.problems, p(11))
        if extended is not None:
            return _cents(extended), p(11)
        unit_amount = _amount(ft1, 12, self.problems, p(12))
        if unit_amount is not None:
            return (_cents(unit_amount * units) if units is not None else None), p(12)
        if len(self.problems.errors) > before:
            return None, p(11)
        transaction_code = ft1.component(7)
        if code_source in ("FT1-25", "PR1-3") and _MONEY_IN_CODE_FIELD.match(transaction_code):
            return _cents(Decimal(transaction_code.removeprefix("$"))), p(7)
        # No amount anywhere: never assumed to be 0. The line is left unpriced; charges prices it from
        # the tenant's chargemaster or holds the encounter in completeness review.
        return None, p(11)

    def _service_date(self, ft1: _Segment, pv1: _Segment | None) -> date | None:
        if ft1.component(4):
            value = _hl7_date(ft1.component(4))
            if value is None:
                self.problems.add(ft1.path(4, repeating=True), "must be a date YYYYMMDD")
            return value
        if pv1 is not None and pv1.component(44):
            value = _hl7_date(pv1.component(44))
            if value is None:
                self.problems.add("PV1-44", "must be a date YYYYMMDD")
            return value
        self.problems.add(ft1.path(4, repeating=True), "is required (or PV1-44): the date of service")
        return None

    @staticmethod
    def _line_pos(ft1: _Segment) -> str | None:
        code = ft1.component(16)
        return code if _POS.match(code) else None

    def _place_of_service(self, pv1: _Segment | None, group: list[_Line]) -> str:
        for line in group:
            if line.place_of_service:
                return line.place_of_service
        if pv1 is not None and _POS.match(pv1.component(3)):
            return pv1.component(3)
        return DEFAULT_PLACE_OF_SERVICE

    @staticmethod
    def _group_by_date(lines: list[_Line]) -> list[tuple[date | None, list[_Line]]]:
        """Lines by date of service; broken lines are grouped too, so every problem is reported at once."""
        groups: dict[date | None, list[_Line]] = {}
        for line in lines:
            groups.setdefault(line.service_date, []).append(line)
        return list(groups.items())

    # -------------------------------------------------------------- diagnoses
    def _message_diagnoses(self) -> list[_Diagnosis]:
        found = []
        for dg1 in self.msg.all("DG1"):
            found.extend(_ce_diagnoses(dg1, 3, dg1.path(3, repeating=True), fallback_system=dg1.component(2)))
        return found

    def _diagnoses(
        self, group: list[_Line], message_dx: list[_Diagnosis], service_date: date | None
    ) -> tuple[list[str], list[list[int]]]:
        candidates = message_dx + [d for line in group for d in line.own_diagnoses]
        from_procedures = not candidates
        if from_procedures:
            candidates = [d for line in group for d in line.procedure_diagnoses]
        codes: list[str] = []
        for d in candidates:
            on_or_after_icd10 = service_date is not None and service_date >= ICD10_EFFECTIVE
            if d.kind == "icd9" or (d.kind == "icd9-looking" and on_or_after_icd10):
                self.problems.add(d.field, ICD9_REASON)
            elif d.kind == "invalid":
                self.problems.add(d.field, "is not an ICD-10-CM diagnosis code")
            elif d.kind in ("icd10", "icd9-looking") and d.code not in codes:
                codes.append(d.code)
        codes = codes[:MAX_DIAGNOSES]
        pointers = []
        for line in group:
            own = line.procedure_diagnoses if from_procedures else line.own_diagnoses
            positions = [codes.index(d.code) + 1 for d in own if d.code in codes]
            pointers.append(list(dict.fromkeys(positions))[:MAX_POINTERS] or [1])
        return codes, pointers

    # -------------------------------------------------------------- providers
    def _role(self, sources: list[tuple[str, _Segment, int]], what: str, field: str,
              issues: list[MissingItem]) -> _Npi | None:
        """The first source field naming a provider decides the role (see the module docstring). An issue names the
        claim field a completeness fix supplies (`rendering_provider.npi`); its reason names the HL7 field."""
        for path, segment, n in sources:
            found, state = _xcn_npi(segment, n, path)
            if state == "npi":
                return found
            if state == "invalid":
                issues.append(MissingItem(field=field, reason=f"{path}: {what} must be identified by a 10-digit NPI "
                                                              "(XCN-1, identifier type NPI): supply the NPI"))
                return None
        return None

    def _billing_and_rendering(self, msh: _Segment, pv1: _Segment | None, group: list[_Line],
                               issues: list[MissingItem]) -> tuple[Provider | None, Provider | None]:
        billing = None
        if msh.component(4, 3).upper() == "NPI":
            found = _hd_npi(msh, 4, "MSH-4")
            if found:
                billing = found[0]
            else:
                issues.append(MissingItem(field="billing_provider.npi",
                                          reason="MSH-4: the sending facility (billing provider) is labelled NPI but "
                                                 "its id is not a 10-digit NPI: supply the NPI"))
        sources = [(line.ft1.path(20, repeating=True), line.ft1, 20) for line in group]
        if pv1 is not None:
            sources += [("PV1-7", pv1, 7), ("PV1-9", pv1, 9)]
        rendering = self._role(sources, "the performing (rendering) provider", "rendering_provider.npi", issues)
        if rendering is not None and billing is not None and rendering.npi == billing.npi:
            rendering = None  # the 837P names a rendering provider only when it differs from the billing one
        return (self._provider(billing) if billing else None), (self._provider(rendering) if rendering else None)

    def _referring(self, pv1: _Segment | None, group: list[_Line], issues: list[MissingItem]) -> Provider | None:
        sources = [(line.ft1.path(21, repeating=True), line.ft1, 21) for line in group]
        if pv1 is not None:
            sources.append(("PV1-8", pv1, 8))
        found = self._role(sources, "the ordering (referring) provider", "referring_provider.npi", issues)
        return self._provider(found) if found else None

    def _provider(self, found: _Npi) -> Provider | None:
        return _contract(
            Provider,
            self.problems,
            paths={"npi": found.field, "name": found.field},
            default=found.field,
            npi=found.npi,
            name=found.name,
        )


def _line_paths(ft1: _Segment) -> dict[str, str]:
    p = lambda n: ft1.path(n, repeating=True)  # noqa: E731
    return {
        "procedure_code": p(25),
        "modifiers": p(26),
        "units": p(10),
        "charge": p(11),
        "diagnosis_pointers": p(19),
    }


def _address(segment: _Segment, n: int) -> Address | None:
    """Optional on the contract: an incomplete or non-US address is dropped, not rejected."""
    line1, line2 = segment.component(n, 1), segment.component(n, 2)
    city, state = segment.component(n, 3), segment.component(n, 4).upper()
    postal_code = "".join(ch for ch in segment.component(n, 5) if ch.isdigit())
    country = segment.component(n, 6).upper()
    if not line1 or not city or state not in US_STATES or len(postal_code) not in (5, 9):
        return None
    if country not in ("", "US", "USA", "UNITED STATES"):
        return None
    try:
        return Address(line1=line1, line2=line2 or None, city=city, state=state, postal_code=postal_code)
    except ValidationError:
        return None


def _subscriber(in1: _Segment) -> Person | None:
    """The insured when not the patient (IN1-16 name, IN1-18 birth date, IN1-43 sex, IN1-19 address)."""
    family, given = in1.component(16, 1), in1.component(16, 2)
    birth_date = _hl7_date(in1.component(18))
    if not family or not given or birth_date is None:
        return None
    try:
        return Person(
            first_name=given,
            last_name=family,
            birth_date=birth_date,
            sex=_SEX.get(in1.component(43).upper(), "U"),
            address=_address(in1, 19),
        )
    except ValidationError:
        return None
