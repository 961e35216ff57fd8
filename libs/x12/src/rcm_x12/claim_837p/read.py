"""Reading any 005010X222A1 837P interchange into the claim model (pure): several ST, billing providers,
dependents, COB loops, as far as that model goes.

A subscriber who is not the patient comes back as `coverage.insured` (name, id and address) unless 2010BA
carries a date of birth. What the model cannot hold comes back as per-claim notes; a claim it cannot
represent at all (no date of birth for the patient, no NPI, malformed numbers) comes back as a problem,
never an exception. Messages name fields and loops, never values: names, ids and dates are PHI.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError

from rcm_contracts.claim import Address, Claim, Coverage, Insured, Person, Provider

from rcm_x12.claim_837p.codes import DIAGNOSIS_QUALIFIERS, NPI, RELATIONSHIP_FROM_CODE, SOURCE_SYSTEM, TAX_ID
from rcm_x12.codec import EnvelopeError, FunctionalGroup, Interchange, Segment, TransactionSet, parse_interchange
from rcm_x12.format import d8_date



@dataclass(frozen=True)
class ReadClaim:
    """One claim read from an 837P, with where it came from and what the claim model could not hold."""

    claim: Claim
    patient_control_number: str = field(repr=False)  # CLM01 as sent (a provider's account number may be PHI)
    interchange_control_number: str
    transaction_control_number: str
    notes: tuple[str, ...] = ()  # by field name: data left out or changed to fit the claim model


@dataclass(frozen=True)
class ReadProblem:
    """A transaction set or claim that could not be read. `reasons` name fields and loops, never values."""

    transaction_control_number: str
    reasons: tuple[str, ...]
    claim_number: int | None = None  # 1-based ordinal of the CLM in its transaction set; None: the whole set
    segment_position: int | None = None  # position of that CLM in its transaction set (ST = 1)
    patient_control_number: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        where = f"transaction {self.transaction_control_number}"
        if self.claim_number is not None:
            where += f", claim #{self.claim_number} (segment #{self.segment_position})"
        return f"{where}: {'; '.join(self.reasons)}"


@dataclass
class ReadResult:
    interchange_control_number: str
    claims: list[ReadClaim] = field(default_factory=list)
    problems: list[ReadProblem] = field(default_factory=list)
    envelope_errors: list[EnvelopeError] = field(default_factory=list)  # counts/control numbers, as found


def read_837p(text: str) -> ReadResult:
    """Every claim of an 837P interchange, as far as the claim model can hold it.

    Raises rcm_x12.codec.X12Error only when the text is not X12 at all; envelope defects, other
    transaction types and unreadable claims are reported in the result.
    """
    interchange = parse_interchange(text)
    result = ReadResult(interchange.control_number.strip(), envelope_errors=list(interchange.errors))
    for group in interchange.groups:
        for transaction in group.transactions:
            _read_transaction(interchange, group, transaction, result)
    return result


def claim_ids(interchange_control_number: str, transaction_control_number: str,
              clm01: str) -> tuple[uuid.UUID, uuid.UUID]:
    """(claim_id, encounter_id) of a claim read from an 837P: the same file always yields the same ids,
    so reading it twice does not create the claim twice."""
    key = f"{interchange_control_number.strip()}|{transaction_control_number.strip()}|{clm01}"
    return uuid.uuid5(_ID_NAMESPACE, f"claim|{key}"), uuid.uuid5(_ID_NAMESPACE, f"encounter|{key}")


_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://openrcm.org/ids/x12-837p")


class _Unreadable(Exception):
    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass
class _Findings:
    """What reading one claim turned up: notes (data left out) and fatal gaps (claim unreadable)."""

    notes: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)


def _read_transaction(interchange: Interchange, group: FunctionalGroup, transaction: TransactionSet,
                      result: ReadResult) -> None:
    st02 = transaction.control_number
    implementation = transaction.implementation_reference or group.version
    if transaction.id_code != "837" or not implementation.startswith("005010X222"):
        result.problems.append(ReadProblem(st02, ("transaction set is not a 5010 837P (ST01/ST03 or GS08)",)))
        return
    seen: set[str] = set()
    for draft in _claim_drafts(transaction.body):
        clm01 = draft.segments[0].element(1)
        try:
            _check_clm01(clm01, seen)
            result.claims.append(_read_claim(draft, interchange.control_number.strip(), st02))
        except _Unreadable as exc:
            result.problems.append(ReadProblem(st02, tuple(exc.reasons), draft.number, draft.position, clm01))
        seen.add(clm01)


def _check_clm01(clm01: str, seen: set[str]) -> None:
    if not clm01.strip():
        raise _Unreadable(["CLM01 (patient control number) is empty"])
    if clm01 in seen:
        # Same (ISA13, ST02, CLM01) means the same derived claim id: keeping both would merge two claims.
        raise _Unreadable(["CLM01 repeats an earlier claim of this transaction set"])


# ---------------------------------------------------------------- loop structure


@dataclass
class _ClaimDraft:
    """One CLM with the hierarchy it sits in: segments of its 2000A, 2000B and (dependent) 2000C HLs."""

    number: int
    position: int
    billing: list[Segment] | None
    subscriber: list[Segment] | None
    patient: list[Segment] | None
    segments: list[Segment]  # CLM up to the next CLM or HL


def _claim_drafts(body: list[Segment]) -> Iterator[_ClaimDraft]:
    """Walk the HL tree by position: a child HL follows its parent, so the latest HL of each level is the
    context. HL02 parent ids are not trusted because real files reuse and misnumber them."""
    billing: list[Segment] | None = None
    subscriber: list[Segment] | None = None
    patient: list[Segment] | None = None
    current: list[Segment] | None = None
    draft: _ClaimDraft | None = None
    number = 0
    for position, segment in enumerate(body, start=2):  # ST is segment #1
        if segment.tag in ("HL", "CLM") and draft is not None:
            yield draft
            draft = None
        if segment.tag == "HL":
            current = [segment]
            level = segment.element(3)
            if level == "20":
                billing, subscriber, patient = current, None, None
            elif level == "22":
                subscriber, patient = current, None
            elif level == "23":
                patient = current
            else:
                current = None  # not an 837P level: its segments belong to nothing we read
        elif segment.tag == "CLM":
            number += 1
            draft = _ClaimDraft(number, position, billing, subscriber, patient, [segment])
            current = draft.segments
        elif current is not None:
            current.append(segment)
    if draft is not None:
        yield draft


@dataclass
class _OtherPayerLoops:
    segments: list[Segment]  # 2320: SBR, CAS, AMT, OI, ...
    names: dict[str, list[Segment]] = field(default_factory=dict)  # 2330A-G by NM101


@dataclass
class _LineLoops:
    segments: list[Segment]  # 2400: LX, SV1, DTP, ...
    adjudications: list[list[Segment]] = field(default_factory=list)  # 2430: SVD, CAS, DTP*573


@dataclass
class _ClaimLoops:
    header: list[Segment]  # 2300: CLM, REF, HI, ...
    providers: dict[str, list[Segment]] = field(default_factory=dict)  # 2310A-F by NM101
    other_payers: list[_OtherPayerLoops] = field(default_factory=list)
    lines: list[_LineLoops] = field(default_factory=list)


def _split_claim(segments: list[Segment]) -> _ClaimLoops:
    """Cut a claim into its loops. SBR opens a 2320 and LX a 2400; an NM1 opens a 2310 or 2330 name loop
    depending on which came last. Inside a line, SVD opens a 2430; 2410/2420/2440 are skipped."""
    loops = _ClaimLoops(header=[segments[0]])
    target = loops.header
    for segment in segments[1:]:
        if segment.tag == "LX":
            loops.lines.append(_LineLoops([segment]))
            target = loops.lines[-1].segments
        elif loops.lines:
            target = _line_segment(loops.lines[-1], segment, target)
        elif segment.tag == "SBR":
            loops.other_payers.append(_OtherPayerLoops([segment]))
            target = loops.other_payers[-1].segments
        elif segment.tag == "NM1":
            names = loops.other_payers[-1].names if loops.other_payers else loops.providers
            target = [segment]
            names.setdefault(segment.element(1), target)  # a repeated name loop is read no further
        else:
            target.append(segment)
    return loops


def _line_segment(line: _LineLoops, segment: Segment, target: list[Segment] | None) -> list[Segment] | None:
    """File one segment of a 2400 and return where the next one goes (None: a loop we do not read)."""
    if segment.tag == "SVD":
        line.adjudications.append([segment])
        return line.adjudications[-1]
    if segment.tag in ("LIN", "NM1", "LQ"):  # 2410 drug, 2420 line providers, 2440 forms
        return None
    if target is not None:
        target.append(segment)
    return target


def _name_loops(segments: list[Segment]) -> dict[str, list[Segment]]:
    """A loop's segments cut at each NM1, by NM101 (the first loop of each kind wins)."""
    loops: dict[str, list[Segment]] = {}
    current: list[Segment] | None = None
    for segment in segments:
        if segment.tag == "NM1":
            current = [segment]
            loops.setdefault(segment.element(1), current)
        elif current is not None:
            current.append(segment)
    return loops


