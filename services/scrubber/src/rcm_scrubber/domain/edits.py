"""Pre-submission claim edits (pure). Each edit: stable id, severity, what to fix, which field."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit


def npi_is_valid(npi: str) -> bool:
    """NPI check digit: Luhn over '80840' + the first nine digits (CMS NPI standard)."""
    if len(npi) != 10 or not (npi.isascii() and npi.isdigit()):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def scrub(claim: Claim, *, today: date, upstream: list[Edit] = ()) -> list[Edit]:
    edits: list[Edit] = list(upstream)
    if not npi_is_valid(claim.billing_provider.npi):
        edits.append(Edit(code="SCR001", severity="error", field="billing_provider.npi",
                          message="billing provider NPI fails the check digit; correct the NPI (loop 2010AA NM109)"))
    if claim.rendering_provider and not npi_is_valid(claim.rendering_provider.npi):
        edits.append(Edit(code="SCR002", severity="error", field="rendering_provider.npi",
                          message="rendering provider NPI fails the check digit (loop 2310B NM109)"))
    if claim.coverage is None:
        edits.append(Edit(code="SCR003", severity="error", field="coverage",
                          message="no payer and member id: register the patient's coverage or bill the patient"))
    if claim.service_date > today:
        edits.append(Edit(code="SCR004", severity="error", field="service_date",
                          message="date of service is in the future (loop 2400 DTP*472)"))
    total = sum((line.charge for line in claim.lines), Decimal("0"))
    if total != claim.total_charge:
        edits.append(Edit(code="SCR005", severity="error", field="total_charge",
                          message="total charge differs from the sum of the service lines (CLM02)"))
    for line in claim.lines:
        if line.charge <= 0:
            edits.append(Edit(code="SCR006", severity="error", line_number=line.line_number, field="charge",
                              message=f"line {line.line_number}: charge must be greater than zero (SV102)"))
    return edits


def decision(edits: list[Edit]) -> str:
    return "review" if any(e.severity == "error" for e in edits) else "clean"
