"""The scrubber's edit catalog: every pre-submission edit, its default severity, what the biller must fix
and where the finding lands on the 837P (pure data; the checks live in rcm_scrubber.domain.engine).

Ids are stable: they are stored with scrub results, shown in the review queue and named in tenant rule
sets, so an id is never reused for another meaning. New edits take the next free number.

Messages say what to fix by field name, loop/segment and (the engine adds it) line number. They never
quote claim values: names, member ids, NPIs and dates are PHI and edits travel in events and logs. A
message may name its own parameters ({timely_filing_days}); those are configuration, not claim data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Severity = Literal["error", "warning"]


# ---------------------------------------------------------------- parameters


class EditParameters(BaseModel):
    """Base of an edit's tunable parameters. Unknown keys are refused so a typo in a rule set fails loudly
    instead of silently keeping the default."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class TaxonomyParameters(EditParameters):
    # PRV is situational in 2000A/2310B: required when the payer adjudicates by taxonomy (many Medicaid plans).
    required: bool = False


class TimelyFilingParameters(EditParameters):
    # Medicare's limit is one calendar year from the date of service; commercial contracts are often 90-180 days.
    timely_filing_days: int = Field(default=365, ge=1, le=3650)
    warning_days: int = Field(default=30, ge=0, le=365)  # 0: no near-limit warning