def _first(segments: list[Segment], tag: str, qualifier: str | None = None) -> Segment | None:
    return next((s for s in segments if s.tag == tag and (qualifier is None or s.element(1) == qualifier)), None)


# ---------------------------------------------------------------- one claim


def _read_claim(draft: _ClaimDraft, isa13: str, st02: str) -> ReadClaim:
    if draft.billing is None or draft.subscriber is None:
        raise _Unreadable(["claim is not inside a billing provider (2000A) and subscriber (2000B) HL"])
    findings = _Findings()
    loops = _split_claim(draft.segments)
    clm = loops.header[0]
    if len(clm.components(5)) != 3:
        # Usually a file whose ISA16 names another component separator than the body uses.
        raise _Unreadable(["CLM05: not a place-of-service:B:frequency composite (is ISA16 the separator used?)"])
    sbr = _first(draft.subscriber, "SBR")
    lines = [_read_line(i, line, clm, findings) for i, line in enumerate(loops.lines)]
    # An 837P has no claim-level date of service: the earliest line date stands for it, and lines on that
    # date keep the model's default (None) as the writer's own claims do.
    service_date = min((line["service_date"] for line in lines), default=None)
    clm01 = clm.element(1)
    claim_id, encounter_id = claim_ids(isa13, st02, clm01)
    data = {
        "claim_id": claim_id,
        "encounter_id": encounter_id,
        "source_system": SOURCE_SYSTEM,
        "source_encounter_id": f"{isa13}:{st02}:{clm01}"[:128],
        "service_date": service_date,
        "place_of_service": clm.component(5, 1),
        "patient": _read_patient(draft, findings),
        "coverage": _read_coverage(draft, findings),
        "billing_provider": _read_billing_provider(draft.billing, findings),
        **_read_claim_providers(loops.providers, findings),
        "diagnoses": _read_diagnoses(loops.header, findings),
        "lines": [{**line, "service_date": None if line["service_date"] == service_date else line["service_date"]}
                  for line in lines],
        "total_charge": _amount(clm.element(2), "total_charge"),
        "prior_authorization": _reference(loops.header, "G1"),
        "frequency_code": clm.component(5, 3),
        "original_claim_number": _reference(loops.header, "F8"),
        "payer_responsibility": sbr.element(1) if sbr else None,
        "other_payers": _read_other_payers(loops, findings),
    }
    if findings.fatal:
        raise _Unreadable(findings.fatal)
    try:
        claim = Claim.model_validate(data)
    except ValidationError as exc:
        raise _Unreadable(_reasons(exc, "")) from None
    return ReadClaim(claim, clm01, isa13, st02, tuple(findings.notes))


