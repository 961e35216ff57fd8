"""What the sandbox payer does after a claim's first payment (pure): reverse and correct a payment it made wrongly,
recover an overpayment from a later check, pay interest on a late payment.

- Reversal and correction (835 TR3 1.10.2.8): a later 835 takes the original payment back with CLP02 22 (same
  CLP01 and CLP07, every amount negated, CAS included) and pays the claim again as it should have been paid.
- Overpayment recovery, option 3 of TR3 1.10.2.17: when the correction pays less than the original, the payer
  does not net the difference out of that check. A PLB WO with the overpayment as a negative amount (PLB03-2 =
  the claim's CLP01) keeps the check whole; a later check recovers it with a positive WO of the same reference.
- Interest (TR3 1.10.2.9): a payment made after the payer's prompt-pay deadline carries simple interest, shown
  on the claim (AMT*I) and paid at provider level (PLB L6, negative = paid to the provider).

PLB amounts follow the guide: positive takes money from the provider, negative pays it; BPR02 = sum(CLP04) -
sum(PLB04), and a check never pays less than nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from rcm_sandbox.domain.adjudication import CENT, ZERO, ClaimAdjudication, LineAdjudication

INTEREST = "L6"  # PLB03-1: interest owed
OVERPAYMENT_RECOVERY = "WO"
DAYS_PER_YEAR = Decimal(365)


@dataclass(frozen=True)
class ProviderAdjustment:
    """One PLB adjustment: reason (PLB03-1), reference (PLB03-2, here the claim's CLP01) and amount (PLB04)."""

    reason: str
    reference: str | None
    amount: Decimal

    def __post_init__(self) -> None:
        if not self.amount:
            raise ValueError("a provider adjustment of zero says nothing (the guide does not allow it)")
        if len(self.reason) != 2:
            raise ValueError("PLB03-1 is a 2-character adjustment reason code")


def reversal_of(original: ClaimAdjudication) -> ClaimAdjudication:
    """The original payment taken back: every amount negated, lines and adjustments kept as they were."""
    def neg(rows):
        return [(group, carc, -amount) for group, carc, amount in rows]
    return ClaimAdjudication(
        claim_id=original.claim_id, total_charge=-original.total_charge, allowed=-original.allowed,
        paid=-original.paid, patient_responsibility=-original.patient_responsibility,
        adjustments=neg(original.adjustments),
        lines=[LineAdjudication(line.line_number, line.procedure_code, -line.charge, -line.allowed, -line.paid,
                                neg(line.adjustments)) for line in original.lines],
        outcome=original.outcome, remark_codes=list(original.remark_codes))


def overpayment(original: ClaimAdjudication, corrected: ClaimAdjudication) -> Decimal:
    """What the payer paid too much the first time (zero when the correction pays as much or more)."""
    return max(original.paid - corrected.paid, ZERO)


def deferred_recovery(pcn: str, amount: Decimal) -> ProviderAdjustment:
    """In the reversal's check: the overpayment left in the provider's hands for now (WO, negative)."""
    return ProviderAdjustment(OVERPAYMENT_RECOVERY, pcn, -amount)


def recovery(pcn: str, amount: Decimal) -> ProviderAdjustment:
    """In a later check: the overpayment taken back (WO, positive)."""
    return ProviderAdjustment(OVERPAYMENT_RECOVERY, pcn, amount)


def interest_owed(paid: Decimal, annual_rate: Decimal, days_late: int) -> Decimal:
    """Simple interest on a late payment, to the cent (half up): paid x rate x days / 365."""
    if paid <= 0 or days_late <= 0 or annual_rate <= 0:
        return ZERO
    return (paid * annual_rate * days_late / DAYS_PER_YEAR).quantize(CENT, rounding=ROUND_HALF_UP)


def interest_paid(pcn: str | None, amount: Decimal) -> ProviderAdjustment:
    return ProviderAdjustment(INTEREST, pcn, -amount)


def check_total(claims_paid: Decimal, adjustments: list[ProviderAdjustment]) -> Decimal:
    """BPR02: what the claims pay less the provider-level adjustments."""
    return claims_paid - sum((p.amount for p in adjustments), ZERO)


# ---------------------------------------------------------------- the adjudication as the payer keeps it
def adjudication_to_json(adj: ClaimAdjudication) -> dict:
    """The payment as made, kept on the payer's claim so a later reversal negates exactly what was paid."""
    def rows(items):
        return [[group, carc, str(amount)] for group, carc, amount in items]
    return {"claim_id": str(adj.claim_id), "total_charge": str(adj.total_charge), "allowed": str(adj.allowed),
            "paid": str(adj.paid), "patient_responsibility": str(adj.patient_responsibility),
            "adjustments": rows(adj.adjustments), "outcome": adj.outcome, "remark_codes": list(adj.remark_codes),
            "lines": [{"line_number": ln.line_number, "procedure_code": ln.procedure_code, "charge": str(ln.charge),
                       "allowed": str(ln.allowed), "paid": str(ln.paid), "adjustments": rows(ln.adjustments)}
                      for ln in adj.lines]}


def adjudication_from_json(data: dict) -> ClaimAdjudication:
    def rows(items):
        return [(group, carc, Decimal(amount)) for group, carc, amount in items]
    outcome: Literal["paid", "partially_paid", "denied"] = data["outcome"]
    return ClaimAdjudication(
        claim_id=uuid.UUID(data["claim_id"]), total_charge=Decimal(data["total_charge"]),
        allowed=Decimal(data["allowed"]), paid=Decimal(data["paid"]),
        patient_responsibility=Decimal(data["patient_responsibility"]), adjustments=rows(data["adjustments"]),
        lines=[LineAdjudication(ln["line_number"], ln["procedure_code"], Decimal(ln["charge"]), Decimal(ln["allowed"]),
                                Decimal(ln["paid"]), rows(ln["adjustments"])) for ln in data["lines"]],
        outcome=outcome, remark_codes=list(data["remark_codes"]))
