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
    """`line_prices`: each line's charge after chargemaster pricing (None = no price found).

    A self-pay encounter (`self_pay`) becomes a patient statement, not a payer claim: it still needs the date of
    service, a price on every line and the billing provider (the statement names the practice), but no coverage
    (self-pay wins over a coverage on file: the patient declined to bill insurance), no diagnosis (a patient is
    billed for services, not codes; the claim keeps whatever diagnoses were sent) and no rendering provider (a
    837P field the statement does not show)."""
    out: list[Missing] = []
    payer_claim = not submission.self_pay
    if submission.service_date is None:
        out.append(Missing("service_date", "date of service is missing"))
    if payer_claim and not submission.diagnoses and not submission.source_diagnoses:  # SNOMED-only: the coder maps them
        out.append(Missing("diagnoses", "no diagnosis: the provider must document at least one"))
    if submission.billing_provider is None:
        out.append(Missing("billing_provider", "billing provider (NPI, tax id) is missing"))
    if payer_claim and submission.rendering_provider is None:
        out.append(Missing("rendering_provider.npi", "rendering provider NPI is missing"))
    # what the intake mapper could not decide (a Coverage without a member id, no rule choosing the coverage...);
    # a self-pay encounter bills no payer, so its coverage issues do not hold it
    issues = [Missing(i.field, i.reason) for i in submission.intake_issues
              if payer_claim or _top(i.field) != "coverage"]
    if payer_claim and submission.coverage is None and not any(_top(m.field) == "coverage" for m in issues):
        out.append(Missing("coverage.payer_id", "no payer on file (register coverage or mark self-pay)"))
        out.append(Missing("coverage.member_id", "subscriber (member) id is missing"))
    out += issues
    for i, price in enumerate(line_prices, start=1):
        if price is None:
            out.append(Missing(f"lines[{i}].charge",
                               f"line {i}: no charge sent and no chargemaster price for the code on the date of service"))
    # an intake issue says more than the generic finding about the same field (why the rendering NPI is missing)
    said = {_top(m.field) for m in issues}
    return [m for m in out if m in issues or _top(m.field) not in said]


def _top(field: str) -> str:
    """'coverage.member_id' -> 'coverage'; 'lines[2].charge' -> 'lines': the submission field a fix supplies."""
    return field.split(".", 1)[0].split("[", 1)[0]


def remaining_issues(issues: list[dict], changes: dict) -> list[dict]:
    """The intake issues a completeness fix leaves open: supplying a field resolves the issues about it
    (`coverage` resolves `coverage.member_id`), and marking the encounter self-pay resolves the coverage ones."""
    supplied = set(changes)
    if changes.get("self_pay"):
        supplied.add("coverage")
    return [i for i in issues if _top(i["field"]) not in supplied]


def statement_pointers(submission: EncounterSubmitted) -> EncounterSubmitted:
    """A self-pay encounter with diagnosis pointers that point at no diagnosis sent: the pointers dropped (to the
    first, the claim's default) instead of refusing it, since a patient's statement shows no diagnosis. A payer
    claim keeps them, and is refused for them (the 837P needs them right)."""
    most = max(len(submission.diagnoses), 1)
    lines = [line if all(1 <= p <= most for p in line.diagnosis_pointers) else
             line.model_copy(update={"diagnosis_pointers": [p for p in line.diagnosis_pointers if 1 <= p <= most] or [1]})
             for line in submission.lines]
    return submission.model_copy(update={"lines": lines})
