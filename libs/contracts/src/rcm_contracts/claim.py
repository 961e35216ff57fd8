"""The claim as it travels between stages (event-carried state: no stage calls back upstream)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from rcm_contracts.base import Contract
from rcm_contracts.dates import IsoDate

Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
# 18: a SNOMED CT concept id (up to 18 digits) may stand in a line until a coder assigns CPT/HCPCS
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=18)]
# The code system of a service line's code. EHRs such as Synthea code procedures in SNOMED CT and vaccines
# in CVX only; such lines travel as they came and coding sends the claim to the coder queue.
LineCodeSystem = Literal["cpt-hcpcs", "snomed-ct", "cvx"]
Npi = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]  # ASCII only: \d would admit other scripts' digits


class SourceCode(Contract):
    """A clinical code as the EHR sent it, in a system claims cannot carry (a SNOMED CT diagnosis)."""

    system: Literal["snomed-ct"]
    code: str = Field(pattern=r"^[0-9]{6,18}$")


class Address(Contract):
    line1: str = Field(min_length=1, max_length=55)
    line2: str | None = Field(default=None, max_length=55)
    city: str = Field(min_length=1, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^[0-9]{5}([0-9]{4})?$")


class Person(Contract):
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    birth_date: IsoDate
    sex: Literal["M", "F", "U"] = "U"
    address: Address | None = None


class Insured(Contract):
    """The insured person as the 837P knows them: name and address, a birth date only when sent. The TR3
    carries none for a dependent patient's subscriber (2010BA DMG) or for an other payer's (2330A)."""

    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    birth_date: IsoDate | None = None
    sex: Literal["M", "F", "U"] = "U"
    address: Address | None = None


class Coverage(Contract):
    payer_id: str = Field(min_length=1, max_length=80)
    payer_name: str = Field(min_length=1, max_length=60)
    member_id: str = Field(min_length=1, max_length=80)
    group_number: str | None = Field(default=None, max_length=50)
    relationship: Literal["self", "spouse", "child", "other"] = "self"
    subscriber: Person | None = None  # None when the patient is the subscriber
    # The subscriber when the patient is not the subscriber and only name/id (no birth date) are known,
    # e.g. read from an 837P; `subscriber` (a full Person) wins when both are given.
    insured: Insured | None = None
    # the coverage period the payer's 271 reported (eligibility fills it): the scrubber checks the date
    # of service against it (SCR029)
    effective_from: IsoDate | None = None
    effective_to: IsoDate | None = None


class Provider(Contract):
    npi: Npi
    name: str | None = Field(default=None, max_length=60)
    taxonomy: str | None = Field(default=None, pattern=r"^[0-9A-Z]{9}X$")
    tax_id: str | None = Field(default=None, pattern=r"^[0-9]{9}$")
    address: Address | None = None


class Adjustment(Contract):
    """A CAS adjustment: group (CO contractual, PR patient, OA other, PI payer-initiated, CR correction),
    CARC reason code and amount."""

    group_code: Literal["CO", "PR", "OA", "PI", "CR"]
    reason_code: str = Field(min_length=1, max_length=5)
    amount: Money


class LineAdjudication(Contract):
    """How another payer adjudicated one service line (837P loop 2430)."""

    line_number: int = Field(ge=1, le=50)
    procedure_code: Code
    paid_amount: Money
    paid_units: Decimal = Field(default=Decimal(1), gt=0, max_digits=8, decimal_places=3)
    adjustments: list[Adjustment] = Field(default_factory=list)
    adjudication_date: IsoDate


class OtherPayer(Contract):
    """A payer that adjudicated the claim before this one (837P loops 2320/2330): a secondary claim
    carries the primary's payment and adjustments."""

    coverage: Coverage
    responsibility: Literal["P", "S", "T"] = "P"
    payer_claim_control_number: str | None = Field(default=None, max_length=50)
    paid_amount: Money
    adjudication_date: IsoDate
    adjustments: list[Adjustment] = Field(default_factory=list)  # claim-level CAS (2320)
    lines: list[LineAdjudication] = Field(default_factory=list)


class ServiceLine(Contract):
    line_number: int = Field(ge=1, le=50)
    procedure_code: Code
    modifiers: list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")]] = Field(default_factory=list, max_length=4)
    units: Decimal = Field(gt=0, max_digits=8, decimal_places=3)
    charge: Money = Field(ge=0)
    diagnosis_pointers: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=4)
    service_date: IsoDate | None = None  # defaults to the claim's date of service
    code_system: LineCodeSystem = "cpt-hcpcs"


class Claim(Contract):
    claim_id: uuid.UUID
    encounter_id: uuid.UUID
    source_system: str = Field(min_length=1, max_length=64)
    source_encounter_id: str = Field(min_length=1, max_length=128)
    service_date: IsoDate
    place_of_service: str = Field(pattern=r"^[0-9]{2}$")
    patient: Person
    coverage: Coverage | None = None
    billing_provider: Provider
    rendering_provider: Provider | None = None
    referring_provider: Provider | None = None
    diagnoses: list[Code] = Field(default_factory=list, max_length=12)
    # diagnoses the EHR coded in SNOMED CT only: a coder maps them to ICD-10-CM
    source_diagnoses: list[SourceCode] = Field(default_factory=list, max_length=50)
    lines: list[ServiceLine] = Field(min_length=1, max_length=50)
    total_charge: Money
    prior_authorization: str | None = Field(default=None, max_length=50)  # 837P REF*G1
    supervising_provider: Provider | None = None
    # CLM05-3: 1 original, 7 replacement, 8 void; 7 and 8 name the payer's claim number (REF*F8)
    frequency_code: Literal["1", "7", "8"] = "1"
    original_claim_number: str | None = Field(default=None, max_length=50)
    payer_responsibility: Literal["P", "S", "T"] = "P"  # SBR01: which payer in the order of benefits
    other_payers: list[OtherPayer] = Field(default_factory=list, max_length=10)
    # the patient's coverage that pays after this claim's payer (coordination of benefits): when the primary's
    # 835 leaves the patient a share, submission sends the claim on to it (a secondary claim) automatically
    secondary_coverage: Coverage | None = None

    @model_validator(mode="after")
    def _pointers_point_at_diagnoses(self) -> "Claim":
        for line in self.lines:
            for p in line.diagnosis_pointers:
                if p < 1 or p > max(len(self.diagnoses), 1):
                    raise ValueError(f"line {line.line_number}: diagnosis pointer {p} points at no diagnosis")
        if self.frequency_code in ("7", "8") and not self.original_claim_number:
            raise ValueError(f"frequency {self.frequency_code} needs original_claim_number (the payer's claim number)")
        return self


def patient_control_number(claim_id: uuid.UUID) -> str:
    """CLM01 for a claim: X12 allows 20 characters, a UUID needs 32 hex digits, so the first 20 hex
    digits (80 random bits of a uuid4) stand for the claim on the wire. Receivers of 277CA/835 map it back
    through what submission published (claim-submitted carries it)."""
    return claim_id.hex[:20].upper()
