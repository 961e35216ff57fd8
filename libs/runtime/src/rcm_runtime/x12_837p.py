"""The 005010X222A1 837P professional claim: writing a batch, reading any 837P back (pure, no I/O).

Writer: one interchange per batch (all claims for one payer) holding one ST; inside it a 2000A billing
provider HL per distinct billing provider, a 2000B subscriber HL per claim and a 2000C patient HL when the
patient is not the subscriber. That subscriber (2010BA), like an other payer's (2330A), is
`coverage.subscriber` or else `coverage.insured`, which needs no birth date: the TR3 sends none for either.
Situational segments follow the TR3 rule "if not required, do not send": no 2010BA DMG for a dependent's
subscriber, no 2310B when the rendering provider is the billing provider, no SV105 because every line
shares CLM05-1 in the claim model. `check_billable` lists what a claim lacks for the TR3; `build_837p`
refuses a batch holding such a claim instead of writing a file that the clearinghouse would reject (or
worse, accept half-built).

Reader: any 837P interchange (several ST, billing providers, dependents, COB loops) into the claim model,
as far as that model goes. A subscriber who is not the patient comes back as `coverage.insured` (name, id
and address) unless 2010BA carries a date of birth. What the model cannot hold comes back as per-claim notes;
a claim it cannot represent at all (no date of birth for the patient, no NPI, malformed numbers) comes back as
a problem, never an exception.

Messages (problems, notes, exceptions) name fields and loops, never values: names, ids and dates are PHI.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from rcm_contracts.claim import (
    Address,
    Adjustment,
    Claim,
    Coverage,
    Insured,
    LineAdjudication,
    OtherPayer,
    Person,
    Provider,
    ServiceLine,
    patient_control_number,
)
from rcm_runtime.x12 import (
    EnvelopeError,
    FunctionalGroup,
    Interchange,
    Segment,
    TransactionSet,
    build_interchange,
    parse_interchange,
)

IMPLEMENTATION = "005010X222A1"
FUNCTIONAL_ID = "HC"  # GS01 for an 837
SOURCE_SYSTEM = "x12-837p"
MAX_CLAIMS_PER_TRANSACTION = 5000  # TR3 1.4.1: receivers may reject a transaction set with more CLMs

# 2000B/2320 SBR09. The destination payer's code comes from payer configuration (batch); other payers'
# types are not in the claim model, and the TR3 says ZZ when the type of insurance is not known.
CLAIM_FILING_INDICATORS = frozenset({
    "11", "12", "13", "14", "15", "16", "17", "AM", "BL", "CH", "CI", "DS", "FI", "HM", "LM", "MA", "MB",
    "MC", "OF", "TV", "VA", "WC", "ZZ",
})
_UNKNOWN_FILING_INDICATOR = "ZZ"

_WRITTEN_DELIMITERS = "*^:~"  # what build_interchange writes
_TEXT_UNSAFE = re.compile(r"[*~:^|>]")  # ours plus those partners commonly re-envelope with
_ZIP_PLUS_4 = re.compile(r"[0-9]{9}")
_NPI = re.compile(r"[0-9]{10}")  # ASCII only
_TAX_ID = re.compile(r"[0-9]{9}")
_PHONE = re.compile(r"[0-9]{10}")
_MAX_CAS_PER_LOOP = 5  # 2320 and 2430 allow 5 CAS segments, 6 reasons each
_REASONS_PER_CAS = 6

_PATIENT_RELATIONSHIP = {"spouse": "01", "child": "19", "other": "G8"}  # 2000C PAT01
_OTHER_SUBSCRIBER_RELATIONSHIP = {"self": "18", **_PATIENT_RELATIONSHIP}  # 2320 SBR02
_RELATIONSHIP_FROM_CODE = {"18": "self", "01": "spouse", "19": "child"}  # any other code reads as "other"
_DIAGNOSIS_QUALIFIERS = {"ABK": "icd10", "ABF": "icd10", "BK": "icd9", "BF": "icd9"}


# ================================================================ the batch


@dataclass(frozen=True)
class Submitter:
    """Loop 1000A: who sends the file (the billing service), with the contact the receiver calls."""

    name: str
    id: str  # NM109 (qualifier 46): the ETIN the receiver assigned
    contact_name: str
    phone: str | None = None  # 10 digits
    email: str | None = None

    def __post_init__(self) -> None:
        if not _text(self.name) or not _text(self.contact_name):
            raise ValueError("submitter name and contact name are required")
        if _id_problems("submitter id", self.id):
            raise ValueError("submitter id must be non-blank ASCII without X12 delimiters")
        if not self.phone and not self.email:
            raise ValueError("submitter contact needs a phone number or an email (1000A PER)")
        if self.phone is not None and not _PHONE.fullmatch(self.phone):
            raise ValueError("submitter phone must be 10 digits")
        if self.email is not None and _id_problems("submitter email", self.email):
            raise ValueError("submitter email must be ASCII without X12 delimiters")


@dataclass(frozen=True)
class Receiver:
    """Loop 1000B: the clearinghouse or payer that receives the file."""

    name: str
    id: str  # NM109 (qualifier 46)

    def __post_init__(self) -> None:
        if not _text(self.name):
            raise ValueError("receiver name is required")
        if _id_problems("receiver id", self.id):
            raise ValueError("receiver id must be non-blank ASCII without X12 delimiters")


@dataclass(frozen=True)
class ClaimBatch:
    """One interchange's worth of claims, all for one payer."""

    claims: Sequence[Claim]
    submitter: Submitter
    receiver: Receiver
    interchange_control_number: int  # ISA13/GS06, persisted and incremented by the caller
    now: datetime
    sender_id: str  # ISA06/GS02
    receiver_id: str  # ISA08/GS03
    usage: Literal["P", "T"] = "P"
    sender_qualifier: str = "ZZ"
    receiver_qualifier: str = "ZZ"
    claim_filing_indicator: str = "CI"  # 2000B SBR09 for this payer: MB Medicare B, MC Medicaid, BL, HM, ...
    reference: str | None = None  # BHT03; defaults to the interchange control number

    def __post_init__(self) -> None:
        object.__setattr__(self, "claims", tuple(self.claims))
        if not self.claims:
            raise ValueError("a batch needs at least one claim")
        if len(self.claims) > MAX_CLAIMS_PER_TRANSACTION:
            raise ValueError(f"a batch holds at most {MAX_CLAIMS_PER_TRANSACTION} claims")
        payers = {c.coverage.payer_id.strip() for c in self.claims if c.coverage is not None}
        if len(payers) > 1:
            raise ValueError(f"a batch is for one payer; its claims name {len(payers)} payers")
        numbers = [patient_control_number(c.claim_id) for c in self.claims]
        if len(set(numbers)) != len(numbers):
            # 277CA/835 answers name the claim by CLM01 only: two claims with one CLM01 cannot be told apart.
            raise ValueError("two claims of the batch share a patient control number (CLM01)")
        if self.claim_filing_indicator not in CLAIM_FILING_INDICATORS:
            raise ValueError("claim filing indicator is not an SBR09 code")
        if self.reference is not None and (_id_problems("reference", self.reference) or len(self.reference) > 50):
            raise ValueError("BHT03 reference must be 1-50 ASCII characters without X12 delimiters")