class AuthorizationParameters(EditParameters):
    # Procedure codes this payer authorizes in advance: exact codes, or a prefix ending in '*' ("7014*").
    auth_required_codes: tuple[str, ...] = ()

    @field_validator("auth_required_codes", mode="after")
    @classmethod
    def _code_patterns(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        return normalize_code_patterns(codes)

    def requires_authorization(self, procedure_code: str) -> bool:
        exact, prefixes = split_code_patterns(self.auth_required_codes)
        code = procedure_code.strip().upper()
        return code in exact or (bool(prefixes) and code.startswith(prefixes))


@lru_cache(maxsize=1024)  # once per rule set's list, not per claim line
def split_code_patterns(patterns: tuple[str, ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Normalized patterns as (exact codes, prefixes of the '*' patterns)."""
    return (frozenset(p for p in patterns if not p.endswith("*")),
            tuple(p[:-1] for p in patterns if p.endswith("*")))


def normalize_code_patterns(codes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Upper-case, trimmed procedure code patterns; '*' only as the last character (no regex language)."""
    out = []
    for raw in codes:
        code = raw.strip().upper()
        if not code or code == "*":
            raise ValueError("a procedure code pattern must not be empty")
        if "*" in code[:-1]:
            raise ValueError(f"procedure code pattern {code!r}: '*' is only allowed at the end")
        if not code.rstrip("*").isalnum() or not code.isascii():
            raise ValueError(f"procedure code pattern {code!r}: letters and digits only")
        out.append(code)
    return tuple(out)


# ---------------------------------------------------------------- definitions


@dataclass(frozen=True)
class EditDefinition:
    id: str
    severity: Severity  # default; a rule set may override it per tenant or payer
    title: str  # short name for configuration screens
    message: str  # what to fix; the engine prefixes "line N: " for line findings
    field: str | None  # Edit.field: a claim path, or the ServiceLine attribute for line findings
    segment: str  # the 837P loop and segment the finding concerns
    parameters: type[EditParameters] | None = None
    # An edit that shares another edit's parameters (configured there, once) names that edit here.
    parameters_from: str | None = None


CATALOG: tuple[EditDefinition, ...] = (
    EditDefinition("SCR001", "error", "Billing provider NPI check digit",
                   "billing provider NPI fails the check digit; correct the NPI (loop 2010AA NM109)",
                   "billing_provider.npi", "2010AA NM109"),
    EditDefinition("SCR002", "error", "Rendering provider NPI check digit",
                   "rendering provider NPI fails the check digit; correct the NPI (loop 2310B NM109)",
                   "rendering_provider.npi", "2310B NM109"),
    EditDefinition("SCR003", "error", "No coverage",
                   "no payer and member id: register the patient's coverage or bill the patient "
                   "(loops 2010BA/2010BB)",
                   "coverage", "2000B SBR / 2010BA NM1 / 2010BB NM1"),
    EditDefinition("SCR004", "error", "Date of service in the future",
                   "date of service is in the future: bill once the service is rendered (loop 2400 DTP*472)",
                   "service_date", "2400 DTP*472"),
    EditDefinition("SCR005", "error", "Total charge differs from the lines",
                   "total charge differs from the sum of the service lines (CLM02)",
                   "total_charge", "2300 CLM02"),
    EditDefinition("SCR006", "error", "Line charge not positive",
                   "charge must be greater than zero (SV102)",
                   "charge", "2400 SV102"),
    EditDefinition("SCR007", "error", "Referring provider NPI check digit",
                   "referring provider NPI fails the check digit; correct the NPI (loop 2310A NM109)",
                   "referring_provider.npi", "2310A NM109"),
    EditDefinition("SCR008", "error", "Supervising provider NPI check digit",
                   "supervising provider NPI fails the check digit; correct the NPI (loop 2310D NM109)",
                   "supervising_provider.npi", "2310D NM109"),
    EditDefinition("SCR009", "error", "Billing provider tax id",
                   "billing provider tax id (EIN or SSN) is missing or not 9 digits; add the practice's TIN "
                   "(loop 2010AA REF*EI REF02)",
                   "billing_provider.tax_id", "2010AA REF02"),
    EditDefinition("SCR010", "error", "Billing provider name",
                   "billing provider name is missing; add the practice's legal name (loop 2010AA NM103)",
                   "billing_provider.name", "2010AA NM103"),
    EditDefinition("SCR011", "error", "Billing provider address",
                   "billing provider address is missing; add the practice's street address "
                   "(loop 2010AA N3/N4)",
                   "billing_provider.address", "2010AA N3/N4"),
    EditDefinition("SCR012", "error", "Billing provider ZIP+4",
                   "billing provider ZIP code must have 9 digits (ZIP+4) (loop 2010AA N403)",
                   "billing_provider.address.postal_code", "2010AA N403"),
    EditDefinition("SCR013", "error", "Billing provider PO box",
                   "billing provider address must be a street address, not a PO or lock box; send the box as "
                   "the pay-to address (loop 2010AA N301)",
                   "billing_provider.address.line1", "2010AA N301"),
    EditDefinition("SCR014", "error", "Billing provider taxonomy",
                   "billing provider taxonomy is missing or malformed: send the 10-character NUCC code "
                   "(9 letters or digits, then X) (loop 2000A PRV03)",
                   "billing_provider.taxonomy", "2000A PRV03", TaxonomyParameters),
    EditDefinition("SCR015", "error", "Rendering provider taxonomy",
                   "rendering provider taxonomy is missing or malformed: send the 10-character NUCC code "
                   "(9 letters or digits, then X) (loop 2310B PRV03)",
                   "rendering_provider.taxonomy", "2310B PRV03", TaxonomyParameters),
    # One edit for the individual providers: the field names which one (rendering/referring/supervising).
    EditDefinition("SCR016", "error", "Provider name",
                   "provider name is missing; add the rendering, referring or supervising provider's name "
                   "(loops 2310B/2310A/2310D NM103)",
                   "rendering_provider.name", "2310A/2310B/2310D NM103"),
    # The field names whose name is blank: patient.* or coverage.subscriber.*.
    EditDefinition("SCR017", "error", "Patient or subscriber name",
                   "patient or subscriber first or last name is blank (loops 2010BA/2010CA NM103-NM104)",
                   "patient.last_name", "2010BA/2010CA NM103-NM104"),
    EditDefinition("SCR018", "error", "Patient birth date",
                   "patient birth date is after the date of service or in the future; correct the birth date "
                   "(loop 2010BA/2010CA DMG02)",
                   "patient.birth_date", "2010BA/2010CA DMG02"),
    EditDefinition("SCR019", "warning", "Patient sex unknown",
                   "patient sex is unknown (U); many payers reject it: record M or F when known "
                   "(loop 2010BA/2010CA DMG03)",
                   "patient.sex", "2010BA/2010CA DMG03"),
    EditDefinition("SCR020", "error", "Patient address",
                   "patient address is missing; add the patient's street address (loop 2010BA/2010CA N3/N4)",
                   "patient.address", "2010BA/2010CA N3/N4"),
    EditDefinition("SCR021", "error", "Subscriber missing",
                   "the patient is not the subscriber but no subscriber is given; add the policy holder's "
                   "name and birth date (loop 2010BA NM1)",
                   "coverage.subscriber", "2010BA NM1"),
    EditDefinition("SCR022", "warning", "Subscriber with relationship self",
                   "coverage names a different subscriber but the relationship is self; correct the "
                   "relationship or drop the subscriber (loop 2000B SBR02)",
                   "coverage.relationship", "2000B SBR02"),
    EditDefinition("SCR023", "error", "Payer id",
                   "payer id is blank or shorter than 2 characters; use the clearinghouse payer id "
                   "(loop 2010BB NM109)",
                   "coverage.payer_id", "2010BB NM109"),
    EditDefinition("SCR024", "error", "Member id",
                   "member id is blank or shorter than 2 characters; copy it from the insurance card "
                   "(loop 2010BA NM109)",
                   "coverage.member_id", "2010BA NM109"),
    EditDefinition("SCR025", "error", "Claim frequency code",
                   "claim frequency code must be 1 (original), 7 (replacement) or 8 (void) (CLM05-3)",
                   "frequency_code", "2300 CLM05-3"),
    EditDefinition("SCR026", "error", "Original claim number",
                   "a replacement or void claim needs the payer's original claim number (loop 2300 REF*F8)",
                   "original_claim_number", "2300 REF*F8 REF02"),
    EditDefinition("SCR027", "error", "Place of service",
                   "place of service is not a CMS place-of-service code in effect on the date of service "
                   "(CLM05-1)",
                   "place_of_service", "2300 CLM05-1"),
    EditDefinition("SCR028", "error", "Line date before claim date",
                   "line date of service is before the claim's date of service; the claim date is the first "
                   "date of service (loop 2400 DTP*472)",
                   "service_date", "2400 DTP*472"),
    EditDefinition("SCR029", "error", "Date of service outside coverage",
                   "date of service is outside the patient's coverage dates; bill the plan in effect on that "
                   "date or the patient (loop 2400 DTP*472)",
                   "service_date", "2400 DTP*472"),
    EditDefinition("SCR030", "error", "No diagnosis",
                   "claim has no diagnosis; at least one ICD-10-CM code is required (loop 2300 HI01-2)",
                   "diagnoses", "2300 HI01-2"),
    EditDefinition("SCR031", "error", "Diagnosis pointer",
                   "diagnosis pointer points at no diagnosis on the claim (SV107)",
                   "diagnosis_pointers", "2400 SV107"),
    # One timely-filing window per payer: the near-limit warning (SCR033) reads SCR032's parameters.
    EditDefinition("SCR032", "error", "Timely filing limit passed",
                   "the payer's timely-filing limit ({timely_filing_days} days from the date of service) has "
                   "passed; file with proof of timely filing or write off (loop 2400 DTP*472)",
                   "service_date", "2400 DTP*472", TimelyFilingParameters),
    EditDefinition("SCR033", "warning", "Timely filing limit near",
                   "the payer's timely-filing limit ({timely_filing_days} days from the date of service) is "
                   "less than {warning_days} days away; submit now (loop 2400 DTP*472)",
                   "service_date", "2400 DTP*472", parameters_from="SCR032"),
    EditDefinition("SCR034", "error", "Duplicate claim",
                   "a claim for the same patient, payer, dates of service and procedures was already submitted; "
                   "send a replacement (frequency 7) or void (8) instead of a new claim (CLM05-3)",
                   None, "2300 CLM01/CLM05-3"),
    EditDefinition("SCR035", "error", "Prior authorization missing",
                   "the payer requires prior authorization for this procedure; add the authorization number "
                   "(loop 2300 REF*G1)",
                   "prior_authorization", "2300 REF*G1", AuthorizationParameters),
    EditDefinition("SCR036", "error", "Prior payer adjudication missing",
                   "a secondary or tertiary claim needs the prior payer's adjudication (paid amount, "
                   "adjustments); add the other payer (loops 2320/2330B)",
                   "other_payers", "2320 SBR/AMT*D, 2330B NM1"),
    EditDefinition("SCR037", "error", "Line not coded in CPT/HCPCS",
                   "procedure code is not CPT/HCPCS (a SNOMED CT or CVX code); a coder must assign the billable "
                   "code (SV101-2)",
                   "procedure_code", "2400 SV101-2"),
)

CATALOG_BY_ID: dict[str, EditDefinition] = {d.id: d for d in CATALOG}


# ---------------------------------------------------------------- places of service

# CMS Place of Service code set (the HIPAA code set for 837P CLM05-1 / SV105). Unlisted numbers (28-30,
# 35-40, 43-48, 59, 63-64, 67-70, 73-80, 82-98) are unassigned. A code added after the first release
# carries the date it took effect: a claim whose date of service precedes it is rejected by payers.
_ALWAYS = date.min
PLACES_OF_SERVICE: dict[str, tuple[str, date]] = {
    "01": ("Pharmacy", _ALWAYS),
    "02": ("Telehealth Provided Other than in Patient's Home", date(2017, 1, 1)),
    "03": ("School", _ALWAYS),
    "04": ("Homeless Shelter", _ALWAYS),
    "05": ("Indian Health Service Free-standing Facility", _ALWAYS),
    "06": ("Indian Health Service Provider-based Facility", _ALWAYS),
    "07": ("Tribal 638 Free-standing Facility", _ALWAYS),
    "08": ("Tribal 638 Provider-based Facility", _ALWAYS),
    "09": ("Prison/Correctional Facility", _ALWAYS),
    "10": ("Telehealth Provided in Patient's Home", date(2022, 1, 1)),
    "11": ("Office", _ALWAYS),
    "12": ("Home", _ALWAYS),
    "13": ("Assisted Living Facility", _ALWAYS),
    "14": ("Group Home", _ALWAYS),
    "15": ("Mobile Unit", _ALWAYS),
    "16": ("Temporary Lodging", _ALWAYS),
    "17": ("Walk-in Retail Health Clinic", _ALWAYS),
    "18": ("Place of Employment-Worksite", _ALWAYS),
    "19": ("Off Campus-Outpatient Hospital", date(2016, 1, 1)),
    "20": ("Urgent Care Facility", _ALWAYS),
    "21": ("Inpatient Hospital", _ALWAYS),
    "22": ("On Campus-Outpatient Hospital", _ALWAYS),
    "23": ("Emergency Room - Hospital", _ALWAYS),
    "24": ("Ambulatory Surgical Center", _ALWAYS),
    "25": ("Birthing Center", _ALWAYS),
    "26": ("Military Treatment Facility", _ALWAYS),
    "27": ("Outreach Site/Street", date(2023, 10, 1)),
    "31": ("Skilled Nursing Facility", _ALWAYS),
    "32": ("Nursing Facility", _ALWAYS),
    "33": ("Custodial Care Facility", _ALWAYS),
    "34": ("Hospice", _ALWAYS),
    "41": ("Ambulance - Land", _ALWAYS),
    "42": ("Ambulance - Air or Water", _ALWAYS),
    "49": ("Independent Clinic", _ALWAYS),
    "50": ("Federally Qualified Health Center", _ALWAYS),
    "51": ("Inpatient Psychiatric Facility", _ALWAYS),
    "52": ("Psychiatric Facility-Partial Hospitalization", _ALWAYS),
    "53": ("Community Mental Health Center", _ALWAYS),
    "54": ("Intermediate Care Facility/Individuals with Intellectual Disabilities", _ALWAYS),
    "55": ("Residential Substance Abuse Treatment Facility", _ALWAYS),
    "56": ("Psychiatric Residential Treatment Center", _ALWAYS),
    "57": ("Non-residential Substance Abuse Treatment Facility", _ALWAYS),
    "58": ("Non-residential Opioid Treatment Facility", date(2020, 1, 1)),
    "60": ("Mass Immunization Center", _ALWAYS),
    "61": ("Comprehensive Inpatient Rehabilitation Facility", _ALWAYS),
    "62": ("Comprehensive Outpatient Rehabilitation Facility", _ALWAYS),
    "65": ("End-Stage Renal Disease Treatment Facility", _ALWAYS),
    "66": ("Programs of All-Inclusive Care for the Elderly (PACE) Center", _ALWAYS),
    "71": ("Public Health Clinic", _ALWAYS),
    "72": ("Rural Health Clinic", _ALWAYS),
    "81": ("Independent Laboratory", _ALWAYS),
    "99": ("Other Place of Service", _ALWAYS),
}


def place_of_service_valid(code: str, on: date) -> bool:
    entry = PLACES_OF_SERVICE.get(code)
    return entry is not None and entry[1] <= on
