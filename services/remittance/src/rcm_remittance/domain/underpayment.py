"""Underpayment check (pure): a claim payment's lines against the tenant's contract with the payer.

Per line: expected allowed = contracted rate per unit x units (rounded to the cent, half up), actual allowed =
the allowed amount as paid, difference = actual - expected (negative when underpaid). A line is **paid
incorrectly** when it is short by more than the tolerance; a line without a contract rate is `no_contract_rate`
with the reason and is never flagged; everything else is `paid_correctly` (an overpayment included: the
difference shows it).

Tolerance: `absolute` (dollars) and/or `percent` (of the expected amount). A shortfall is beyond the tolerance
when it is **strictly greater** than every threshold that is set: with both set, a line must miss by more than
the dollars *and* by more than the percentage (so neither a few cents on a large line nor a large share of a tiny
line raises an alarm alone). Exactly at a threshold is within it. With neither set, any shortfall is flagged.

Per claim: the sums of expected and actual over the lines that have a contract rate, their difference, and
`paid_incorrectly` when any line is, or when the claim's total shortfall is beyond the tolerance (many small
shortfalls add up); `no_contract_rate` when no line has a rate.

Multiple procedures (Medicare-percentage lines whose MULT PROC indicator is 2, codesets.md §2.4): on one date of
service the unit with the highest rate is expected at 100 % and every other unit at 50 % (each reduced unit
rounded to the cent, half up). Indicators 3-7 (endoscopy, imaging and therapy families) have other rules that
are not implemented: when two or more such units fall on one day, those lines are `no_contract_rate` with reason
`multiple_procedure_rule_not_implemented` rather than risk a false flag.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

from rcm_remittance.domain.contract_rates import Contract
from rcm_remittance.domain.medicare_pfs import Price, round_cents

LineStatus = Literal["paid_correctly", "paid_incorrectly", "no_contract_rate"]
ZERO = Decimal("0.00")
HALF = Decimal("0.5")
OTHER_MULT_PROC = frozenset({"3", "4", "5", "6", "7"})


@dataclass(frozen=True, slots=True)
class PaidLine:
    code: str
    modifiers: tuple[str, ...]
    units: Decimal
    place_of_service: str
    date_of_service: date
    allowed: Decimal  # allowed amount as paid (SVC02 less the contractual adjustments, or AMT*B6)
    line_id: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.units, Decimal) or not isinstance(self.allowed, Decimal):
            raise ValueError("units and allowed amount are Decimals")  # money is never float


@dataclass(frozen=True)
class Tolerance:
    absolute: Decimal | None = None
    percent: Decimal | None = None

    def __post_init__(self) -> None:
        for value in (self.absolute, self.percent):
            if value is not None and (not isinstance(value, Decimal) or value < 0):
                raise ValueError("tolerances are non-negative Decimals")

    def exceeded(self, expected: Decimal, shortfall: Decimal) -> bool:
        if shortfall <= 0:
            return False
        if self.absolute is not None and shortfall <= self.absolute:
            return False
        if self.percent is not None and shortfall <= expected * self.percent / Decimal("100"):
            return False
        return True


@dataclass(frozen=True, slots=True)
class LineResult:
    line: PaidLine
    status: LineStatus
    expected: Decimal | None
    actual: Decimal
    difference: Decimal | None
    reason: str | None = None


@dataclass(frozen=True)
class ClaimResult:
    status: LineStatus
    expected: Decimal
    actual: Decimal
    difference: Decimal
    lines: tuple[LineResult, ...]

    @property
    def flagged_lines(self) -> tuple[LineResult, ...]:
        return tuple(r for r in self.lines if r.status == "paid_incorrectly")


def _expected_amounts(lines: list[PaidLine], prices: list[Price],
                      reduce_multiple_procedures: bool) -> list[tuple[Decimal | None, str | None]]:
    out: list[tuple[Decimal | None, str | None]] = []
    for line, price in zip(lines, prices):
        if not price.priced:
            out.append((None, price.reason))
        elif line.units <= 0:
            out.append((None, "units_not_positive"))
        else:
            out.append((round_cents(price.amount * line.units), None))
    if not reduce_multiple_procedures:
        return out
    by_day: dict[tuple[date, str], list[int]] = defaultdict(list)
    for i, (line, price) in enumerate(zip(lines, prices)):
        if out[i][0] is not None and price.mult_proc in OTHER_MULT_PROC | {"2"}:
            by_day[(line.date_of_service, "2" if price.mult_proc == "2" else "other")].append(i)
    for (_, kind), idx in by_day.items():
        if sum(lines[i].units for i in idx) <= 1:
            continue  # a single procedure that day: no reduction
        if kind == "other":
            for i in idx:
                out[i] = (None, "multiple_procedure_rule_not_implemented")
            continue
        top = max(idx, key=lambda i: (prices[i].amount, -i))
        for i in idx:
            rate, units = prices[i].amount, lines[i].units
            reduced = round_cents(rate * HALF)
            out[i] = ((rate + reduced * (units - 1)) if i == top else round_cents(reduced * units), None)
    return out


def check_claim(lines: list[PaidLine] | tuple[PaidLine, ...], contract: Contract, tolerance: Tolerance, *,
                reduce_multiple_procedures: bool = True) -> ClaimResult:
    """Per line and per claim: expected vs actual allowed and whether the claim was paid incorrectly."""
    lines = list(lines)
    prices = [contract.rate(l.code, l.modifiers, l.place_of_service, l.date_of_service) for l in lines]
    expected_amounts = _expected_amounts(lines, prices, reduce_multiple_procedures)
    results = []
    for line, (expected, reason) in zip(lines, expected_amounts):
        if expected is None:
            results.append(LineResult(line, "no_contract_rate", None, line.allowed, None, reason))
            continue
        difference = line.allowed - expected
        flagged = tolerance.exceeded(expected, -difference)
        results.append(LineResult(line, "paid_incorrectly" if flagged else "paid_correctly", expected, line.allowed,
                                  difference))
    rated = [r for r in results if r.expected is not None]
    expected_total = sum((r.expected for r in rated), ZERO)
    actual_total = sum((r.actual for r in rated), ZERO)
    difference = actual_total - expected_total
    status: LineStatus
    if not rated:
        status = "no_contract_rate"
    elif any(r.status == "paid_incorrectly" for r in rated) or tolerance.exceeded(expected_total, -difference):
        status = "paid_incorrectly"
    else:
        status = "paid_correctly"
    return ClaimResult(status, expected_total, actual_total, difference, tuple(results))