class ClaimNotBillable(ValueError):
    """A claim lacks something the 837P requires. `problems` name fields, never their values (PHI)."""

    def __init__(self, claim_id: uuid.UUID, problems: list[str]) -> None:
        self.claim_id = claim_id
        self.problems = list(problems)
        super().__init__(f"claim {claim_id} cannot be billed on an 837P: {'; '.join(self.problems)}")


# ================================================================ what a claim needs


def check_billable(claim: Claim) -> list[str]:
    """Everything that keeps `claim` out of an 837P, as "field: why" (empty when it can be billed).

    Covers what the claim model allows but the TR3 does not: missing addresses and tax id, a dependent
    without the subscriber's name, ids that would break the envelope, COB amounts that do not balance.
    Clinical and payer edits (NPI check digit, code validity, dates) belong to the scrubber.
    """
    return [
        *_billing_provider_problems(claim.billing_provider),
        *_patient_problems(claim),
        *_coverage_problems(claim),
        *_claim_problems(claim),
        *_claim_provider_problems(claim),
        *_other_payer_problems(claim),
    ]


def _billing_provider_problems(provider: Provider) -> list[str]:
    problems = []
    if not _text(provider.name):
        problems.append("billing_provider.name: missing (2010AA NM103)")
    if provider.tax_id is None:
        problems.append("billing_provider.tax_id: missing (2010AA REF*EI)")
    if provider.address is None:
        problems.append("billing_provider.address: missing (2010AA N3/N4)")
    else:
        problems += _address_problems("billing_provider.address", provider.address)
        if not _ZIP_PLUS_4.fullmatch(provider.address.postal_code):
            problems.append("billing_provider.address.postal_code: 2010AA needs the 9-digit ZIP+4")
    return problems


