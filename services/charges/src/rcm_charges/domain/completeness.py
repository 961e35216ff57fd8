"""Completeness review before coding (pure): what an encounter lacks before it can become a claim."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rcm_contracts.events import EncounterSubmitted


@dataclass(frozen=True)
class Missing:
    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


def missing_items(submission: EncounterSubmitted, line_prices: list[Decimal | None]) -> list[Missing]:
    """`line_prices`: each line's charge after chargemaster pricing (None = no price found)."""
    out: list[Missing] = []
    if submission.service_date is None:
        out.append(Missing("service_date", "date of service is missing"))
    if not submission.diagnoses and not submission.source_diagnoses:  # SNOMED-only: the coder maps them
        out.append(Missing("diagnoses", "no diagnosis: the provider must document at least one"))
    if submission.billing_provider is None:
        out.append(Missing("billing_provider", "billing provider (NPI, tax id) is missing"))
    if submission.rendering_provider is None:
        out.append(Missing("rendering_provider.npi", "rendering provider NPI is missing"))
    if submission.coverage is None:
        out.append(Missing("coverage.payer_id", "no payer on file (register coverage or mark self-pay)"))
        out.append(Missing("coverage.member_id", "subscriber (member) id is missing"))
    for i, price in enumerate(line_prices, start=1):
        if price is None:
            out.append(Missing(f"lines[{i}].charge",
                               f"line {i}: no charge sent and no chargemaster price for the code on the date of service"))
    out += [Missing(i.field, i.reason) for i in submission.intake_issues]  # what the intake mapper could not take
    return out
