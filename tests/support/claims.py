"""One factory for the claims tests build by hand (`rcm_contracts.claim.Claim` and its parts).

`make_claim()` is a valid, minimal claim: one office-visit line, one diagnosis, a billing provider whose
NPI passes the check digit, no coverage. A test names only the values it is about, as overrides:

    make_claim(coverage=make_coverage(member_id="COPAY1"), lines=make_lines("99213", "36415"))

`total_charge` is the sum of the lines' charges unless given. A dependent's coverage names the subscriber
(`make_coverage(relationship="child", subscriber=make_patient(...))`, or `insured=make_insured(...)` when only
name and address are known); a secondary claim carries what the primary paid (`make_other_payer`, with
`make_adjustment` and `make_line_adjudication` for its CAS and 2430 lines). Everything goes through the contract's
validation, so a test cannot build a claim the pipeline could never carry (use `model_copy` for that).
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Iterable

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
)

GOOD_NPI = "1234567893"  # passes the NPI Luhn check (prefix 80840)
SERVICE_DATE = date(2026, 3, 14)  # inside ICD-10-CM FY2026
ADJUDICATION_DATE = date(2026, 3, 20)  # the other payer's, after SERVICE_DATE


def make_address(**overrides: Any) -> Address:
    return Address(**{"line1": "2 Elm St", "city": "Boston", "state": "MA", "postal_code": "02110", **overrides})


def make_patient(**overrides: Any) -> Person:
    return Person(**{"first_name": "Ada", "last_name": "Lovelace", "birth_date": date(1980, 1, 2), **overrides})


def make_insured(**overrides: Any) -> Insured:
    """The subscriber known by name only (read from an 837P: no birth date), for a dependent's coverage."""
    return Insured(**{"first_name": "Charles", "last_name": "Babbage", **overrides})


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


def make_adjustment(group: str = "CO", reason: str = "45", amount: str | Decimal = "0.00") -> Adjustment:
    """A CAS adjustment: group code, CARC reason code, amount."""
    return Adjustment(group_code=group, reason_code=reason, amount=Decimal(amount))


def make_line_adjudication(number: int = 1, code: str = "99213", paid: str | Decimal = "100.00", *,
                           adjustments: Iterable[Adjustment] = (), adjudication_date: date = ADJUDICATION_DATE,
                           **overrides: Any) -> LineAdjudication:
    """How another payer paid one line (837P 2430); `overrides` are any other LineAdjudication fields (paid_units)."""
    return LineAdjudication(line_number=number, procedure_code=code, paid_amount=Decimal(paid),
                            adjustments=list(adjustments), adjudication_date=adjudication_date, **overrides)


def make_other_payer(**overrides: Any) -> OtherPayer:
    """A payer that adjudicated the claim before this one (837P 2320/2330): by default a primary, other than
    `make_coverage()`'s payer, that paid the default claim's 100.00 in full. Balancing its amounts against the
    claim is the test's business."""
    return OtherPayer(**{
        "coverage": make_coverage(payer_id="PRI01", payer_name="Primary Health Plan", member_id="P123"),
        "responsibility": "P",
        "paid_amount": Decimal("100.00"),
        "adjudication_date": ADJUDICATION_DATE,
        **overrides,
    })