def _patient_problems(claim: Claim) -> list[str]:
    # The patient's address is required in 2010BA (patient is the subscriber) and in 2010CA alike.
    problems = _person_name_problems("patient", claim.patient)
    if claim.patient.address is None:
        problems.append("patient.address: missing (2010BA/2010CA N3/N4)")
    else:
        problems += _address_problems("patient.address", claim.patient.address)
    return problems


def _coverage_problems(claim: Claim) -> list[str]:
    coverage = claim.coverage
    if coverage is None:
        return ["coverage: missing (2000B SBR, 2010BA subscriber, 2010BB payer)"]
    problems = [*_id_problems("coverage.payer_id", coverage.payer_id),
                *_id_problems("coverage.member_id", coverage.member_id),
                *_id_problems("coverage.group_number", coverage.group_number)]
    if not _text(coverage.payer_name):
        problems.append("coverage.payer_name: nothing left once delimiters are removed (2010BB NM103)")
    if coverage.relationship != "self":
        problems += _subscriber_problems("coverage", coverage, "2010BA NM1*IL", "for a dependent patient")
    return problems


def _subscriber_problems(label: str, coverage: Coverage, loop: str, why: str) -> list[str]:
    """The subscriber who is not the patient: a full Person or else the insured (name and id) will do."""
    field_, subscriber = (("subscriber", coverage.subscriber) if coverage.subscriber is not None
                          else ("insured", coverage.insured))
    if subscriber is None:
        return [f"{label}.subscriber: missing {why}, and no {label}.insured either ({loop})"]
    problems = _person_name_problems(f"{label}.{field_}", subscriber)
    if subscriber.address is not None:
        problems += _address_problems(f"{label}.{field_}.address", subscriber.address)
    return problems


def _claim_problems(claim: Claim) -> list[str]:
    problems = []
    if not claim.diagnoses:
        problems.append("diagnoses: at least one is required (HI ABK)")
    for i, code in enumerate(claim.diagnoses):
        problems += _id_problems(f"diagnoses[{i}]", code)
    for i, line in enumerate(claim.lines):
        problems += _id_problems(f"lines[{i}].procedure_code", line.procedure_code)
        if line.code_system != "cpt-hcpcs":  # SNOMED CT/CVX lines wait for a coder; SV101 carries HCPCS (HC)
            problems.append(f"lines[{i}].code_system: only CPT/HCPCS codes can be billed (SV101 HC)")
    if sum((line.charge for line in claim.lines), Decimal(0)) != claim.total_charge:
        problems.append("total_charge: not the sum of the line charges (CLM02 must balance to SV102)")
    problems += _id_problems("prior_authorization", claim.prior_authorization)
    problems += _id_problems("original_claim_number", claim.original_claim_number)
    return problems


