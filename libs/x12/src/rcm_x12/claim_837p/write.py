"""Writing the 005010X222A1 837P professional claim (pure): one interchange per batch (all claims for one payer).

The interchange holds one ST; inside it a 2000A billing provider HL per distinct billing provider, a 2000B
subscriber HL per claim and a 2000C patient HL when the patient is not the subscriber. That subscriber
(2010BA), like an other payer's (2330A), is `coverage.subscriber` or else `coverage.insured`, which needs no
birth date: the TR3 sends none for either. Situational segments follow the TR3 rule "if not required, do
not send": no 2010BA DMG for a dependent's subscriber, no 2310B when the rendering provider is the billing
provider, no SV105 because every line shares CLM05-1 in the claim model. `build_837p` refuses a batch
holding a claim that `check_billable` (rcm_x12.claim_837p.check) rejects instead of writing a file that the
clearinghouse would reject (or worse, accept half-built). Free text goes through rcm_x12.format.free_text.

Messages (problems, exceptions) name fields and loops, never values: names, ids and dates are PHI.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from rcm_contracts.claim import (
    Address,
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

from rcm_x12.claim_837p.check import ClaimNotBillable, check_billable, claim_cas
from rcm_x12.claim_837p.codes import (
    CLAIM_FILING_INDICATORS,
    FUNCTIONAL_ID,
    IMPLEMENTATION,
    MAX_CLAIMS_PER_TRANSACTION,
    OTHER_SUBSCRIBER_RELATIONSHIP,
    PATIENT_RELATIONSHIP,
    PHONE,
    UNKNOWN_FILING_INDICATOR,
)
from rcm_x12.codec import Segment, build_interchange
from rcm_x12.format import free_text, id_problems, x12_decimal, x12_id

__all__ = ["ClaimBatch", "ClaimNotBillable", "Receiver", "Submitter", "build_837p", "transaction_837p"]


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
        if not free_text(self.name) or not free_text(self.contact_name):
            raise ValueError("submitter name and contact name are required")
        if id_problems("submitter id", self.id):
            raise ValueError("submitter id must be non-blank ASCII without X12 delimiters")
        if not self.phone and not self.email:
            raise ValueError("submitter contact needs a phone number or an email (1000A PER)")
        if self.phone is not None and not PHONE.fullmatch(self.phone):
            raise ValueError("submitter phone must be 10 digits")
        if self.email is not None and id_problems("submitter email", self.email):
            raise ValueError("submitter email must be ASCII without X12 delimiters")


@dataclass(frozen=True)
class Receiver:
    """Loop 1000B: the clearinghouse or payer that receives the file."""

    name: str
    id: str  # NM109 (qualifier 46)

    def __post_init__(self) -> None:
        if not free_text(self.name):
            raise ValueError("receiver name is required")
        if id_problems("receiver id", self.id):
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
        if self.reference is not None and (id_problems("reference", self.reference) or len(self.reference) > 50):
            raise ValueError("BHT03 reference must be 1-50 ASCII characters without X12 delimiters")


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
    contact = ["IC", free_text(submitter.contact_name, 60)]
    if submitter.phone:
        contact += ["TE", submitter.phone]
    if submitter.email:
        contact += ["EM", submitter.email]
    return [Segment("NM1", ["41", "2", free_text(submitter.name, 60), "", "", "", "", "46", submitter.id.strip()]),
            Segment("PER", contact)]


def _receiver_name(receiver: Receiver) -> Segment:
    return Segment("NM1", ["40", "2", free_text(receiver.name, 60), "", "", "", "", "46", receiver.id.strip()])


def _billing_provider_loop(provider: Provider) -> list[Segment]:
    # check_billable guarantees name, address and tax id.
    specialty = [Segment("PRV", ["BI", "PXC", provider.taxonomy])] if provider.taxonomy else []
    return [
        *specialty,
        Segment("NM1", ["85", "2", free_text(provider.name, 60), "", "", "", "", "XX", provider.npi]),
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
        Segment("SBR", [claim.payer_responsibility, "" if dependent else "18", x12_id(coverage.group_number),
                        "", "", "", "", "", filing_indicator]),
        *_subscriber_name(coverage, subscriber, is_patient=not dependent),
        _payer_name(coverage),
    ]
    if dependent:
        _, patient_hl = hierarchy.add(parent=subscriber_hl, level="23", has_children=False)
        segments += [patient_hl, Segment("PAT", [PATIENT_RELATIONSHIP[coverage.relationship]]),
                     *_patient_name(claim.patient)]
    return [*segments, *_claim_loop(claim)]


def _subscriber(coverage: Coverage) -> Person | Insured:
    """Who 2010BA/2330A names when the patient is not the subscriber (check_billable makes sure someone is)."""
    return coverage.subscriber if coverage.subscriber is not None else coverage.insured


def _subscriber_name(coverage: Coverage, person: Person | Insured, *, is_patient: bool) -> list[Segment]:
    segments = [Segment("NM1", ["IL", "1", free_text(person.last_name, 60), free_text(person.first_name, 35), "", "", "",
                                "MI", x12_id(coverage.member_id)])]
    if person.address is not None:
        segments += _address_segments(person.address)
    if is_patient:  # TR3: 2010BA DMG only when the subscriber is the patient (who is a Person)
        segments.append(_demographics(person))
    return segments


def _patient_name(patient: Person) -> list[Segment]:
    return [Segment("NM1", ["QC", "1", free_text(patient.last_name, 60), free_text(patient.first_name, 35)]),
            *_address_segments(patient.address), _demographics(patient)]


def _payer_name(coverage: Coverage) -> Segment:
    return Segment("NM1", ["PR", "2", free_text(coverage.payer_name, 60), "", "", "", "", "PI", x12_id(coverage.payer_id)])


def _address_segments(address: Address) -> list[Segment]:
    return [Segment("N3", [free_text(address.line1, 55), free_text(address.line2, 55)]),
            Segment("N4", [free_text(address.city, 30), address.state, address.postal_code])]


def _demographics(person: Person) -> Segment:
    return Segment("DMG", ["D8", f"{person.birth_date:%Y%m%d}", person.sex])


def _claim_loop(claim: Claim) -> list[Segment]:
    segments = [
        # CLM05 = place of service : B (professional) : frequency; CLM06-09 = provider signature on file,
        # accepts assignment, benefits assigned, release of information signed.
        Segment("CLM", [patient_control_number(claim.claim_id), x12_decimal(claim.total_charge), "", "",
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
        segments.append(Segment("REF", ["G1", x12_id(claim.prior_authorization)]))
    if claim.frequency_code in ("7", "8"):
        segments.append(Segment("REF", ["F8", x12_id(claim.original_claim_number)]))
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
    words = free_text(name).split()
    return words[-1][:60], " ".join(words[:-1])[:35]


def _other_payer_loop(claim: Claim, other: OtherPayer) -> list[Segment]:
    coverage = other.coverage
    subscriber = claim.patient if coverage.relationship == "self" else _subscriber(coverage)
    segments = [
        Segment("SBR", [other.responsibility, OTHER_SUBSCRIBER_RELATIONSHIP[coverage.relationship],
                        x12_id(coverage.group_number), "", "", "", "", "", UNKNOWN_FILING_INDICATOR]),
        *claim_cas(other.adjustments),
        Segment("AMT", ["D", x12_decimal(other.paid_amount)]),
        # OI03/OI06 repeat CLM08/CLM09: benefits assigned, release of information on file.
        Segment("OI", ["", "", "Y", "", "", "Y"]),
        Segment("NM1", ["IL", "1", free_text(subscriber.last_name, 60), free_text(subscriber.first_name, 35), "", "", "",
                        "MI", x12_id(coverage.member_id)]),  # 2330A
        *(_address_segments(subscriber.address) if subscriber.address is not None else []),
        Segment("NM1", ["PR", "2", free_text(coverage.payer_name, 60), "", "", "", "", "PI", x12_id(coverage.payer_id)]),
    ]
    if not other.lines:  # TR3: 2330B DTP*573 only when no 2430 carries the adjudication date
        segments.append(Segment("DTP", ["573", "D8", f"{other.adjudication_date:%Y%m%d}"]))
    if other.payer_claim_control_number:
        segments.append(Segment("REF", ["F8", x12_id(other.payer_claim_control_number)]))
    return segments


def _service_line(claim: Claim, number: int, line: ServiceLine) -> list[Segment]:
    segments = [
        Segment("LX", [str(number)]),
        Segment("SV1", [":".join(["HC", line.procedure_code, *line.modifiers]), x12_decimal(line.charge), "UN",
                        x12_decimal(line.units), "", "", ":".join(str(p) for p in line.diagnosis_pointers)]),
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
        Segment("SVD", [x12_id(other.coverage.payer_id), x12_decimal(adjudication.paid_amount),
                        f"HC:{adjudication.procedure_code}", "", x12_decimal(adjudication.paid_units)]),
        *claim_cas(adjudication.adjustments),
        Segment("DTP", ["573", "D8", f"{adjudication.adjudication_date:%Y%m%d}"]),
    ]
