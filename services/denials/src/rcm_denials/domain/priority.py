"""Deadlines and priority of a denial item. Pure: dates and amounts in, numbers out.

The appeal deadline runs from the remittance date (the payer's appeal window, per payer, tenant default 90
days); the timely-filing limit (tenant default 365 days) runs from the date of service when the item knows it
(underpayment lines carry it) and bounds a corrected claim or a rebill. An item's deadline is the earlier of the
two it has. Priority orders the work queue: money at stake, how likely a root cause is to be recovered, and
how close the deadline is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

DEFAULT_APPEAL_DAYS = 90
DEFAULT_TIMELY_FILING_DAYS = 365

# How often a worked denial of this root cause is paid in the end (an industry rule of thumb, not measured
# here): registration and documentation fixes nearly always pay, timely filing and non-covered rarely do.
RECOVERY_LIKELIHOOD: dict[str, Decimal] = {
    "registration": Decimal("0.90"),
    "documentation": Decimal("0.80"),
    "coordination_of_benefits": Decimal("0.80"),
    "eligibility": Decimal("0.70"),
    "coding": Decimal("0.70"),
    "underpaid": Decimal("0.70"),
    "authorization": Decimal("0.55"),
    "bundling": Decimal("0.50"),
    "duplicate": Decimal("0.50"),
    "medical_necessity": Decimal("0.45"),
    "non_covered": Decimal("0.20"),
    "timely_filing": Decimal("0.15"),
    "unclassified": Decimal("0.40"),
}


@dataclass(frozen=True)
class DeadlineDays:
    appeal_days: int = DEFAULT_APPEAL_DAYS
    timely_filing_days: int = DEFAULT_TIMELY_FILING_DAYS


def deadline(remittance_date: date, service_date: date | None, days: DeadlineDays) -> date:
    appeal = remittance_date + timedelta(days=days.appeal_days)
    if service_date is None:
        return appeal
    return min(appeal, service_date + timedelta(days=days.timely_filing_days))


def days_left(due: date, today: date) -> int:
    return (due - today).days


def priority(amount: Decimal, root_cause: str, left: int) -> Decimal:
    """0..100, higher first. Expected recovery (amount x likelihood) on a log-like scale (a $10,000 denial is
    not 1000 times as urgent as a $10 one) up to 60 points, plus up to 40 points as the deadline nears (full
    at 7 days or less, none beyond 90). Past the deadline: 0, nothing left to win."""
    if left < 0:
        return Decimal("0.00")
    expected = max(amount, Decimal(0)) * RECOVERY_LIKELIHOOD.get(root_cause, RECOVERY_LIKELIHOOD["unclassified"])
    money = Decimal(0)
    for step in (Decimal(10), Decimal(100), Decimal(1000), Decimal(10000)):  # 15 points per decade reached
        if expected >= step:
            money += 15
        else:
            money += 15 * expected / step if step == 10 else 15 * (expected - step / 10) / (step - step / 10)
            break
    urgency = Decimal(40) if left <= 7 else Decimal(0) if left >= 90 else Decimal(40) * (90 - left) / 83
    return (min(money, Decimal(60)) + urgency).quantize(Decimal("0.01"))
