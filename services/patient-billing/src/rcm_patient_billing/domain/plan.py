"""A payment plan's schedule (pure): equal monthly installments on a fixed day until what is left is paid, the
last one smaller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_CEILING, Decimal

SHOWN = 12  # installments listed ahead; `installments_left` counts them all


@dataclass(frozen=True)
class Installment:
    due_on: date
    amount: Decimal


def _month_day(year: int, month: int, day: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return date(year, month, day)


def installments_left(outstanding: Decimal, installment: Decimal) -> int:
    return int((max(outstanding, Decimal(0)) / installment).to_integral_value(rounding=ROUND_CEILING))


def schedule(outstanding: Decimal, installment: Decimal, day_of_month: int, starts_on: date, today: date,
             shown: int = SHOWN) -> list[Installment]:
    """The next `shown` installments for `outstanding`, the first on `day_of_month` at or after both `starts_on`
    and `today`. Empty when nothing is outstanding."""
    if installment <= 0 or not 1 <= day_of_month <= 28:
        raise ValueError("an installment above 0 on a day 1 to 28")
    start = max(starts_on, today)
    first = _month_day(start.year, start.month, day_of_month)
    if first < start:
        first = _month_day(start.year, start.month + 1, day_of_month)
    out, left = [], outstanding
    for n in range(min(installments_left(outstanding, installment), shown)):
        amount = min(installment, left)
        out.append(Installment(_month_day(first.year, first.month + n, day_of_month), amount))
        left -= amount
    return out
