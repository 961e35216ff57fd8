"""Sandbox payer adjudication: turns a Claim into what a payer's 835 would say about it.

Pure domain logic, no I/O. Money is Decimal throughout and rounded to cents with ROUND_HALF_UP.

Order of operations (per real-world payer practice):

1. Member check for the whole claim: no benefits record (or a claim whose member id does not match it)
   -> every line denied CO-31; inactive coverage -> every line denied CO-27.
2. Per line: non-covered code -> CO-96 (+ remark N130); auth-required code without a prior
   authorization -> CO-197. A denied line carries its full charge as the denial amount.
3. Covered line: allowed = min(charge, fee schedule * units or charge * default ratio); CO-45 = charge - allowed.
4. Patient responsibility over covered lines in line order: copay (PR-3, once per claim, never more than
   the allowed amounts it is taken from), then deductible (PR-1, up to what remains of it), then
   coinsurance (PR-2) on what remains of the allowed amount. paid = allowed - patient responsibility.

Every line balances: charge == paid + sum(adjustments).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from rcm_contracts.claim import Claim, ServiceLine

CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# (group code, CARC, amount)
AdjustmentRow = tuple[str, str, Decimal]

REMARK_NOT_COVERED = "N130"  # consult plan benefit documents for information about restrictions
DENIAL_CARCS = frozenset({"27", "31", "96", "197"})  # the CARCs this sandbox payer denies with


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class MemberBenefits:
    member_id: str
    active: bool
    deductible_remaining: Decimal
    coinsurance_rate: Decimal  # e.g. Decimal("0.20") = patient pays 20 % after the deductible
    copay: Decimal
    # the payer first pays this member's claims from its superseded fee schedule, finds the mistake and
    # reprocesses them in a later cycle (reversal and correction)
    reprocess: bool = False
    paid_late_days: int = 0  # days past the payer's prompt-pay deadline its payments come: interest is owed


@dataclass(frozen=True)
class PayerRules:
    payer_id: str
    fee_schedule: dict[str, Decimal]  # procedure code -> allowed amount per unit
    default_allowed_ratio: Decimal  # allowed = charge * ratio for codes not in the fee schedule
    non_covered_codes: frozenset[str] = frozenset()
    auth_required_codes: frozenset[str] = frozenset()
    # rates the payer loaded by mistake; used for the first payment of a member marked `reprocess`
    superseded_fee_schedule: dict[str, Decimal] = field(default_factory=dict)
    interest_rate: Decimal = Decimal(0)  # simple annual interest on payments made after the prompt-pay deadline
    # As a secondary payer: the earlier payer's patient-responsibility CARCs (PR-1 deductible, PR-2
    # coinsurance, PR-3 copay) this plan pays; what it does not cover stays the patient's.
    secondary_covers: frozenset[str] = frozenset({"1", "2", "3"})
    name: str | None = None
    tax_id: str = "060000001"  # the payer's EIN: TRN03 and BPR10 ("1" + EIN) tell the payers apart

    def as_first_paid(self) -> "PayerRules":
        """The rules the payer wrongly applied before reprocessing: its superseded rates over the right ones."""
        return replace(self, fee_schedule={**self.fee_schedule, **self.superseded_fee_schedule})


@dataclass(frozen=True)
class LineAdjudication:
    line_number: int
    procedure_code: str
    charge: Decimal
    allowed: Decimal
    paid: Decimal
    adjustments: list[AdjustmentRow]

    @property
    def denied(self) -> bool:
        return any(group == "CO" and carc in DENIAL_CARCS for group, carc, _ in self.adjustments)

    @property
    def patient_responsibility(self) -> Decimal:
        return sum((amount for group, _, amount in self.adjustments if group == "PR"), ZERO)


@dataclass(frozen=True)
class ClaimAdjudication:
    claim_id: uuid.UUID
    total_charge: Decimal
    allowed: Decimal
    paid: Decimal
    patient_responsibility: Decimal
    adjustments: list[AdjustmentRow]  # claim-level summary, summed per (group, carc), first-seen order
    lines: list[LineAdjudication]
    outcome: Literal["paid", "partially_paid", "denied"]
    remark_codes: list[str]


def _denied_line(line: ServiceLine, carc: str) -> LineAdjudication:
    charge = _cents(line.charge)
    return LineAdjudication(
        line_number=line.line_number,
        procedure_code=line.procedure_code,
        charge=charge,
        allowed=ZERO,
        paid=ZERO,
        adjustments=[("CO", carc, charge)],
    )


def _allowed_for(line: ServiceLine, rules: PayerRules) -> Decimal:
    charge = _cents(line.charge)
    per_unit = rules.fee_schedule.get(line.procedure_code)
    candidate = per_unit * line.units if per_unit is not None else charge * rules.default_allowed_ratio
    return max(ZERO, min(charge, _cents(candidate)))


def _check_balanced(line: LineAdjudication) -> None:
    total = line.paid + sum((amount for _, _, amount in line.adjustments), ZERO)
    # An explicit raise rather than `assert` so the invariant also holds under `python -O`.
    if line.charge != total:
        raise AssertionError(
            f"line {line.line_number} does not balance: charge {line.charge} != "
            f"paid {line.paid} + adjustments {total - line.paid}"
        )


def _summarize(lines: list[LineAdjudication]) -> list[AdjustmentRow]:
    totals: dict[tuple[str, str], Decimal] = {}
    for line in lines:
        for group, carc, amount in line.adjustments:
            totals[(group, carc)] = totals.get((group, carc), ZERO) + amount
    return [(group, carc, amount) for (group, carc), amount in totals.items()]


def adjudicate(
    claim: Claim,
    benefits: MemberBenefits | None,
    rules: PayerRules,
    *,
    prior_authorization: str | None = None,
) -> ClaimAdjudication:
    lines = sorted(claim.lines, key=lambda ln: ln.line_number)
    results: list[LineAdjudication] = []
    remarks: list[str] = []

    member_unknown = (
        benefits is None or claim.coverage is None or claim.coverage.member_id != benefits.member_id
    )
    if member_unknown:
        results = [_denied_line(line, "31") for line in lines]
    elif not benefits.active:
        results = [_denied_line(line, "27") for line in lines]
    else:
        copay_left = _cents(max(benefits.copay, ZERO))
        deductible_left = _cents(max(benefits.deductible_remaining, ZERO))
        has_auth = bool(prior_authorization and prior_authorization.strip())
        for line in lines:
            code = line.procedure_code
            if code in rules.non_covered_codes:
                results.append(_denied_line(line, "96"))
                if REMARK_NOT_COVERED not in remarks:
                    remarks.append(REMARK_NOT_COVERED)
                continue
            if code in rules.auth_required_codes and not has_auth:
                results.append(_denied_line(line, "197"))
                continue

            charge = _cents(line.charge)
            allowed = _allowed_for(line, rules)
            remaining = allowed

            copay = min(copay_left, remaining)
            copay_left -= copay
            remaining -= copay

            deductible = min(deductible_left, remaining)
            deductible_left -= deductible
            remaining -= deductible

            coinsurance = min(remaining, _cents(remaining * benefits.coinsurance_rate))
            remaining -= coinsurance

            adjustments: list[AdjustmentRow] = []
            for group, carc, amount in (
                ("CO", "45", charge - allowed),
                ("PR", "3", copay),
                ("PR", "1", deductible),
                ("PR", "2", coinsurance),
            ):
                if amount:
                    adjustments.append((group, carc, amount))
            results.append(
                LineAdjudication(
                    line_number=line.line_number,
                    procedure_code=code,
                    charge=charge,
                    allowed=allowed,
                    paid=remaining,
                    adjustments=adjustments,
                )
            )

    for result in results:
        _check_balanced(result)

    allowed_total = sum((r.allowed for r in results), ZERO)
    paid_total = sum((r.paid for r in results), ZERO)
    patient_total = sum((r.patient_responsibility for r in results), ZERO)
    any_denied = any(r.denied for r in results)

    outcome: Literal["paid", "partially_paid", "denied"]
    if any_denied and paid_total == 0 and patient_total == 0:
        outcome = "denied"
    elif any_denied:
        outcome = "partially_paid"
    else:
        outcome = "paid"

    return ClaimAdjudication(
        claim_id=claim.claim_id,
        total_charge=_cents(claim.total_charge),
        allowed=allowed_total,
        paid=paid_total,
        patient_responsibility=patient_total,
        adjustments=_summarize(results),
        lines=results,
        outcome=outcome,
        remark_codes=remarks,
    )