def _claim_provider_problems(claim: Claim) -> list[str]:
    problems = []
    for label, provider in (("rendering_provider", claim.rendering_provider),
                            ("referring_provider", claim.referring_provider),
                            ("supervising_provider", claim.supervising_provider)):
        if provider is not None and not _text(provider.name):
            problems.append(f"{label}.name: missing (2310 NM103 needs a last name)")
    return problems


def _other_payer_problems(claim: Claim) -> list[str]:
    problems = []
    if claim.payer_responsibility != "P" and not claim.other_payers:
        problems.append("other_payers: a secondary or tertiary claim needs the earlier payer's adjudication (2320)")
    used = {claim.payer_responsibility}
    for i, other in enumerate(claim.other_payers):
        label = f"other_payers[{i}]"
        if other.responsibility in used:
            problems.append(f"{label}.responsibility: repeats the claim's or another payer's SBR01")
        used.add(other.responsibility)
        problems += _other_coverage_problems(f"{label}.coverage", other.coverage)
        problems += _id_problems(f"{label}.payer_claim_control_number", other.payer_claim_control_number)
        problems += _cas_problems(f"{label}.adjustments", other.adjustments)
        problems += _line_adjudication_problems(claim, label, other)
        problems += _claim_balance_problems(claim, label, other)
    return problems


def _other_coverage_problems(label: str, coverage: Coverage) -> list[str]:
    problems = [*_id_problems(f"{label}.payer_id", coverage.payer_id),
                *_id_problems(f"{label}.member_id", coverage.member_id),
                *_id_problems(f"{label}.group_number", coverage.group_number)]
    if not _text(coverage.payer_name):
        problems.append(f"{label}.payer_name: nothing left once delimiters are removed (2330B NM103)")
    if coverage.relationship != "self":
        problems += _subscriber_problems(label, coverage, "2330A NM1*IL", "for a non-self relationship")
    return problems


def _line_adjudication_problems(claim: Claim, label: str, other: OtherPayer) -> list[str]:
    problems = []
    numbers = {line.line_number for line in claim.lines}
    for j, adjudication in enumerate(other.lines):
        if adjudication.line_number not in numbers:
            problems.append(f"{label}.lines[{j}].line_number: matches no service line (2430)")
        problems += _id_problems(f"{label}.lines[{j}].procedure_code", adjudication.procedure_code)
        problems += _cas_problems(f"{label}.lines[{j}].adjustments", adjudication.adjustments)
    return problems


def _claim_balance_problems(claim: Claim, label: str, other: OtherPayer) -> list[str]:
    """TR3 1.4.4 balancing: CLM02 - (2320 CAS + 2430 CAS) = AMT*D, and per line SV102 - 2430 CAS = SVD02."""
    problems = []
    line_adjustments = sum((a.amount for la in other.lines for a in la.adjustments), Decimal(0))
    claim_adjustments = sum((a.amount for a in other.adjustments), Decimal(0))
    if claim.total_charge - claim_adjustments - line_adjustments != other.paid_amount:
        problems.append(f"{label}.paid_amount: total_charge minus the 2320 and 2430 adjustments does not equal it")
    for line in claim.lines:
        mine = [la for la in other.lines if la.line_number == line.line_number]
        if not mine:
            continue
        paid = sum((la.paid_amount for la in mine), Decimal(0))
        adjusted = sum((a.amount for la in mine for a in la.adjustments), Decimal(0))
        if line.charge - adjusted != paid:
            problems.append(f"{label}.lines (line_number {line.line_number}): the line charge minus its adjustments "
                            "does not equal the paid amount (SVD02)")
    return problems


