"""A self-pay statement's lines and total (rcm_patient_billing.domain.self_pay.itemize, pure)."""

from datetime import date
from decimal import Decimal

import pytest

from rcm_patient_billing.domain.self_pay import itemize
from tests.support import claims as factory


def claim():
    return factory.make_claim(coverage=None, diagnoses=[], lines=[
        factory.make_line(1, "99213", "150.00", modifiers=["25"]),
        factory.make_line(2, "85025", "35.10", units="2", service_date=date(2026, 3, 16)),
        factory.make_line(3, "36415", "0.05")])


def test_without_a_discount_the_patient_owes_every_line_in_full():
    lines, total = itemize(claim())

    assert [(x.line_number, x.procedure_code, x.modifiers, x.service_date, x.amount) for x in lines] == [
        (1, "99213", ("25",), "2026-03-14", Decimal("150.00")),
        (2, "85025", (), "2026-03-16", Decimal("35.10")),
        (3, "36415", (), "2026-03-14", Decimal("0.05"))]
    assert total == Decimal("185.15")
    assert lines[1].as_dict()["units"] == "2" and lines[1].as_dict()["charge"] == "35.10"


def test_a_discount_is_taken_per_line_rounded_half_up_and_the_lines_add_up_to_the_total():
    lines, total = itemize(claim(), Decimal("12.5"))

    # by hand: 150.00 x 12.5% = 18.75; 35.10 x 12.5% = 4.3875 -> 4.39; 0.05 x 12.5% = 0.00625 -> 0.01
    assert [(x.discount, x.amount) for x in lines] == [
        (Decimal("18.75"), Decimal("131.25")), (Decimal("4.39"), Decimal("30.71")), (Decimal("0.01"), Decimal("0.04"))]
    assert total == Decimal("162.00") == sum(x.amount for x in lines)


def test_a_full_discount_leaves_nothing_and_a_percentage_outside_0_to_100_is_refused():
    assert itemize(claim(), Decimal(100))[1] == Decimal("0.00")
    with pytest.raises(ValueError):
        itemize(claim(), Decimal("100.01"))
    with pytest.raises(ValueError):
        itemize(claim(), Decimal("-1"))
