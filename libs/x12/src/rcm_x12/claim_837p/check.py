"""Can the 837P carry this claim? (pure) `check_billable` lists what a claim lacks for the 005010X222A1 TR3.

Covers what the claim model allows but the TR3 does not: missing addresses and tax id, a dependent without
the subscriber's name, ids that would break the envelope, COB amounts that do not balance. Clinical and payer
edits (NPI check digit, code validity, dates) belong to the scrubber. Problems name fields and loops, never
values: names, ids and dates are PHI.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from rcm_contracts.claim import Address, Adjustment, Claim, Coverage, Insured, OtherPayer, Person, Provider

from rcm_x12.claim_837p.codes import MAX_CAS_PER_LOOP, ZIP_PLUS_4
from rcm_x12.codec import Segment
from rcm_x12.format import cas_segments, free_text, id_problems, x12_decimal, x12_id


class ClaimNotBillable(ValueError):
    """A claim lacks something the 837P requires. `problems` name fields, never their values (PHI)."""

    def __init__(self, claim_id: uuid.UUID, problems: list[str]) -> None:
        self.claim_id = claim_id
        self.problems = list(problems)
        super().__init__(f"claim {claim_id} cannot be billed on an 837P: {'; '.join(self.problems)}")


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
    if not free_text(provider.name):
        problems.append("billing_provider.name: missing (2010AA NM103)")
    if provider.tax_id is None:
        problems.append("billing_provider.tax_id: missing (2010AA REF*EI)")
    if provider.address is None:
        problems.append("billing_provider.address: missing (2010AA N3/N4)")
    else:
        problems += _address_problems("billing_provider.address", provider.address)
        if not ZIP_PLUS_4.fullmatch(provider.address.postal_code):
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
    problems = [*id_problems("coverage.payer_id", coverage.payer_id),
                *id_problems("coverage.member_id", coverage.member_id),
                *id_problems("coverage.group_number", coverage.group_number)]
    if not free_text(coverage.payer_name):
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
        problems += id_problems(f"diagnoses[{i}]", code)
    for i, line in enumerate(claim.lines):
        problems += id_problems(f"lines[{i}].procedure_code", line.procedure_code)
        if line.code_system != "cpt-hcpcs":  # SNOMED CT/CVX lines wait for a coder; SV101 carries HCPCS (HC)
            problems.append(f"lines[{i}].code_system: only CPT/HCPCS codes can be billed (SV101 HC)")
    if sum((line.charge for line in claim.lines), Decimal(0)) != claim.total_charge:
        problems.append("total_charge: not the sum of the line charges (CLM02 must balance to SV102)")
    problems += id_problems("prior_authorization", claim.prior_authorization)
    problems += id_problems("original_claim_number", claim.original_claim_number)
    return problems


def _claim_provider_problems(claim: Claim) -> list[str]:
    problems = []
    for label, provider in (("rendering_provider", claim.rendering_provider),
                            ("referring_provider", claim.referring_provider),
                            ("supervising_provider", claim.supervising_provider)):
        if provider is not None and not free_text(provider.name):
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
        problems += id_problems(f"{label}.payer_claim_control_number", other.payer_claim_control_number)
        problems += _cas_problems(f"{label}.adjustments", other.adjustments)
        problems += _line_adjudication_problems(claim, label, other)
        problems += _claim_balance_problems(claim, label, other)
    return problems


def _other_coverage_problems(label: str, coverage: Coverage) -> list[str]:
    problems = [*id_problems(f"{label}.payer_id", coverage.payer_id),
                *id_problems(f"{label}.member_id", coverage.member_id),
                *id_problems(f"{label}.group_number", coverage.group_number)]
    if not free_text(coverage.payer_name):
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
        problems += id_problems(f"{label}.lines[{j}].procedure_code", adjudication.procedure_code)
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
    problems = [p for i, a in enumerate(adjustments) for p in id_problems(f"{label}[{i}].reason_code", a.reason_code)]
    if len(claim_cas(adjustments)) > MAX_CAS_PER_LOOP:
        problems.append(f"{label}: needs more than {MAX_CAS_PER_LOOP} CAS segments (6 reasons per group code each)")
    return problems


def _person_name_problems(label: str, person: Person | Insured) -> list[str]:
    return [f"{label}.{part}: nothing left once delimiters are removed"
            for part in ("last_name", "first_name") if not free_text(getattr(person, part))]


def _address_problems(label: str, address: Address) -> list[str]:
    return [f"{label}.{part}: nothing left once delimiters are removed"
            for part in ("line1", "city") if not free_text(getattr(address, part))]


def claim_cas(adjustments: list[Adjustment]) -> list[Segment]:
    """2320/2430 CAS: one per group code (a second one past 6 reasons); zero amounts are left out (TR3 CAS note)."""
    return cas_segments((a.group_code, x12_id(a.reason_code), x12_decimal(a.amount))
                        for a in adjustments if a.amount != 0)
