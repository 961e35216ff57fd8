"""Patient statement terms (pure)."""

from __future__ import annotations

from datetime import date, timedelta

STATEMENT_TERMS_DAYS = 30  # due date of a first statement


def due_date(payment_date: date, terms_days: int = STATEMENT_TERMS_DAYS) -> date:
    return payment_date + timedelta(days=terms_days)
