"""The claim as it travels between stages (event-carried state: no stage calls back upstream)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from rcm_contracts.base import Contract

Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=16)]
Npi = Annotated[str, StringConstraints(pattern=r"^[0-9]{10}$")]  # ASCII only: \d would admit other scripts' digits


class Address(Contract):
    line1: str = Field(min_length=1, max_length=55)
    line2: str | None = Field(default=None, max_length=55)
    city: str = Field(min_length=1, max_length=30)
    state: str = Field(pattern=r"^[A-Z]{2}$")
    postal_code: str = Field(pattern=r"^[0-9]{5}([0-9]{4})?$")


class Person(Contract):
    first_name: str = Field(min_length=1, max_length=35)
    last_name: str = Field(min_length=1, max_length=60)
    birth_date: date
    sex: Literal["M", "F", "U"] = "U"
    address: Address | None = None


class Coverage(Contract):
    payer_id: str = Field(min_length=1, max_length=80)
    payer_name: str = Field(min_length=1, max_length=60)
    member_id: str = Field(min_length=1, max_length=80)
    group_number: str | None = Field(default=None, max_length=50)
    relationship: Literal["self", "spouse", "child", "other"] = "self"
    subscriber: Person | None = None  # None when the patient is the subscriber


class Provider(Contract):
    npi: Npi
    name: str | None = Field(default=None, max_length=60)
    taxonomy: str | None = Field(default=None, pattern=r"^[0-9A-Z]{9}X$")
    tax_id: str | None = Field(default=None, pattern=r"^[0-9]{9}$")
    address: Address | None = None


class ServiceLine(Contract):
    line_number: int = Field(ge=1, le=50)
    procedure_code: Code
    modifiers: list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")]] = Field(default_factory=list, max_length=4)
    units: Decimal = Field(gt=0, max_digits=8, decimal_places=3)
    charge: Money = Field(ge=0)
    diagnosis_pointers: list[int] = Field(default_factory=lambda: [1], min_length=1, max_length=4)
    service_date: date | None = None  # defaults to the claim's date of service


class Claim(Contract):
    claim_id: uuid.UUID
    encounter_id: uuid.UUID
    source_system: str = Field(min_length=1, max_length=64)
    source_encounter_id: str = Field(min_length=1, max_length=128)
    service_date: date
    place_of_service: str = Field(pattern=r"^[0-9]{2}$")
    patient: Person
    coverage: Coverage | None = None
    billing_provider: Provider
    rendering_provider: Provider | None = None
    referring_provider: Provider | None = None
    diagnoses: list[Code] = Field(default_factory=list, max_length=12)
    lines: list[ServiceLine] = Field(min_length=1, max_length=50)
    total_charge: Money
    prior_authorization: str | None = Field(default=None, max_length=50)  # 837P REF*G1

    @model_validator(mode="after")
    def _pointers_point_at_diagnoses(self) -> "Claim":
        for line in self.lines:
            for p in line.diagnosis_pointers:
                if p < 1 or p > max(len(self.diagnoses), 1):
                    raise ValueError(f"line {line.line_number}: diagnosis pointer {p} points at no diagnosis")
        return self
