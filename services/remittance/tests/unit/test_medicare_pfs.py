"""Medicare physician fee schedule loaders and pricing, on fixtures in the official CMS layouts.

Every expected amount is computed by hand in the comment beside it, from the fixture's RVUs and GPCIs
(deploy/reference-data/fee-schedules) and codesets.md §2.4's formula and worked example.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from rcm_remittance.domain.medicare_pfs import (
    FACILITY_POS,
    PfsRelease,
    effective_from_filename,
    PfsSchedule,
    RateFileError,
    is_facility,
    load_gpci,
    load_pprrvu,
    load_zip_locality,
    locality_for_zip,
)

FIXTURES = Path(__file__).resolve().parents[4] / "deploy" / "reference-data" / "fee-schedules"


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines(keepends=True)


@pytest.fixture(scope="module")
def schedule() -> PfsSchedule:
    r2025 = PfsRelease(date(2025, 1, 1), date(2025, 12, 31), load_pprrvu(lines("pprrvu2025_jan_fixture.csv")),
                       load_gpci(lines("gpci2025_fixture.csv")))
    r2026 = PfsRelease(date(2026, 1, 1), None, load_pprrvu(lines("pprrvu2026_jan_fixture.csv")),
                       load_gpci(lines("gpci2026_fixture.csv")))
    return PfsSchedule((r2026, r2025))


# ----------------------------------------------------------------------------------------------- loaders
def test_pprrvu_loader_reads_rows_by_position_past_preamble_header_and_footnote():
    rvus = load_pprrvu(lines("pprrvu2026_jan_fixture.csv"))
    assert sorted(rvus) == [("11111", ""), ("11111", "26"), ("11111", "TC"), ("22222", ""), ("33333", ""),
                            ("44444", ""), ("55555", ""), ("77777", "")]
    g = rvus[("11111", "")]
    assert (g.status, g.work, g.nonfacility_pe, g.facility_pe, g.mp) == ("A", D("1.00"), D("1.20"), D("0.50"), D("0.10"))
    assert g.conversion_factor == D("33.4009") and g.pctc == "1"
    # NA indicators: the setting is not priced
    assert rvus[("11111", "TC")].facility_pe is None and rvus[("11111", "TC")].nonfacility_pe == D("0.80")
    assert rvus[("33333", "")].nonfacility_pe is None and rvus[("33333", "")].facility_pe == D("0.80")
    s = rvus[("22222", "")]
    assert (s.mult_proc, s.bilat, s.asst, s.co_surg) == ("2", "1", "2", "1")


def test_pprrvu_loader_takes_lines_with_or_without_line_endings():
    with_endings = load_pprrvu(lines("pprrvu2026_jan_fixture.csv"))
    without = load_pprrvu((FIXTURES / "pprrvu2026_jan_fixture.csv").read_text().splitlines())
    assert with_endings == without


HEADER = "HCPCS,MOD,DESCRIPTION,STATUS CODE\n"


def _row(code="12345", mod="", work="1.00", nf="1.00", fac="0.50", mp="0.10", cf="33.4009", cols=32):
    cells = [code, mod, "X", "A", "", work, nf, "", fac, "", mp] + [""] * 13 + [cf]
    cells = (cells + [""] * cols)[:cols]
    return ",".join(cells) + "\n"


def test_pprrvu_loader_lists_every_bad_row_with_its_number():
    text = ["preamble\n", HEADER, _row(), _row(code="23456", work="1.5x"), _row(code="34567", cols=10),
            _row(code="12345")]
    with pytest.raises(RateFileError) as err:
        load_pprrvu(text)
    assert err.value.problems == [(4, "code 23456: not a non-negative number in work"),
                                  (5, "code 34567: 10 columns, the PPRRVU layout has at least 25"),
                                  (6, "code 12345: duplicate row for this code and modifier")]
    assert "1.5x" not in str(err.value)


def test_pprrvu_loader_rejects_a_file_without_its_header():
    with pytest.raises(RateFileError) as err:
        load_pprrvu([_row()])
    assert "not a PPRRVU file" in str(err.value)


def test_gpci_loader_keys_on_mac_and_locality_and_uses_the_floored_work_gpci():
    g26 = load_gpci(lines("gpci2026_fixture.csv"))
    assert sorted(g26) == [("01112", "05"), ("01112", "99"), ("05102", "05")]
    # 2026 layout: "PW GPCI (without 1.0 Floor)" is 0.990 for 01112/05; the floored column (1.000) is used
    assert (g26[("01112", "05")].work, g26[("01112", "05")].pe, g26[("01112", "05")].mp) == (D("1.000"), D("0.950"), D("0.800"))
    # same locality number under another MAC is another locality
    assert g26[("05102", "05")].work == D("1.020")
    g25 = load_gpci(lines("gpci2025_fixture.csv"))  # 2025 layout: no "without floor" column
    assert (g25[("01112", "05")].work, g25[("01112", "05")].pe, g25[("01112", "05")].mp) == (D("1.000"), D("0.900"), D("0.700"))


def test_gpci_loader_restores_leading_zeros_dropped_by_spreadsheets_and_reports_bad_rows():
    text = ["banner\n", "Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,"
            "2025 PW GPCI (with 1.0 Floor),2025 PE GPCI,2025 MP GPCI\n",
            "1112,ZZ,5,A,1.000,0.900,0.700\n", "1112,ZZ,6,B,1.000,n/a,0.700\n", "1112,ZZ,5,C,1.0,1.0,1.0\n",
            "Footnote text\n"]
    with pytest.raises(RateFileError) as err:
        load_gpci(text)
    assert err.value.problems == [(4, "not a non-negative number in pe GPCI"),
                                  (5, "duplicate row for this MAC and locality")]
    ok = load_gpci(text[:3])
    assert list(ok) == [("01112", "05")]
    with pytest.raises(RateFileError) as err:
        load_gpci(["Medicare Administrative Contractor (MAC),State,Locality Number,Locality Name,2025 PE GPCI\n"])
    assert [row for row, _ in err.value.problems] == [1]
    with pytest.raises(RateFileError, match="not a GPCI file"):
        load_gpci(["01112,ZZ,05,A,1.000,0.900,0.700\n"])


def test_zip5_fixed_width_loader_and_locality_lookup():
    table = load_zip_locality(lines("zip5_fixture.txt"))
    assert locality_for_zip(table, "00501") == ("01112", "05")
    assert locality_for_zip(table, "00502-1234") == ("01112", "99")
    assert table["00502"].rural == "R"
    assert locality_for_zip(table, "00503") is None  # plus-4 flag: needs the ZIP9 file
    assert locality_for_zip(table, "99999") is None
    with pytest.raises(RateFileError) as err:
        load_zip_locality(["ZZ0050101112AB\n", "Z1005010111205\n"])
    assert [row for row, _ in err.value.problems] == [1, 2]


# ----------------------------------------------------------------------------------------------- pricing
def test_codesets_worked_example_non_facility(schedule):
    # codesets.md §2.4: (1.00 x 1.000 + 1.20 x 0.950 + 0.10 x 0.800) x 33.4009 = 2.22 x 33.4009 = 74.149998 -> 74.15
    assert schedule.price("11111", (), "11", date(2026, 3, 1), "01112", "05").amount == D("74.15")


def test_facility_place_of_service_uses_facility_pe(schedule):
    # (1.00 + 0.50 x 0.950 + 0.08) x 33.4009 = 1.555 x 33.4009 = 51.9383995 -> 51.94
    for pos in ("21", "22", "23", "24"):
        assert schedule.price("11111", (), pos, date(2026, 3, 1), "01112", "05").amount == D("51.94")
    # home (12) and office (11) are non-facility: 74.15
    assert schedule.price("11111", (), "12", date(2026, 3, 1), "01112", "05").amount == D("74.15")
    assert is_facility("22") and not is_facility("11") and len(FACILITY_POS) == 15


def test_professional_and_technical_components_are_priced_from_their_own_rows(schedule):
    day = date(2026, 3, 1)
    # 26: (1.00 + 0.40 x 0.95 + 0.05 x 0.80) x 33.4009 = 1.42 x 33.4009 = 47.429278 -> 47.43
    assert schedule.price("11111", ("26",), "11", day, "01112", "05").amount == D("47.43")
    # TC: (0 + 0.80 x 0.95 + 0.05 x 0.80) x 33.4009 = 0.80 x 33.4009 = 26.72072 -> 26.72
    assert schedule.price("11111", ("TC", "RT"), "11", day, "01112", "05").amount == D("26.72")
    # TC in a facility: NA indicator -> not priced
    assert schedule.price("11111", ("TC",), "22", day, "01112", "05").reason == "not_priced_in_setting"
    # a modifier with no pricing effect keeps the global row
    assert schedule.price("11111", ("25",), "11", day, "01112", "05").amount == D("74.15")


def test_na_setting_status_codes_and_unknown_codes_are_unpriced(schedule):
    day = date(2026, 3, 1)
    # 33333 facility: (2.00 + 0.80 x 0.95 + 0.20 x 0.80) x 33.4009 = 2.92 x 33.4009 = 97.530628 -> 97.53
    assert schedule.price("33333", (), "22", day, "01112", "05").amount == D("97.53")
    assert schedule.price("33333", (), "11", day, "01112", "05").reason == "not_priced_in_setting"
    assert schedule.price("44444", (), "11", day, "01112", "05").reason == "carrier_priced"
    assert schedule.price("55555", (), "11", day, "01112", "05").reason == "not_separately_payable"
    assert schedule.price("98765", (), "11", day, "01112", "05").reason == "code_not_in_fee_schedule"
    assert schedule.price("11111", (), "11", day, "01112", "42").reason == "locality_not_in_gpci_file"


def test_surgical_modifiers_apply_policy_indicators_rounded_half_up(schedule):
    day = date(2026, 3, 1)
    # 22222 facility: (5.00 + 2.00 x 0.95 + 0.50 x 0.80) x 33.4009 = 7.30 x 33.4009 = 243.82657 -> 243.83
    assert schedule.price("22222", (), "22", day, "01112", "05").amount == D("243.83")
    # non-facility: (5.00 + 4.00 x 0.95 + 0.40) x 33.4009 = 9.20 x 33.4009 = 307.28828 -> 307.29
    assert schedule.price("22222", (), "11", day, "01112", "05").amount == D("307.29")
    # bilateral 50 (BILAT SURG 1): 243.83 x 1.5 = 365.745 -> 365.75 half up (banker's rounding would give 365.74)
    assert schedule.price("22222", ("50",), "22", day, "01112", "05").amount == D("365.75")
    # assistant 80 (ASST SURG 2): 243.83 x 0.16 = 39.0128 -> 39.01; AS: 243.83 x 0.136 = 33.16088 -> 33.16
    assert schedule.price("22222", ("80",), "22", day, "01112", "05").amount == D("39.01")
    assert schedule.price("22222", ("AS",), "22", day, "01112", "05").amount == D("33.16")
    # co-surgeon 62 (CO-SURG 1): 243.83 x 0.625 = 152.39375 -> 152.39
    assert schedule.price("22222", ("62",), "22", day, "01112", "05").amount == D("152.39")
    # 33333 has ASST SURG 1 and BILAT 0: an assistant or bilateral claim is not payable
    assert schedule.price("33333", ("80",), "22", day, "01112", "05").reason == "not_payable_with_modifier"
    assert schedule.price("33333", ("50",), "22", day, "01112", "05").reason == "not_payable_with_modifier"


def test_locality_changes_the_gpcis(schedule):
    # MAC 05102 locality 05: (1.00 x 1.020 + 1.20 x 1.050 + 0.10 x 1.200) x 33.4009 = 2.40 x 33.4009 = 80.16216 -> 80.16
    assert schedule.price("11111", (), "11", date(2026, 3, 1), "05102", "05").amount == D("80.16")


def test_effective_dates_select_the_release_in_force_on_the_date_of_service(schedule):
    # 2025 release: (1.00 x 1.000 + 1.10 x 0.900 + 0.10 x 0.700) x 32.3465 = 2.06 x 32.3465 = 66.63379 -> 66.63
    assert schedule.price("11111", (), "11", date(2025, 1, 1), "01112", "05").amount == D("66.63")
    assert schedule.price("11111", (), "11", date(2025, 12, 31), "01112", "05").amount == D("66.63")
    assert schedule.price("11111", (), "11", date(2026, 1, 1), "01112", "05").amount == D("74.15")
    assert schedule.price("11111", (), "11", date(2024, 12, 31), "01112", "05").reason == "no_fee_schedule_in_force"
    # a code only in the 2026 file is unpriced for a 2025 date of service
    assert schedule.price("33333", (), "22", date(2025, 6, 1), "01112", "05").reason == "code_not_in_fee_schedule"


def test_explicit_conversion_factor_overrides_the_file_and_releases_must_not_overlap():
    rvus = load_pprrvu(lines("pprrvu2026_jan_fixture.csv"))
    gpcis = load_gpci(lines("gpci2026_fixture.csv"))
    qpp = PfsRelease(date(2026, 1, 1), None, rvus, gpcis, conversion_factor=D("33.5675"))
    # 2.22 x 33.5675 = 74.51985 -> 74.52 (the 2026 qualifying-APM conversion factor)
    assert qpp.price("11111", (), "11", "01112", "05").amount == D("74.52")
    open_ended = PfsRelease(date(2025, 1, 1), None, rvus, gpcis)
    with pytest.raises(ValueError):
        PfsSchedule((open_ended, qpp))
    with pytest.raises(ValueError):
        PfsRelease(date(2026, 1, 2), date(2026, 1, 1), rvus, gpcis)


def test_zip_locality_chain_prices_in_the_locality_of_the_zip(schedule):
    table = load_zip_locality(lines("zip5_fixture.txt"))
    mac, locality = locality_for_zip(table, "00601")
    # 00601 -> MAC 05102 locality 05: 2.40 x 33.4009 = 80.16216 -> 80.16 (as in test_locality_changes_the_gpcis)
    assert schedule.price("11111", (), "11", date(2026, 3, 1), mac, locality).amount == D("80.16")


def test_release_start_from_the_cms_file_name():
    assert effective_from_filename("PPRRVU2026_Jan_nonQPP.csv") == date(2026, 1, 1)
    assert effective_from_filename("rvu26b/PPRRVU2026_Apr_QPP.csv") == date(2026, 4, 1)
    assert effective_from_filename("pprrvu2025_oct_fixture.csv") == date(2025, 10, 1)
    assert effective_from_filename("GPCI2026.csv") is None


def test_fixtures_ship_no_descriptors():
    for name in ("pprrvu2025_jan_fixture.csv", "pprrvu2026_jan_fixture.csv"):
        rows = load_pprrvu(lines(name))
        text = (FIXTURES / name).read_text()
        assert rows and text.count("INVENTED FIXTURE CODE") == len(rows)


def test_pprrvu_quoted_cells_with_commas_and_line_breaks_keep_their_positions():
    row = _row(code="12345").split(",")
    row[2] = '"A DESCRIPTOR, WITH A COMMA\nAND A LINE BREAK"'
    rvus = load_pprrvu(["preamble\n", HEADER, ",".join(row)])
    assert rvus[("12345", "")].work == D("1.00") and rvus[("12345", "")].conversion_factor == D("33.4009")


def test_reduced_services_and_unpriced_components_have_no_rate(schedule):
    day = date(2026, 3, 1)
    for mods in (("52",), ("53",), ("73",), ("74",), ("26", "52")):
        assert schedule.price("11111", mods, "11", day, "01112", "05").reason == "reduced_service_modifier", mods
    # 22222 is priced only globally: its professional component has no row
    assert schedule.price("22222", ("26",), "22", day, "01112", "05").reason == "no_rate_for_modifier"
    assert schedule.price("98765", ("26",), "22", day, "01112", "05").reason == "code_not_in_fee_schedule"


def test_row_numbers_are_file_lines_even_after_a_quoted_line_break():
    good = _row(code="12345").split(",")
    good[2] = '"TWO\nLINES"'
    text = ["preamble\n", HEADER, ",".join(good), _row(code="23456", mp="-0.10")]
    with pytest.raises(RateFileError) as err:
        load_pprrvu(text)
    # lines: 1 preamble, 2 header, 3-4 the quoted record, 5 the bad row
    assert err.value.problems == [(5, "code 23456: not a non-negative number in mp")]
