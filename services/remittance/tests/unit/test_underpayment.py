"""Underpayment check: expected vs actual allowed per line and per claim, tolerance edges, no-rate lines,
facility vs non-facility, effective dates and the multiple-procedure reduction.

Expected amounts are hand computed in the comments from the fixtures in deploy/reference-data/fee-schedules
(fee table: 11111 = 100.00 in 2025, 104.50 from 2026-01-01; 22222 = 250.00; Medicare amounts as derived in
test_medicare_pfs.py: 11111 office 74.15, facility 51.94; 22222 facility 243.83; 33333 facility 97.53).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from rcm_remittance.domain.contract_rates import Contract, MedicarePercent, load_fee_table
from rcm_remittance.domain.medicare_pfs import PfsRelease, PfsSchedule, load_gpci, load_pprrvu
from rcm_remittance.domain.underpayment import PaidLine, Tolerance, check_claim

FIXTURES = Path(__file__).resolve().parents[4] / "deploy" / "reference-data" / "fee-schedules"
DOS = date(2026, 3, 1)


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines(keepends=True)


@pytest.fixture(scope="module")
def fees() -> Contract:
    return Contract("SBX01", fee_table=load_fee_table(lines("fee_table_fixture.csv")))


@pytest.fixture(scope="module")
def schedule() -> PfsSchedule:
    return PfsSchedule((PfsRelease(date(2026, 1, 1), None, load_pprrvu(lines("pprrvu2026_jan_fixture.csv")),
                                   load_gpci(lines("gpci2026_fixture.csv"))),))


def medicare(schedule: PfsSchedule, percent: str) -> Contract:
    return Contract("SBX02", medicare=MedicarePercent(D(percent), schedule, "01112", "05"))


def line(code: str, allowed: str, *, units: str = "1", mods: tuple[str, ...] = (), pos: str = "11",
         dos: date = DOS) -> PaidLine:
    return PaidLine(code, mods, D(units), pos, dos, D(allowed))


# --------------------------------------------------------------------------------------- one line
def test_line_short_beyond_absolute_tolerance_is_paid_incorrectly(fees):
    # 104.50 x 2 units = 209.00 expected; paid 200.00; difference -9.00
    result = check_claim([line("11111", "200.00", units="2")], fees, Tolerance(absolute=D("5.00")))
    (r,) = result.lines
    assert (r.status, r.expected, r.actual, r.difference) == ("paid_incorrectly", D("209.00"), D("200.00"), D("-9.00"))
    assert (result.status, result.expected, result.actual, result.difference) == (
        "paid_incorrectly", D("209.00"), D("200.00"), D("-9.00"))
    assert result.flagged_lines == (r,)


def test_absolute_tolerance_edge_is_within(fees):
    paid = [line("11111", "200.00", units="2")]  # short 9.00
    assert check_claim(paid, fees, Tolerance(absolute=D("9.00"))).lines[0].status == "paid_correctly"
    assert check_claim(paid, fees, Tolerance(absolute=D("8.99"))).lines[0].status == "paid_incorrectly"


def test_percent_tolerance_edge_is_within(fees):
    # 22222: 250.00 expected, paid 237.50 -> short 12.50 = exactly 5 % of 250.00
    paid = [line("22222", "237.50")]
    assert check_claim(paid, fees, Tolerance(percent=D("5"))).status == "paid_correctly"
    # 4.99 % of 250.00 = 12.475 < 12.50
    assert check_claim(paid, fees, Tolerance(percent=D("4.99"))).status == "paid_incorrectly"


def test_with_both_tolerances_a_shortfall_must_exceed_both(fees):
    paid = [line("11111", "200.00", units="2")]  # short 9.00 of 209.00; 4 % = 8.36, 5 % = 10.45
    assert check_claim(paid, fees, Tolerance(absolute=D("5"), percent=D("4"))).status == "paid_incorrectly"
    assert check_claim(paid, fees, Tolerance(absolute=D("5"), percent=D("5"))).status == "paid_correctly"
    assert check_claim(paid, fees, Tolerance(absolute=D("10"), percent=D("4"))).status == "paid_correctly"


def test_without_tolerance_one_cent_short_is_flagged_and_overpayment_is_not(fees):
    assert check_claim([line("11111", "104.49")], fees, Tolerance()).status == "paid_incorrectly"
    over = check_claim([line("11111", "105.50")], fees, Tolerance())
    assert (over.status, over.lines[0].difference) == ("paid_correctly", D("1.00"))
    exact = check_claim([line("11111", "104.50")], fees, Tolerance())
    assert (exact.status, exact.difference) == ("paid_correctly", D("0.00"))


def test_tolerances_and_paid_lines_take_decimals_only():
    with pytest.raises(ValueError):
        PaidLine("11111", (), D("1"), "11", DOS, 104.5)
    with pytest.raises(ValueError):
        PaidLine("11111", (), 1, "11", DOS, D("104.50"))
    with pytest.raises(ValueError):
        Tolerance(absolute=D("-1"))
    with pytest.raises(ValueError):
        Tolerance(percent=5.0)


def test_effective_date_boundary_changes_the_expected_amount(fees):
    tol = Tolerance(absolute=D("1.00"))
    dec31 = check_claim([line("11111", "100.00", dos=date(2025, 12, 31))], fees, tol)
    assert (dec31.status, dec31.expected) == ("paid_correctly", D("100.00"))
    jan1 = check_claim([line("11111", "100.00", dos=date(2026, 1, 1))], fees, tol)
    assert (jan1.status, jan1.expected, jan1.difference) == ("paid_incorrectly", D("104.50"), D("-4.50"))


def test_modifier_selects_the_component_rate(fees):
    # 11111-26 = 40.00; paid 38.00 -> short 2.00
    result = check_claim([line("11111", "38.00", mods=("26",))], fees, Tolerance(absolute=D("1.00")))
    assert (result.status, result.expected, result.difference) == ("paid_incorrectly", D("40.00"), D("-2.00"))
    # a professional component paid 40.00 is right, though the global rate is 104.50
    assert check_claim([line("11111", "40.00", mods=("26",))], fees, Tolerance()).status == "paid_correctly"


# ----------------------------------------------------------------------------------- no contract rate
def test_lines_without_a_contract_rate_are_not_flagged_and_not_counted(fees):
    result = check_claim([line("11111", "104.50"), line("33333", "1.00"), line("11111", "5.00", units="0")],
                         fees, Tolerance())
    statuses = [(r.status, r.reason, r.expected, r.difference) for r in result.lines]
    assert statuses == [("paid_correctly", None, D("104.50"), D("0.00")),
                        ("no_contract_rate", "code_not_in_fee_table", None, None),
                        ("no_contract_rate", "units_not_positive", None, None)]
    assert (result.status, result.expected, result.actual) == ("paid_correctly", D("104.50"), D("104.50"))
    none = check_claim([line("33333", "1.00")], fees, Tolerance())
    assert (none.status, none.expected, none.actual, none.difference) == ("no_contract_rate", D("0"), D("0"), D("0"))
    assert none.flagged_lines == ()


# ------------------------------------------------------------------------------------------- per claim
def test_small_line_shortfalls_add_up_to_a_claim_underpayment(fees):
    # 11111: 104.50 paid 101.50 (short 3.00); 22222: 250.00 paid 247.00 (short 3.00); tolerance 5.00 per line
    result = check_claim([line("11111", "101.50"), line("22222", "247.00")], fees, Tolerance(absolute=D("5.00")))
    assert [r.status for r in result.lines] == ["paid_correctly", "paid_correctly"]
    # claim: expected 354.50, actual 348.50, short 6.00 > 5.00
    assert (result.status, result.expected, result.actual, result.difference) == (
        "paid_incorrectly", D("354.50"), D("348.50"), D("-6.00"))
    assert result.flagged_lines == ()


def test_fractional_units_round_half_up(fees):
    # 104.50 x 1.5 = 156.75; 250.00 x 0.333 = 83.25 exactly; 104.50 x 0.125 = 13.0625 -> 13.06
    result = check_claim([line("11111", "156.75", units="1.5"), line("22222", "83.25", units="0.333"),
                          line("11111", "13.06", units="0.125")], fees, Tolerance())
    assert [r.expected for r in result.lines] == [D("156.75"), D("83.25"), D("13.06")]
    assert result.status == "paid_correctly"


# ------------------------------------------------------------------------------ percent of Medicare
def test_office_visit_paid_at_the_facility_rate_is_underpaid(schedule):
    c = medicare(schedule, "100")
    tol = Tolerance(absolute=D("1.00"))
    # office (11): expected 74.15; paid the facility amount 51.94 -> short 22.21
    office = check_claim([line("11111", "51.94", pos="11")], c, tol)
    assert (office.status, office.expected, office.difference) == ("paid_incorrectly", D("74.15"), D("-22.21"))
    # inpatient (21): expected 51.94
    inpatient = check_claim([line("11111", "51.94", pos="21")], c, tol)
    assert (inpatient.status, inpatient.expected) == ("paid_correctly", D("51.94"))


def test_percent_contract_expected_amount(schedule):
    # 120 % of 74.15 = 88.98; paid 85.00 -> short 3.98, 4.47 % of 88.98
    result = check_claim([line("11111", "85.00")], medicare(schedule, "120"), Tolerance(percent=D("4")))
    assert (result.status, result.expected, result.difference) == ("paid_incorrectly", D("88.98"), D("-3.98"))
    assert check_claim([line("11111", "85.00")], medicare(schedule, "120"), Tolerance(percent=D("4.5"))).status \
        == "paid_correctly"


def test_multiple_procedures_same_day_highest_at_100_others_at_50(schedule):
    c = medicare(schedule, "100")
    # 33333 listed first but cheaper: 22222 243.83 at 100 %; 33333 97.53 x 50 % = 48.765 -> 48.77
    paid = [line("33333", "48.77", pos="22"), line("22222", "243.83", pos="22")]
    result = check_claim(paid, c, Tolerance())
    assert [r.expected for r in result.lines] == [D("48.77"), D("243.83")]
    assert result.status == "paid_correctly"
    # without the reduction the second procedure would look underpaid
    unreduced = check_claim(paid, c, Tolerance(), reduce_multiple_procedures=False)
    assert (unreduced.lines[0].expected, unreduced.status) == (D("97.53"), "paid_incorrectly")
    # on different days each is the only procedure of its day
    apart = check_claim([line("33333", "97.53", pos="22", dos=date(2026, 3, 2)), line("22222", "243.83", pos="22")],
                        c, Tolerance())
    assert [r.expected for r in apart.lines] == [D("97.53"), D("243.83")]


def test_multiple_units_of_one_procedure_are_reduced_after_the_first(schedule):
    # 22222 x 2 units, facility: 243.83 + 243.83 x 50 % (121.915 -> 121.92) = 365.75
    result = check_claim([line("22222", "365.75", units="2", pos="22")], medicare(schedule, "100"), Tolerance())
    assert (result.lines[0].expected, result.status) == (D("365.75"), "paid_correctly")


def test_multiple_procedure_reduction_applies_to_the_contract_rate(schedule):
    # 110 %: 22222 243.83 x 1.10 = 268.213 -> 268.21; 33333 97.53 x 1.10 = 107.283 -> 107.28, x 50 % = 53.64
    paid = [line("22222", "268.21", pos="22"), line("33333", "50.00", pos="22")]
    result = check_claim(paid, medicare(schedule, "110"), Tolerance(absolute=D("2.00")))
    assert [(r.expected, r.status) for r in result.lines] == [(D("268.21"), "paid_correctly"),
                                                              (D("53.64"), "paid_incorrectly")]
    assert (result.expected, result.actual, result.difference) == (D("321.85"), D("318.21"), D("-3.64"))


def test_other_multiple_procedure_families_are_not_guessed(schedule):
    c = medicare(schedule, "100")
    # 77777 (MULT PROC 4, imaging) alone: (0.50 + 2.00 x 0.95 + 0.03 x 0.80) x 33.4009 = 2.424 x 33.4009
    # = 80.9637816 -> 80.96
    alone = check_claim([line("77777", "80.96")], c, Tolerance())
    assert (alone.lines[0].expected, alone.status) == (D("80.96"), "paid_correctly")
    twice = check_claim([line("77777", "100.00", units="2")], c, Tolerance())
    assert (twice.lines[0].status, twice.lines[0].reason) == ("no_contract_rate", "multiple_procedure_rule_not_implemented")
    assert twice.status == "no_contract_rate"
