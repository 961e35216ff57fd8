"""A self-pay encounter's statement (pure): the patient owes every service line's charge, itemized, less the
tenant's self-pay discount when it set one.

No payer adjudicates a self-pay claim, so nothing replaces its charges with an allowed amount: the balance opens at
the full charge. Many practices grant self-pay patients a flat percentage off (a prompt-pay or uninsured discount);
it is applied per line, rounded half up to the cent, so the statement's lines add up to its total exactly. No
good-faith estimate (No Surprises Act) is produced here: patient-billing has none yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from rcm_contracts.claim import Claim

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_DISCOUNT_PERCENT = Decimal(100)


@dataclass(frozen=True)
class StatementLine:
    line_number: int
    procedure_code: str
    modifiers: tuple[str, ...]
    units: Decimal
    service_date: str  # ISO date: the line's own, else the claim's date of service
    charge: Decimal
    discount: Decimal
    amount: Decimal  # charge - discount: what the patient owes for the line

    def as_dict(self) -> dict:
        return {"line_number": self.line_number, "procedure_code": self.procedure_code,
                "modifiers": list(self.modifiers), "units": str(self.units), "service_date": self.service_date,
                "charge": str(self.charge), "discount": str(self.discount), "amount": str(self.amount)}


def itemize(claim: Claim, discount_percent: Decimal = ZERO) -> tuple[list[StatementLine], Decimal]:
    """The statement lines of a self-pay claim and what the patient owes in all (their sum)."""
    if not ZERO <= discount_percent <= MAX_DISCOUNT_PERCENT:
        raise ValueError("a self-pay discount is a percentage from 0 to 100")
    lines = []
    for line in claim.lines:
        discount = (line.charge * discount_percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        lines.append(StatementLine(line.line_number, line.procedure_code, tuple(line.modifiers), line.units,
                                   (line.service_date or claim.service_date).isoformat(), line.charge.quantize(CENT),
                                   discount, line.charge.quantize(CENT) - discount))
    return lines, sum((line.amount for line in lines), ZERO)
