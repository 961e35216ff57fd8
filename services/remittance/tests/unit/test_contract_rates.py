"""Contracted rates: the fee table CSV loader and lookups, and percentage-of-Medicare contracts.

Expected amounts are hand computed in the comments from the fixtures in deploy/reference-data/fee-schedules.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from rcm_remittance.domain.contract_rates import Contract, FeeTable, MedicarePercent, load_fee_table
from rcm_remittance.domain.medicare_pfs import PfsRelease, PfsSchedule, load_gpci, load_pprrvu
from rcm_remittance.domain.rate_files import RateFileError

FIXTURES = Path(__file__).resolve().parents[4] / "deploy" / "reference-data" / "fee-schedules"
HEADER = "code,modifier,amount,effective_from,effective_to\n"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines(keepends=True)


@pytest.fixture(scope="module")
def fee_table() -> FeeTable:
    return load_fee_table(lines("fee_table_fixture.csv"))


@pytest.fixture(scope="module")
def schedule() -> PfsSchedule:
    return PfsSchedule((
        PfsRelease(date(2025, 1, 1), date(2025, 12, 31), load_pprrvu(lines("pprrvu2025_jan_fixture.csv")),
                   load_gpci(lines("gpci2025_fixture.csv"))),
        PfsRelease(date(2026, 1, 1), None, load_pprrvu(lines("pprrvu2026_jan_fixture.csv")),
                   load_gpci(lines("gpci2026_fixture.csv")))))


# --------------------------------------------------------------------------------------------- fee table
def test_fee_table_fixture_loads(fee_table):
    assert len(fee_table) == 6


def test_effective_dates_are_inclusive_at_both_ends(fee_table):
    assert fee_table.price("11111", (), date(2025, 1, 1)).amount == D("100.00")
    assert fee_table.price("11111", (), date(2025, 12, 31)).amount == D("100.00")
    assert fee_table.price("11111", (), date(2026, 1, 1)).amount == D("104.50")
    assert fee_table.price("11111", (), date(2030, 6, 30)).amount == D("104.50")  # open-ended row
    assert fee_table.price("11111", (), date(2024, 12, 31)).reason == "no_rate_in_force"


def test_modifier_rows_and_fallback_to_the_global_rate(fee_table):
    day = date(2026, 2, 1)
    assert fee_table.price("11111", ("26",), day).amount == D("40.00")
    assert fee_table.price("11111", ("TC",), day).amount == D("60.00")
    assert fee_table.price("11111", ("rt", "TC"), day).amount == D("60.00")  # first modifier with a row wins
    assert fee_table.price("22222", ("50",), day).amount == D("375.00")
    assert fee_table.price("11111", ("25",), day).amount == D("104.50")  # informational modifier: global rate
    # a component (or 53) the table does not price is never priced at the global rate
    assert fee_table.price("22222", ("26",), day).reason == "no_rate_for_modifier"
    assert fee_table.price("11111", ("53",), day).reason == "no_rate_for_modifier"
    # payment-changing modifiers the table does not price: an assistant is not expected at the surgeon's 250.00
    for mods in (("80",), ("AS",), ("62",), ("52",), ("73",), ("74",)):
        assert fee_table.price("22222", mods, day).reason == "no_rate_for_modifier", mods
    assert fee_table.price("33333", (), day).reason == "code_not_in_fee_table"


def test_header_is_checked():
    with pytest.raises(RateFileError) as err:
        load_fee_table(["code,amount,modifier,effective_from,effective_to\n", "11111,,1.00,2025-01-01,\n"])
    assert err.value.problems == [(1, "header must be code,modifier,amount,effective_from,effective_to")]
    with pytest.raises(RateFileError):
        load_fee_table([])
    # BOM, upper case and blank lines are fine
    table = load_fee_table(["\ufeffCODE, Modifier ,AMOUNT,effective_from,EFFECTIVE_TO\n", "\n",
                            "11111,,1.5,2025-01-01,\n"])
    assert table.price("11111", (), date(2025, 1, 1)).amount == D("1.50")


def test_every_bad_row_is_listed_with_number_and_reason_and_no_values_beyond_the_code():
    text = [HEADER,
            "11111,,100.00,2025-01-01,\n",          # 2 ok
            "J99,,5.00,2025-01-01,\n",              # 3 bad code (not echoed)
            "22222,,12.345,2025-01-01,\n",          # 4 three decimals
            "22222,26,-4.00,2025-01-01,\n",         # 5 negative
            "22222,TC,$9.00,2025-01-01,\n",         # 6 not a number
            "33333,ABC,9.00,01/02/2025,\n",         # 7 bad modifier and date
            "33333,,9.00,2025-03-01,2025-02-01\n",  # 8 ends before it starts
            "44444,,9.00,2025-01-01\n",             # 9 four columns
            "11111,,101.00,2025-06-01,\n",          # 10 overlaps row 2
            "55555,,1e3,2025-01-01,\n"]             # 11 exponent is not a plain decimal
    with pytest.raises(RateFileError) as err:
        load_fee_table(text)
    assert err.value.problems == [
        (3, "code is not 5 letters or digits"),
        (4, "code 22222: amount has more than 2 decimal places"),
        (5, "code 22222: amount is negative"),
        (6, "code 22222: amount is not a decimal number"),
        (7, "code 33333: modifier is not blank or 2 letters/digits; effective_from is not a date YYYY-MM-DD"),
        (8, "code 33333: effective_to is before effective_from"),
        (9, "4 columns, expected 5"),
        (10, "code 11111: effective dates overlap another row of this code and modifier"),
        (11, "code 55555: amount is not a decimal number"),
    ]
    message = str(err.value)
    assert message.startswith("fee table: 9 problem(s): row 3: code is not 5 letters or digits; row 4:")
    for value in ("J99", "12.345", "-4.00", "$9.00", "ABC", "01/02/2025", "2025-02-01", "101.00", "1e3"):
        assert value not in message


def test_adjacent_rows_do_not_overlap_but_same_day_does():
    ok = load_fee_table([HEADER, "11111,,1.00,2025-01-01,2025-06-30\n", "11111,,2.00,2025-07-01,\n"])
    assert ok.price("11111", (), date(2025, 6, 30)).amount == D("1.00")
    assert ok.price("11111", (), date(2025, 7, 1)).amount == D("2.00")
    with pytest.raises(RateFileError) as err:
        load_fee_table([HEADER, "11111,,1.00,2025-01-01,2025-07-01\n", "11111,,2.00,2025-07-01,\n"])
    assert [row for row, _ in err.value.problems] == [3]


# ------------------------------------------------------------------------------------------ contracts
def test_percentage_of_medicare_is_applied_after_cms_rounding_and_rounded_half_up(schedule):
    c120 = Contract("P1", medicare=MedicarePercent(D("120"), schedule, "01112", "05"))
    # 74.15 (codesets.md §2.4 worked example) x 1.20 = 88.98
    assert c120.rate("11111", (), "11", date(2026, 3, 1)).amount == D("88.98")
    c110 = Contract("P1", medicare=MedicarePercent(D("110"), schedule, "01112", "05"))
    # 74.15 x 1.10 = 81.565 -> 81.57 half up
    assert c110.rate("11111", (), "11", date(2026, 3, 1)).amount == D("81.57")
    # facility: 51.94 x 1.10 = 57.134 -> 57.13
    assert c110.rate("11111", (), "22", date(2026, 3, 1)).amount == D("57.13")
    # 2025 date of service: 66.63 x 1.10 = 73.293 -> 73.29
    assert c110.rate("11111", (), "11", date(2025, 12, 31)).amount == D("73.29")
    assert c110.rate("44444", (), "11", date(2026, 3, 1)).reason == "carrier_priced"


def test_fee_table_carve_outs_come_before_the_medicare_percentage(fee_table, schedule):
    both = Contract("P1", fee_table=fee_table, medicare=MedicarePercent(D("110"), schedule, "01112", "05"))
    assert both.rate("11111", (), "11", date(2026, 3, 1)).amount == D("104.50")
    # 33333 is not in the fee table: 97.53 (facility) x 1.10 = 107.283 -> 107.28
    assert both.rate("33333", (), "22", date(2026, 3, 1)).amount == D("107.28")
    # 22222-26 has no fee table row (a component) so the percentage prices it: no 26 row in the PPRRVU either
    assert both.rate("22222", ("26",), "22", date(2026, 3, 1)).reason == "no_rate_for_modifier"
    # 22222-80 has no fee table row: 110 % of the Medicare assistant amount 39.01 = 42.911 -> 42.91
    assert both.rate("22222", ("80",), "22", date(2026, 3, 1)).amount == D("42.91")
    only_fees = Contract("P1", fee_table=fee_table)
    assert only_fees.rate("33333", (), "22", date(2026, 3, 1)).reason == "code_not_in_fee_table"


def test_a_contract_needs_a_rate_source_and_a_positive_decimal_percentage(schedule):
    with pytest.raises(ValueError):
        Contract("P1")
    with pytest.raises(ValueError):
        MedicarePercent(D("0"), schedule, "01112", "05")
    with pytest.raises(ValueError):
        MedicarePercent(120.0, schedule, "01112", "05")  # float money is refused


def test_fee_table_row_numbers_count_blank_lines():
    with pytest.raises(RateFileError) as err:
        load_fee_table([HEADER, "\n", "11111,,1.00,2025-01-01,\n", "\n", "11111,,x,2025-01-01,\n"])
    assert err.value.problems == [(5, "code 11111: amount is not a decimal number")]
