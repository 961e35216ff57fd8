from datetime import date
from decimal import Decimal

import pytest

from rcm_patient_billing.domain.plan import Installment, installments_left, schedule

D = Decimal


def test_equal_monthly_installments_on_the_day_the_last_smaller():
    assert schedule(D("250.00"), D("100.00"), 15, date(2026, 11, 20), today=date(2026, 11, 1)) == [
        Installment(date(2026, 12, 15), D("100.00")), Installment(date(2027, 1, 15), D("100.00")),
        Installment(date(2027, 2, 15), D("50.00"))]


def test_the_first_installment_is_never_in_the_past_and_nothing_outstanding_is_no_schedule():
    assert schedule(D("10.00"), D("25.00"), 1, date(2026, 1, 1), today=date(2026, 12, 7)) == [
        Installment(date(2027, 1, 1), D("10.00"))]
    assert schedule(D("0.00"), D("25.00"), 1, date(2026, 1, 1), today=date(2026, 12, 7)) == []


@pytest.mark.parametrize("installment, day", [(D("0.00"), 1), (D("10.00"), 0), (D("10.00"), 29)])
def test_a_plan_that_cannot_run_is_refused(installment, day):
    with pytest.raises(ValueError):
        schedule(D("100.00"), installment, day, date(2026, 1, 1), today=date(2026, 1, 1))


def test_a_long_schedule_lists_the_next_installments_and_counts_them_all():
    listed = schedule(D("1000.00"), D("30.00"), 28, date(2026, 1, 1), today=date(2026, 1, 1), shown=3)
    assert [i.due_on for i in listed] == [date(2026, 1, 28), date(2026, 2, 28), date(2026, 3, 28)]
    assert installments_left(D("1000.00"), D("30.00")) == 34 and installments_left(D("0.00"), D("30.00")) == 0