def _read_billing_provider(segments: list[Segment], findings: _Findings) -> Provider | None:
    loop = _name_loops(segments).get("85")
    if loop is None:
        findings.fatal.append("billing_provider: no 2010AA NM1*85")
        return None
    specialty = _first(segments, "PRV", "BI")
    if loop[0].element(2) == "1":
        findings.notes.append("billing_provider.name: an individual (2010AA NM102 1) is held as one name "
                              "and written back as an organisation")
    extra = {"tax_id": _read_tax_id(loop, findings),
             "address": _read_address(loop, "billing_provider.address", findings)}
    return _read_provider(loop, "billing_provider", findings, specialty, required=True, **extra)


def _read_claim_providers(providers: dict[str, list[Segment]], findings: _Findings) -> dict[str, Provider | None]:
    out: dict[str, Provider | None] = {}
    for key, entity in (("referring_provider", "DN"), ("rendering_provider", "82"), ("supervising_provider", "DQ")):
        loop = providers.get(entity)
        specialty = _first(loop, "PRV", "PE") if loop and entity == "82" else None
        out[key] = _read_provider(loop, key, findings, specialty, required=False) if loop else None
    if "P3" in providers:
        findings.notes.append("referring_provider: a primary care provider (2310A NM1*P3) is not held")
    return out