def _cas_problems(label: str, adjustments: list[Adjustment]) -> list[str]:
    problems = [p for i, a in enumerate(adjustments) for p in _id_problems(f"{label}[{i}].reason_code", a.reason_code)]
    if len(_cas(adjustments)) > _MAX_CAS_PER_LOOP:
        problems.append(f"{label}: needs more than {_MAX_CAS_PER_LOOP} CAS segments (6 reasons per group code each)")
    return problems


def _person_name_problems(label: str, person: Person | Insured) -> list[str]:
    return [f"{label}.{part}: nothing left once delimiters are removed"
            for part in ("last_name", "first_name") if not _text(getattr(person, part))]


def _address_problems(label: str, address: Address) -> list[str]:
    return [f"{label}.{part}: nothing left once delimiters are removed"
            for part in ("line1", "city") if not _text(getattr(address, part))]


def _id_problems(label: str, value: str | None) -> list[str]:
    """Ids go out as given (altering one would bill someone else), so one that cannot be sent is a problem."""
    if value is None:
        return []
    if not value.strip():
        return [f"{label}: blank"]
    if any(d in value for d in _WRITTEN_DELIMITERS) or not (value.isascii() and value.isprintable()):
        return [f"{label}: holds an X12 delimiter or a character outside the X12 character set"]
    return []


# ================================================================ writing


def build_837p(batch: ClaimBatch) -> str:
    """A complete interchange (ISA..IEA) holding one 837P with every claim of `batch`.

    Raises ClaimNotBillable for the first claim `check_billable` rejects: callers set those aside first.
    """
    return build_interchange(
        batch.sender_id, batch.receiver_id, batch.interchange_control_number, FUNCTIONAL_ID, IMPLEMENTATION,
        [transaction_837p(batch)], now=batch.now, sender_qualifier=batch.sender_qualifier,
        receiver_qualifier=batch.receiver_qualifier, usage=batch.usage,
    )


def transaction_837p(batch: ClaimBatch, *, control_number: int = 1) -> list[Segment]:
    """ST..(SE added by the envelope) of the batch's 837P."""
    for claim in batch.claims:
        if problems := check_billable(claim):
            raise ClaimNotBillable(claim.claim_id, problems)
    reference = batch.reference or str(batch.interchange_control_number)
    segments = [
        Segment("ST", ["837", f"{control_number:04d}", IMPLEMENTATION]),
        # 0019 = information source, subscriber, dependent; 00 = original; CH = chargeable (not encounter)
        Segment("BHT", ["0019", "00", reference, f"{batch.now:%Y%m%d}", f"{batch.now:%H%M}", "CH"]),
        *_submitter_loop(batch.submitter),
        _receiver_name(batch.receiver),
    ]
    hierarchy = _Hierarchy()
    for provider, claims in _by_billing_provider(batch.claims).items():
        provider_hl, hl = hierarchy.add(parent="", level="20", has_children=True)
        segments += [hl, *_billing_provider_loop(provider)]
        for claim in claims:
            segments += _subscriber_hierarchy(claim, hierarchy, provider_hl, batch.claim_filing_indicator)
    return segments


class _Hierarchy:
    """HL01 ids in order of appearance; each HL names its parent's id in HL02."""

    def __init__(self) -> None:
        self.count = 0

    def add(self, *, parent: str, level: str, has_children: bool) -> tuple[str, Segment]:
        self.count += 1
        hl_id = str(self.count)
        return hl_id, Segment("HL", [hl_id, parent, level, "1" if has_children else "0"])


def _by_billing_provider(claims: Sequence[Claim]) -> dict[Provider, list[Claim]]:
    # Providers are frozen models: equal NPI, name, tax id, address and taxonomy share one 2000A loop.
    groups: dict[Provider, list[Claim]] = {}
    for claim in claims:
        groups.setdefault(claim.billing_provider, []).append(claim)
    return groups


