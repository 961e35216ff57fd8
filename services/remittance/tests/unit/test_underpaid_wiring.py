"""The pieces posting hands to the underpayment check: the Medicare releases read from a directory, and an
835 claim payment's lines as PaidLines (allowed from AMT*B6, else SVC02 less the line's CO adjustments)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from rcm_remittance.domain.remit import read_x12_file
from rcm_remittance.underpaid import load_fee_schedule_dir, paid_lines
from tests.support.era835 import check, clp, era, svc

FEES = Path(__file__).resolve().parents[4] / "deploy" / "reference-data" / "fee-schedules"


def test_fee_schedule_dir_holds_two_releases_each_in_force_until_the_next():
    schedule = load_fee_schedule_dir(FEES)
    assert [(r.effective_from, r.effective_to) for r in schedule.releases] == [
        (date(2025, 1, 1), date(2025, 12, 31)), (date(2026, 1, 1), None)]
    # 11111 in an office, MAC 01112 locality 05, 2026: 74.15 (test_medicare_pfs.py's hand computation)
    assert schedule.price("11111", (), "11", date(2026, 3, 1), "01112", "05").amount == D("74.15")


def test_fee_schedule_dir_without_a_gpci_for_a_release_is_refused(tmp_path):
    (tmp_path / "PPRRVU2026_Jan_nonQPP.csv").write_text((FEES / "pprrvu2026_jan_fixture.csv").read_text())
    with pytest.raises(ValueError, match="no GPCI file of 2026"):
        load_fee_schedule_dir(tmp_path)
    with pytest.raises(ValueError, match="no PPRRVU release"):
        load_fee_schedule_dir(tmp_path / "..")


def test_paid_lines_take_allowed_units_modifiers_and_dates_from_the_835():
    text = era(check([clp("PCN-1", "400.00", "230.00", lines=[
        svc("22222:26", "300.00", "180.00", [("CO", "45", "100.00"), ("PR", "2", "20.00")], date="20261003"),
        svc("11111", "100.00", "50.00", [("CO", "45", "50.00")])])]))
    [c] = read_x12_file(text)
    lines = paid_lines(c.claims[0], c)
    assert [(l.code, l.modifiers, l.units, l.place_of_service, l.date_of_service, l.allowed, l.line_id)
            for l in lines] == [
        ("22222", ("26",), D(1), "11", date(2026, 10, 3), D("200.00"), "1"),  # 300 - CO 100 (PR is allowed)
        ("11111", (), D(1), "11", date(2026, 10, 1), D("50.00"), "2")]


def test_paid_lines_prefer_the_payers_allowed_amount_amt_b6():
    text = era(check([clp("PCN-1", "100.00", "50.00", lines=[svc("11111", "100.00", "50.00", [("CO", "45", "50.00")])])]))
    assert "CAS*CO*45*50.00~" in text
    segments = text.replace("CAS*CO*45*50.00~", "CAS*CO*45*50.00~AMT*B6*62.50~").split("~")
    se = next(n for n, s in enumerate(segments) if s.startswith("SE*"))
    count, control = segments[se].split("*")[1:]
    segments[se] = f"SE*{int(count) + 1}*{control}"  # one segment more in the transaction set
    [c] = read_x12_file("~".join(segments))
    [line] = paid_lines(c.claims[0], c)
    assert line.allowed == D("62.50")