def _read_provider(loop: list[Segment], label: str, findings: _Findings, specialty: Segment | None, *,
                   required: bool, **extra: Any) -> Provider | None:
    nm1 = loop[0]
    npi = nm1.element(9) if nm1.element(8) == "XX" else ""
    if not NPI.fullmatch(npi):
        (findings.fatal if required else findings.notes).append(f"{label}.npi: no 10-digit NPI (NM108 XX)"
                                                                + ("" if required else "; provider left out"))
        return None
    taxonomy = specialty.element(3) if specialty is not None else None
    if taxonomy and not re.fullmatch(r"[0-9A-Z]{9}X", taxonomy):
        findings.notes.append(f"{label}.taxonomy: not a 10-character taxonomy code (PRV03); left out")
        taxonomy = None
    data = {"npi": npi, "name": _read_entity_name(nm1, label, findings), "taxonomy": taxonomy, **extra}
    return _validated(Provider, data, label, findings, required=required)


def _read_entity_name(nm1: Segment, label: str, findings: _Findings) -> str | None:
    # Persons come back as "First Last" (middle names dropped): the form the writer splits again.
    name = nm1.element(3) if nm1.element(2) == "2" else " ".join(p for p in (nm1.element(4), nm1.element(3)) if p)
    if len(name) > 60:
        findings.notes.append(f"{label}.name: longer than 60 characters; cut")
    return name[:60] or None


def _read_tax_id(loop: list[Segment], findings: _Findings) -> str | None:
    reference = _first(loop, "REF", "EI")
    if reference is None:
        return None
    tax_id = reference.element(2).replace("-", "")  # EINs are often written 12-3456789
    if not TAX_ID.fullmatch(tax_id):
        findings.notes.append("billing_provider.tax_id: REF*EI is not 9 digits; left out")
        return None
    return tax_id


def _read_address(loop: list[Segment], label: str, findings: _Findings) -> Address | None:
    street, city = _first(loop, "N3"), _first(loop, "N4")
    if street is None or city is None:
        return None
    data = {"line1": street.element(1), "line2": street.element(2) or None, "city": city.element(1),
            "state": city.element(2), "postal_code": city.element(3)}
    return _validated(Address, data, label, findings, required=False)


def _read_person(loop: list[Segment], label: str, findings: _Findings, *, required: bool) -> Person | None:
    nm1, demographics = loop[0], _first(loop, "DMG")
    if demographics is None or demographics.element(1) != "D8" or not demographics.element(2):
        (findings.fatal if required else findings.notes).append(
            f"{label}.birth_date: no date of birth (DMG), which the claim model requires"
            + ("" if required else "; person left out"))
        return None
    data = {"first_name": nm1.element(4), "last_name": nm1.element(3),
            "birth_date": _date(demographics.element(2), f"{label}.birth_date"),
            "sex": demographics.element(3) or "U", "address": _read_address(loop, f"{label}.address", findings)}
    return _validated(Person, data, label, findings, required=required)


def _read_patient(draft: _ClaimDraft, findings: _Findings) -> Person | None:
    segments, entity, loop_id = ((draft.patient, "QC", "2010CA") if draft.patient is not None
                                 else (draft.subscriber, "IL", "2010BA"))
    loop = _name_loops(segments).get(entity)
    if loop is None:
        findings.fatal.append(f"patient: no {loop_id} NM1*{entity}")
        return None
    return _read_person(loop, "patient", findings, required=True)


def _read_coverage(draft: _ClaimDraft, findings: _Findings) -> Coverage | None:
    names = _name_loops(draft.subscriber)
    sbr, insured, payer = _first(draft.subscriber, "SBR"), names.get("IL"), names.get("PR")
    if sbr is None or insured is None or payer is None:
        findings.fatal.append("coverage: 2000B lacks SBR, 2010BA NM1*IL or 2010BB NM1*PR")
        return None
    relationship, subscriber, insured_person = "self", None, None
    if draft.patient is not None:
        relationship_code = pat.element(1) if (pat := _first(draft.patient, "PAT")) else ""
        relationship = RELATIONSHIP_FROM_CODE.get(relationship_code, "other")
        # TR3: 2010BA DMG is not sent for a dependent's subscriber, so this is usually the insured.
        if _birth_date_given(insured):
            subscriber = _read_person(insured, "coverage.subscriber", findings, required=False)
        else:
            insured_person = _read_insured(insured, "coverage.insured", findings)
    data = {"payer_id": payer[0].element(9), "payer_name": payer[0].element(3), "member_id": insured[0].element(9),
            "group_number": sbr.element(3) or None, "relationship": relationship, "subscriber": subscriber,
            "insured": insured_person}
    return _validated(Coverage, data, "coverage", findings, required=True)