def _submitter_loop(submitter: Submitter) -> list[Segment]:
    contact = ["IC", _text(submitter.contact_name, 60)]
    if submitter.phone:
        contact += ["TE", submitter.phone]
    if submitter.email:
        contact += ["EM", submitter.email]
    return [Segment("NM1", ["41", "2", _text(submitter.name, 60), "", "", "", "", "46", submitter.id.strip()]),
            Segment("PER", contact)]


def _receiver_name(receiver: Receiver) -> Segment:
    return Segment("NM1", ["40", "2", _text(receiver.name, 60), "", "", "", "", "46", receiver.id.strip()])


def _billing_provider_loop(provider: Provider) -> list[Segment]:
    # check_billable guarantees name, address and tax id.
    specialty = [Segment("PRV", ["BI", "PXC", provider.taxonomy])] if provider.taxonomy else []
    return [
        *specialty,
        Segment("NM1", ["85", "2", _text(provider.name, 60), "", "", "", "", "XX", provider.npi]),
        *_address_segments(provider.address),
        Segment("REF", ["EI", provider.tax_id]),
    ]


def _subscriber_hierarchy(claim: Claim, hierarchy: _Hierarchy, parent: str, filing_indicator: str) -> list[Segment]:
    coverage = claim.coverage
    dependent = coverage.relationship != "self"
    subscriber_hl, hl = hierarchy.add(parent=parent, level="22", has_children=dependent)
    subscriber = _subscriber(coverage) if dependent else claim.patient
    segments = [
        hl,
        # SBR02 18 says the subscriber is the patient; for a dependent it stays empty (PAT01 says who).
        Segment("SBR", [claim.payer_responsibility, "" if dependent else "18", _id(coverage.group_number),
                        "", "", "", "", "", filing_indicator]),
        *_subscriber_name(coverage, subscriber, is_patient=not dependent),
        _payer_name(coverage),
    ]
    if dependent:
        _, patient_hl = hierarchy.add(parent=subscriber_hl, level="23", has_children=False)
        segments += [patient_hl, Segment("PAT", [_PATIENT_RELATIONSHIP[coverage.relationship]]),
                     *_patient_name(claim.patient)]
    return [*segments, *_claim_loop(claim)]


def _subscriber(coverage: Coverage) -> Person | Insured:
    """Who 2010BA/2330A names when the patient is not the subscriber (check_billable makes sure someone is)."""
    return coverage.subscriber if coverage.subscriber is not None else coverage.insured


def _subscriber_name(coverage: Coverage, person: Person | Insured, *, is_patient: bool) -> list[Segment]:
    segments = [Segment("NM1", ["IL", "1", _text(person.last_name, 60), _text(person.first_name, 35), "", "", "",
                                "MI", _id(coverage.member_id)])]
    if person.address is not None:
        segments += _address_segments(person.address)
    if is_patient:  # TR3: 2010BA DMG only when the subscriber is the patient (who is a Person)
        segments.append(_demographics(person))
    return segments


def _patient_name(patient: Person) -> list[Segment]:
    return [Segment("NM1", ["QC", "1", _text(patient.last_name, 60), _text(patient.first_name, 35)]),
            *_address_segments(patient.address), _demographics(patient)]


def _payer_name(coverage: Coverage) -> Segment:
    return Segment("NM1", ["PR", "2", _text(coverage.payer_name, 60), "", "", "", "", "PI", _id(coverage.payer_id)])


def _address_segments(address: Address) -> list[Segment]:
    return [Segment("N3", [_text(address.line1, 55), _text(address.line2, 55)]),
            Segment("N4", [_text(address.city, 30), address.state, address.postal_code])]


def _demographics(person: Person) -> Segment:
    return Segment("DMG", ["D8", f"{person.birth_date:%Y%m%d}", person.sex])


