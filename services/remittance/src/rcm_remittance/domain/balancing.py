"""Balancing a remittance before anything of it is posted (pure). Every rule of the 835 guide's balancing
section, each imbalance with the exact difference and where it is:

- file  (per check):  BPR02 = sum(CLP04) - sum(PLB amounts)         (a positive PLB withholds money)
- claim:              CLP03 - CLP04 = claim-level CAS + line-level CAS
- claim (with lines): CLP04 = sum(SVC03) - claim-level CAS
                      (with no claim-level CAS this is the guide's CLP04 = sum(SVC03); a claim-level
                      adjustment is money the payer took off the lines' payments, so it comes off here too)
- line:               SVC02 - SVC03 = the line's CAS

`difference` is always expected minus actual, so `actual + difference == expected`. A JSON advice has no
check total (BPR02), so only its claims are balanced. CLP05 against the PR adjustments is not a balancing
rule of the guide (it is informational); a disagreement is reported as a warning, not an imbalance.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rcm_remittance.domain.remit import Check, ClaimPay

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Imbalance:
    level: str  # file | claim | line
    rule: str
    expected: Decimal
    actual: Decimal
    check_index: int  # the check (transaction set) in the file, from 0
    claim_index: int | None = None  # the claim in its check, from 0
    line_index: int | None = None  # the line in its claim, from 0

    @property
    def difference(self) -> Decimal:
        return self.expected - self.actual

    def as_json(self) -> dict:
        return {"level": self.level, "rule": self.rule, "expected": str(self.expected), "actual": str(self.actual),
                "difference": str(self.difference), "check_index": self.check_index,
                "claim_index": self.claim_index, "line_index": self.line_index}


def _sum(values) -> Decimal:
    return sum(values, ZERO)


def claim_imbalances(claim: ClaimPay, check_index: int = 0, claim_index: int = 0) -> list[Imbalance]:
    found = []
    for n, line in enumerate(claim.lines):
        adjusted = _sum(a.amount for a in line.adjustments)
        if line.charge - line.paid != adjusted:
            found.append(Imbalance("line", "SVC02 - SVC03 = line adjustments", adjusted, line.charge - line.paid,
                                   check_index, claim_index, n))
    adjusted = _sum(a.amount for a in claim.all_adjustments)
    if claim.charge - claim.paid != adjusted:
        found.append(Imbalance("claim", "CLP03 - CLP04 = claim and line adjustments", adjusted,
                               claim.charge - claim.paid, check_index, claim_index))
    if claim.lines:
        from_lines = _sum(line.paid for line in claim.lines) - _sum(a.amount for a in claim.adjustments)
        if claim.paid != from_lines:
            found.append(Imbalance("claim", "CLP04 = sum(SVC03) - claim adjustments", from_lines, claim.paid,
                                   check_index, claim_index))
    return found


def check_imbalances(check: Check, check_index: int = 0) -> list[Imbalance]:
    found = [i for n, claim in enumerate(check.claims) for i in claim_imbalances(claim, check_index, n)]
    if check.amount is not None:
        expected = _sum(c.paid for c in check.claims) - _sum(p.amount for p in check.provider_adjustments)
        if check.amount != expected:
            found.append(Imbalance("file", "BPR02 = sum(CLP04) - sum(PLB)", expected, check.amount, check_index))
    return found


def file_imbalances(checks: list[Check]) -> list[Imbalance]:
    return [i for n, check in enumerate(checks) for i in check_imbalances(check, n)]


def patient_share_warnings(checks: list[Check]) -> list[str]:
    out = []
    for n, check in enumerate(checks):
        for m, claim in enumerate(check.claims):
            pr = _sum(a.amount for a in claim.all_adjustments if a.group == "PR")
            if pr != claim.patient_responsibility:
                out.append(f"check #{n} claim #{m}: CLP05 {claim.patient_responsibility} is not the sum of its PR "
                           f"adjustments ({pr}); the PR adjustments are posted")
    return out