def _birth_date_given(loop: list[Segment]) -> bool:
    demographics = _first(loop, "DMG")
    return demographics is not None and demographics.element(1) == "D8" and bool(demographics.element(2))


def _read_insured(loop: list[Segment], label: str, findings: _Findings) -> Insured | None:
    """A subscriber who is not the patient, without a date of birth (2010BA without DMG, 2330A)."""
    nm1, demographics = loop[0], _first(loop, "DMG")
    data = {"first_name": nm1.element(4), "last_name": nm1.element(3),
            "sex": (demographics.element(3) if demographics is not None else "") or "U",
            "address": _read_address(loop, f"{label}.address", findings)}
    return _validated(Insured, data, label, findings, required=False)


def _read_diagnoses(header: list[Segment], findings: _Findings) -> list[str]:
    codes, systems = [], set()
    for hi in (s for s in header if s.tag == "HI"):
        for position in range(1, len(hi.elements) + 1):
            qualifier, code = hi.component(position, 1), hi.component(position, 2)
            if qualifier in DIAGNOSIS_QUALIFIERS and code:
                codes.append(code)
                systems.add(DIAGNOSIS_QUALIFIERS[qualifier])
    if "icd9" in systems:
        findings.notes.append("diagnoses: ICD-9-CM codes (HI BK/BF) are held as plain codes; "
                              "the writer sends every code as ICD-10-CM")
    return codes


def _reference(segments: list[Segment], qualifier: str) -> str | None:
    reference = _first(segments, "REF", qualifier)
    return reference.element(2) if reference is not None and reference.element(2) else None


def _read_line(index: int, line: _LineLoops, clm: Segment, findings: _Findings) -> dict[str, Any]:
    label = f"lines[{index}]"
    sv1 = _first(line.segments, "SV1")
    if sv1 is None:
        raise _Unreadable([f"{label}: no SV1 (only professional service lines are read)"])
    if len(sv1.components(1)) < 2:
        raise _Unreadable([f"{label}: SV101 is not a qualifier:procedure composite (is ISA16 the separator used?)"])
    if sv1.element(3) == "MJ":
        findings.notes.append(f"{label}.units: anesthesia minutes (SV103 MJ) are held as units (UN)")
    if sv1.element(5) and sv1.element(5) != clm.component(5, 1):
        findings.notes.append(f"{label}: a place of service other than the claim's (SV105) is not held")
    return {
        "line_number": index + 1,  # LX01 is sequential from 1 in a valid file; position is what 2430s follow
        "procedure_code": sv1.component(1, 2),
        "modifiers": [m for m in sv1.components(1)[2:6] if m],
        "charge": _amount(sv1.element(2), f"{label}.charge"),
        "units": _amount(sv1.element(4), f"{label}.units"),
        "diagnosis_pointers": [_integer(p, f"{label}.diagnosis_pointers") for p in sv1.components(7) if p],
        "service_date": _read_service_date(line.segments, label, findings),
    }


def _read_service_date(segments: list[Segment], label: str, findings: _Findings) -> date:
    dtp = _first(segments, "DTP", "472")
    if dtp is None:
        raise _Unreadable([f"{label}.service_date: no DTP*472"])
    if dtp.element(2) == "RD8":
        start, _, end = dtp.element(3).partition("-")
        if end and end != start:
            findings.notes.append(f"{label}.service_date: only the first day of a date range (RD8) is held")
        return _date(start, f"{label}.service_date")
    return _date(dtp.element(3), f"{label}.service_date")


def _read_other_payers(loops: _ClaimLoops, findings: _Findings) -> list[dict[str, Any]]:
    adjudications = [(i, segments) for i, line in enumerate(loops.lines) for segments in line.adjudications]
    payer_ids = set()
    out = []
    for n, loop in enumerate(loops.other_payers):
        payer = loop.names.get("PR")
        payer_id = payer[0].element(9) if payer else ""
        payer_ids.add(payer_id)
        mine = [(i, segments) for i, segments in adjudications if segments[0].element(1) == payer_id]
        other = _read_other_payer(n, loop, mine, len(out), findings)
        if other is not None:
            out.append(other)
    if any(segments[0].element(1) not in payer_ids for _, segments in adjudications):
        findings.notes.append("lines: a 2430 for a payer with no 2320/2330B loop is left out")
    return out