def _claim_loop(claim: Claim) -> list[Segment]:
    segments = [
        # CLM05 = place of service : B (professional) : frequency; CLM06-09 = provider signature on file,
        # accepts assignment, benefits assigned, release of information signed.
        Segment("CLM", [patient_control_number(claim.claim_id), _decimal(claim.total_charge), "", "",
                        f"{claim.place_of_service}:B:{claim.frequency_code}", "Y", "A", "Y", "Y"]),
        *_claim_references(claim),
        _diagnoses_segment(claim.diagnoses),
        *_claim_providers(claim),
    ]
    for other in claim.other_payers:
        segments += _other_payer_loop(claim, other)
    for number, line in enumerate(claim.lines, start=1):
        segments += _service_line(claim, number, line)
    return segments


def _claim_references(claim: Claim) -> list[Segment]:
    # TR3 order within 2300: REF*G1 (prior authorization) comes before REF*F8 (payer claim control number).
    segments = []
    if claim.prior_authorization:
        segments.append(Segment("REF", ["G1", _id(claim.prior_authorization)]))
    if claim.frequency_code in ("7", "8"):
        segments.append(Segment("REF", ["F8", _id(claim.original_claim_number)]))
    return segments


def _diagnoses_segment(codes: list[str]) -> Segment:
    # ICD-10-CM goes without the dot; the first code is the principal diagnosis (ABK), the rest ABF.
    return Segment("HI", [f"{'ABK' if i == 0 else 'ABF'}:{code.replace('.', '')}" for i, code in enumerate(codes)])


def _claim_providers(claim: Claim) -> list[Segment]:
    segments = []
    if claim.referring_provider is not None:
        segments.append(_person_provider("DN", claim.referring_provider))  # 2310A
    rendering = claim.rendering_provider
    # TR3 2310B: only when the rendering provider differs from the 2010AA billing provider.
    if rendering is not None and rendering.npi != claim.billing_provider.npi:
        segments.append(_person_provider("82", rendering))
        if rendering.taxonomy:
            segments.append(Segment("PRV", ["PE", "PXC", rendering.taxonomy]))
    if claim.supervising_provider is not None:
        segments.append(_person_provider("DQ", claim.supervising_provider))  # 2310D
    return segments


def _person_provider(entity: str, provider: Provider) -> Segment:
    last, first = _split_person_name(provider.name or "")
    return Segment("NM1", [entity, "1", last, first, "", "", "", "XX", provider.npi])


def _split_person_name(name: str) -> tuple[str, str]:
    """Provider names are one string, "First [Middle] Last" as the intake parsers write them; NM1 wants
    the last name apart. A multi-word last name ("Van Dyke") comes out split wrongly: the model has no
    separate last name to do better."""
    words = _text(name).split()
    return words[-1][:60], " ".join(words[:-1])[:35]


def _other_payer_loop(claim: Claim, other: OtherPayer) -> list[Segment]:
    coverage = other.coverage
    subscriber = claim.patient if coverage.relationship == "self" else _subscriber(coverage)
    segments = [
        Segment("SBR", [other.responsibility, _OTHER_SUBSCRIBER_RELATIONSHIP[coverage.relationship],
                        _id(coverage.group_number), "", "", "", "", "", _UNKNOWN_FILING_INDICATOR]),
        *_cas(other.adjustments),
        Segment("AMT", ["D", _decimal(other.paid_amount)]),
        # OI03/OI06 repeat CLM08/CLM09: benefits assigned, release of information on file.
        Segment("OI", ["", "", "Y", "", "", "Y"]),
        Segment("NM1", ["IL", "1", _text(subscriber.last_name, 60), _text(subscriber.first_name, 35), "", "", "",
                        "MI", _id(coverage.member_id)]),  # 2330A
        *(_address_segments(subscriber.address) if subscriber.address is not None else []),
        Segment("NM1", ["PR", "2", _text(coverage.payer_name, 60), "", "", "", "", "PI", _id(coverage.payer_id)]),
    ]
    if not other.lines:  # TR3: 2330B DTP*573 only when no 2430 carries the adjudication date
        segments.append(Segment("DTP", ["573", "D8", f"{other.adjudication_date:%Y%m%d}"]))
    if other.payer_claim_control_number:
        segments.append(Segment("REF", ["F8", _id(other.payer_claim_control_number)]))
    return segments


