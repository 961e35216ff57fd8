"""One factory for the claims tests build by hand (`rcm_contracts.claim.Claim` and its parts).

`make_claim()` is a valid, minimal claim: one office-visit line, one diagnosis, a billing provider whose
NPI passes the check digit, no coverage. A test names only the values it is about, as overrides:

    make_claim(coverage=make_coverage(member_id="COPAY1"), lines=make_lines("99213", "36415"))

`total_charge` is the sum of the lines' charges unless given. Everything goes through the contract's
validation, so a test cannot build a claim the pipeline could never carry (use `model_copy` for that).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

from rcm_contracts.claim import Address, Claim, Coverage, Person, Provider, ServiceLine

GOOD_NPI = "1234567893"  # passes the NPI Luhn check (prefix 80840)
SERVICE_DATE = date(2026, 3, 14)  # inside ICD-10-CM FY2026


def make_address(**overrides: Any) -> Address:
    return Address(**{"line1": "2 Elm St", "city": "Boston", "state": "MA", "postal_code": "02110", **overrides})


def make_patient(**overrides: Any) -> Person:
    return Person(**{"first_name": "Ada", "last_name": "Lovelace", "birth_date": date(1980, 1, 2), **overrides})


def make_coverage(**overrides: Any) -> Coverage:
    return Coverage(**{"payer_id": "SBX01", "payer_name": "Sandbox Health Plan", "member_id": "M123", **overrides})


def make_provider(npi: str = GOOD_NPI, **overrides: Any) -> Provider:
    return Provider(npi=npi, **overrides)


def make_line(number: int = 1, code: str = "99213", charge: str | Decimal = "100.00", *, units: str | Decimal = "1",
              modifiers: Iterable[str] = (), pointers: Iterable[int] = (1,), **overrides: Any) -> ServiceLine:
    """One service line; `overrides` are any other ServiceLine fields (service_date, code_system)."""
    return ServiceLine(line_number=number, procedure_code=code, charge=Decimal(charge), units=Decimal(units),
                       modifiers=list(modifiers), diagnosis_pointers=list(pointers), **overrides)


def make_lines(*codes: str, charge: str | Decimal = "100.00", **line_fields: Any) -> list[ServiceLine]:
    """Lines numbered from 1, one per procedure code, each at `charge`."""
    return [make_line(n, code, charge, **line_fields) for n, code in enumerate(codes, start=1)]


def make_claim(**overrides: Any) -> Claim:
    """A valid claim; any Claim field can be overridden (nested parts as models or dicts)."""
    fields: dict[str, Any] = {
        "claim_id": uuid.uuid4(),
        "encounter_id": uuid.uuid4(),
        "source_system": "test-ehr",
        "source_encounter_id": "enc-1",
        "service_date": SERVICE_DATE,
        "place_of_service": "11",
        "patient": make_patient(),
        "billing_provider": make_provider(),
        "diagnoses": ["J069"],
        "lines": [make_line()],
        **overrides,
    }
    if "total_charge" not in fields:
        lines = [ServiceLine.model_validate(line) for line in fields["lines"]]
        fields["total_charge"] = sum((line.charge for line in lines), Decimal("0.00"))
    return Claim(**fields)