def _read_other_payer(n: int, loop: _OtherPayerLoops, adjudications: list[tuple[int, list[Segment]]],
                      index: int, findings: _Findings) -> dict[str, Any] | None:
    label = f"other_payers[{index}]"
    sbr, paid = loop.segments[0], _first(loop.segments, "AMT", "D")
    payer, insured = loop.names.get("PR"), loop.names.get("IL")
    remittance = _first(payer, "DTP", "573") if payer else None
    if paid is None and remittance is None and not adjudications:
        # The claim model holds payers that adjudicated the claim; a 2320 for one still to bill is not.
        findings.notes.append(f"other_payers: 2320 loop #{n + 1} names a payer that has not adjudicated the claim; "
                              "left out")
        return None
    if payer is None or insured is None:
        findings.fatal.append(f"{label}: 2320 loop #{n + 1} lacks 2330A NM1*IL or 2330B NM1*PR")
        return None
    lines = [_read_line_adjudication(i, segments, f"{label}.lines") for i, segments in adjudications]
    adjudicated = (_date(remittance.element(3), f"{label}.adjudication_date") if remittance
                   else max((line["adjudication_date"] for line in lines), default=None))
    if paid is None:
        findings.fatal.append(f"{label}.paid_amount: no 2320 AMT*D")
    relationship = RELATIONSHIP_FROM_CODE.get(sbr.element(2), "other")
    # 2330A has no DMG: a subscriber who is not the patient comes back as the insured (name, id, address).
    other_insured = None if relationship == "self" else _read_insured(insured, f"{label}.coverage.insured", findings)
    return {
        "coverage": {"payer_id": payer[0].element(9), "payer_name": payer[0].element(3),
                     "member_id": insured[0].element(9), "group_number": sbr.element(3) or None,
                     "relationship": relationship, "subscriber": None, "insured": other_insured},
        "responsibility": sbr.element(1),
        "payer_claim_control_number": _reference(payer, "F8"),
        "paid_amount": _amount(paid.element(2), f"{label}.paid_amount") if paid else None,
        "adjudication_date": adjudicated,
        "adjustments": _read_cas(loop.segments, f"{label}.adjustments"),
        "lines": lines,
    }


def _read_line_adjudication(line_index: int, segments: list[Segment], label: str) -> dict[str, Any]:
    svd, remittance = segments[0], _first(segments, "DTP", "573")
    if remittance is None:
        raise _Unreadable([f"{label}: a 2430 has no DTP*573"])
    return {
        "line_number": line_index + 1,
        "procedure_code": svd.component(3, 2),
        "paid_amount": _amount(svd.element(2), f"{label}.paid_amount"),
        "paid_units": _amount(svd.element(5) or "1", f"{label}.paid_units"),  # SVD05 is required; absent reads as 1
        "adjustments": _read_cas(segments, f"{label}.adjustments"),
        "adjudication_date": _date(remittance.element(3), f"{label}.adjudication_date"),
    }


def _read_cas(segments: list[Segment], label: str) -> list[dict[str, Any]]:
    adjustments = []
    for cas in (s for s in segments if s.tag == "CAS"):
        for first in range(2, 20, 3):  # (reason, amount, quantity) triplets from CAS02
            if cas.element(first):
                adjustments.append({"group_code": cas.element(1), "reason_code": cas.element(first),
                                    "amount": _amount(cas.element(first + 1), label)})
    return adjustments


# ---------------------------------------------------------------- values


def _validated(model: type[BaseModel], data: dict[str, Any], label: str, findings: _Findings, *,
               required: bool) -> Any:
    """Build a sub-model; an optional one that does not fit is left out with a note."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        reasons = _reasons(exc, label)
        if required:
            findings.fatal.extend(reasons)
        else:
            findings.notes.extend(f"{reason}; left out" for reason in reasons)
        return None


def _reasons(exc: ValidationError, prefix: str) -> list[str]:
    """Pydantic errors as "field.path: message"; the offending input is never included (PHI)."""
    reasons = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path = prefix
        for part in error["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        reasons.append(f"{path or 'claim'}: {error['msg']}")
    return reasons


def _amount(text: str, label: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _Unreadable([f"{label}: not a number"]) from None
    if not value.is_finite():
        raise _Unreadable([f"{label}: not a number"])
    return value


def _integer(text: str, label: str) -> int:
    if not re.fullmatch(r"[0-9]{1,2}", text):
        raise _Unreadable([f"{label}: not a whole number"])
    return int(text)


def _date(text: str, label: str) -> date:
    day = d8_date(text)  # None for e.g. month 13
    if day is None:
        raise _Unreadable([f"{label}: not a CCYYMMDD date"])
    return day