def _service_line(claim: Claim, number: int, line: ServiceLine) -> list[Segment]:
    segments = [
        Segment("LX", [str(number)]),
        Segment("SV1", [":".join(["HC", line.procedure_code, *line.modifiers]), _decimal(line.charge), "UN",
                        _decimal(line.units), "", "", ":".join(str(p) for p in line.diagnosis_pointers)]),
        Segment("DTP", ["472", "D8", f"{line.service_date or claim.service_date:%Y%m%d}"]),
    ]
    for other in claim.other_payers:
        for adjudication in other.lines:
            if adjudication.line_number == line.line_number:
                segments += _line_adjudication(other, adjudication)
    return segments


def _line_adjudication(other: OtherPayer, adjudication: LineAdjudication) -> list[Segment]:
    # SVD01 names the 2330B payer, which is how a receiver ties the 2430 to its 2320.
    return [
        Segment("SVD", [_id(other.coverage.payer_id), _decimal(adjudication.paid_amount),
                        f"HC:{adjudication.procedure_code}", "", _decimal(adjudication.paid_units)]),
        *_cas(adjudication.adjustments),
        Segment("DTP", ["573", "D8", f"{adjudication.adjudication_date:%Y%m%d}"]),
    ]


def _cas(adjustments: list[Adjustment]) -> list[Segment]:
    """One CAS per group code (a second one past 6 reasons); zero amounts are left out (TR3 CAS note)."""
    by_group: dict[str, list[Adjustment]] = {}
    for adjustment in adjustments:
        if adjustment.amount != 0:
            by_group.setdefault(adjustment.group_code, []).append(adjustment)
    segments = []
    for group, items in by_group.items():
        for start in range(0, len(items), _REASONS_PER_CAS):
            elements = [group]
            for adjustment in items[start:start + _REASONS_PER_CAS]:
                elements += [_id(adjustment.reason_code), _decimal(adjustment.amount), ""]  # quantity unused
            segments.append(Segment("CAS", elements))
    return segments


# ================================================================ reading


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

    Raises rcm_runtime.x12.X12Error only when the text is not X12 at all; envelope defects, other
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
    if not _NPI.fullmatch(npi):
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
    if not _TAX_ID.fullmatch(tax_id):
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
        relationship = _RELATIONSHIP_FROM_CODE.get(relationship_code, "other")
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
            if qualifier in _DIAGNOSIS_QUALIFIERS and code:
                codes.append(code)
                systems.add(_DIAGNOSIS_QUALIFIERS[qualifier])
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
    relationship = _RELATIONSHIP_FROM_CODE.get(sbr.element(2), "other")
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
    if re.fullmatch(r"[0-9]{8}", text):
        try:
            return datetime.strptime(text, "%Y%m%d").date()
        except ValueError:  # e.g. month 13
            pass
    raise _Unreadable([f"{label}: not a CCYYMMDD date"])


def _decimal(value: Decimal) -> str:
    """X12 R type: no exponent, no trailing zeros, no '+' ("100", "100.5", "12.34")."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _id(value: str | None) -> str:
    return value.strip() if value else ""


def _text(value: str | None, max_length: int | None = None) -> str:
    """Free text (names, addresses) from people's records: delimiters blanked, accents folded to ASCII
    (the X12 character set has none), control characters dropped, blanks collapsed."""
    if not value:
        return ""
    folded = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    printable = "".join(ch if ch.isprintable() else " " for ch in folded)
    cleaned = " ".join(_TEXT_UNSAFE.sub(" ", printable).split())
    return cleaned[:max_length].rstrip() if max_length else cleaned
