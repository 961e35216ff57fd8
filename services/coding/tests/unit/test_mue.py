"""Medically Unlikely Edits (rcm_coding.domain.mue): CSV loader, MAI 1 per line, MAI 2/3 per date of service."""

import io
from datetime import date

import pytest

from rcm_coding.domain.mue import Mue, MueTable, load_mue, mue_edits
from rcm_contracts.claim import Claim, ServiceLine
from rcm_contracts.events import Edit
from tests.support import claims

# Format-true practitioner MUE CSV: a multi-line quoted copyright preamble, then a header whose first cell has a
# line break inside quotes; codes, values and the copyright wording are invented.
CSV = (
    '"CPT codes, descriptions and other data only are copyright 2025 American Medical Association.\n'
    'All Rights Reserved. Applicable FARS/HHSARS apply. (invented fixture, not CMS data)",,,\n'
    '"Medicare NCCI Practitioner Services MUE Table - Effective 07/01/2026",,,\n'
    ",,,\n"
    '"HCPCS/\nCPT Code","Practitioner Services MUE Values","MUE Adjudication Indicator","MUE Rationale"\n'
    "X1111,250,2 Date of Service Edit: Policy,Nature of Service/Procedure\n"
    "11111,1,3 Date of Service Edit: Clinical,Anatomic Consideration\n"
    "22222,4,1 Line Edit,Clinical: Data\n"
    "33333,0,1 Line Edit,CMS Policy\n"
    "44444,2,2 Date of Service Edit: Policy,CMS Policy\n"
    '55555,3,"3 Date of Service Edit: Clinical","Code Descriptor / CPT Instruction"\n'
)

DOS = date(2026, 7, 14)


@pytest.fixture(scope="module")
def table() -> MueTable:
    return load_mue(CSV.splitlines(keepends=True))


def line(n, code, units="1", service_date=None, modifiers=()) -> ServiceLine:
    return claims.make_line(n, code, "100.00", units=units, modifiers=modifiers, service_date=service_date)


def claim(*lines: ServiceLine) -> Claim:
    return claims.make_claim(service_date=DOS, lines=list(lines))


def codes(edits: list[Edit]) -> list[tuple[str, int | None]]:
    return [(e.code, e.line_number) for e in edits]


# ---------------------------------------------------------------- loader


def test_loader_skips_the_preamble_and_reads_the_rows(table):
    assert len(table) == 6
    assert table.get("X1111") == Mue(250, 2, "Nature of Service/Procedure")
    assert table.get("11111") == Mue(1, 3, "Anatomic Consideration")
    assert table.get("22222") == Mue(4, 1, "Clinical: Data")
    assert table.get("55555") == Mue(3, 3, "Code Descriptor / CPT Instruction")
    assert "99999" not in table and table.get("99999") is None


@pytest.mark.parametrize(
    "source",
    [CSV.splitlines(), CSV.splitlines(keepends=True), io.StringIO(CSV), CSV.replace("\n", "\r\n").splitlines(True)],
    ids=["no-line-ends", "line-ends", "file", "crlf"],
)
def test_quoted_multiline_header_parses_however_lines_are_given(source):
    t = load_mue(source)
    assert len(t) == 6 and t.get("44444") == Mue(2, 2, "CMS Policy")


def test_header_on_one_line_and_columns_found_by_name():
    text = ("\ufeffHCPCS/CPT Code,MUE Rationale,MUE Adjudication Indicator,Outpatient Hospital Services MUE Values\n"
            "22222,Clinical: Data,1 Line Edit,7\n")
    assert load_mue(text.splitlines()).get("22222") == Mue(7, 1, "Clinical: Data")


def test_file_without_adjudication_column_is_line_edits():
    # Medicaid MUE files carry no MAI
    t = load_mue(["HCPCS/CPT Code,Practitioner Services MUE Values,MUE Rationale", "11111,2,CMS Policy"])
    assert t.get("11111") == Mue(2, 1, "CMS Policy")


def test_no_header_is_rejected():
    with pytest.raises(ValueError, match="header"):
        load_mue(["11111,1,3 Date of Service Edit: Clinical,Anatomic Consideration"])


@pytest.mark.parametrize("row", ["11111,one,1 Line Edit,x", "11111,1,Line Edit,x", "11111,1,4 Other,x", "11111"])
def test_malformed_row_raises(row):
    with pytest.raises(ValueError, match="MUE row 2"):
        load_mue(["HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale", row])


def test_tables_can_be_merged():
    t = load_mue(CSV.splitlines())
    load_mue(["HCPCS/CPT Code,Practitioner Services MUE Values,MUE Adjudication Indicator,MUE Rationale",
              "66666,9,1 Line Edit,CMS Policy"], t)
    assert len(t) == 7


# ---------------------------------------------------------------- MAI 1: per line


def test_mai1_line_over_the_limit(table):
    edits = mue_edits(claim(line(1, "22222", "5")), table)
    assert codes(edits) == [("COD060", 1)]
    e = edits[0]
    assert e.severity == "error" and e.field == "units"
    assert "22222" in e.message and "5 units" in e.message and "MUE of 4" in e.message
    assert "CARC 151" in e.message and "N362" in e.message and "Clinical: Data" in e.message
    assert "Ada" not in e.message


def test_mai1_at_the_limit_passes(table):
    assert mue_edits(claim(line(1, "22222", "4")), table) == []


def test_mai1_is_per_line_not_per_day(table):
    # 3 + 3 = 6 units on one date, but each line is within 4
    assert mue_edits(claim(line(1, "22222", "3"), line(2, "22222", "3", modifiers=["59"])), table) == []
    edits = mue_edits(claim(line(1, "22222", "3"), line(2, "22222", "4.5")), table)
    assert codes(edits) == [("COD060", 2)]
    assert "4.5 units" in edits[0].message


def test_mue_of_zero_flags_any_units(table):
    assert codes(mue_edits(claim(line(1, "33333", "1")), table)) == [("COD060", 1)]


# ---------------------------------------------------------------- MAI 2/3: per date of service


def test_mai3_sums_lines_on_the_same_date(table):
    c = claim(line(1, "11111"), line(2, "99999"), line(3, "11111", modifiers=["RT"]))
    edits = mue_edits(c, table)
    assert codes(edits) == [("COD061", 1)]
    e = edits[0]
    assert e.severity == "error" and e.field == "units"
    assert "lines 1, 3" in e.message and "totals 2 units" in e.message and "MUE of 1" in e.message
    assert "clinical" in e.message and "payable on appeal with documentation" in e.message
    assert "CARC 151" in e.message and "N362" in e.message


def test_mai2_sums_several_lines_and_says_policy(table):
    c = claim(line(1, "44444"), line(2, "44444"), line(3, "44444"))
    edits = mue_edits(c, table)
    assert codes(edits) == [("COD061", 1)]
    assert "lines 1, 2, 3" in edits[0].message and "totals 3 units" in edits[0].message
    assert "policy" in edits[0].message and "generally upheld on appeal" in edits[0].message


def test_mai2_single_line_over_the_limit(table):
    edits = mue_edits(claim(line(1, "X1111", "251")), table)
    assert codes(edits) == [("COD061", 1)]
    assert edits[0].message.startswith("line 1:")


def test_date_of_service_limit_at_the_limit_passes(table):
    assert mue_edits(claim(line(1, "44444"), line(2, "44444")), table) == []
    assert mue_edits(claim(line(1, "55555", "1.5"), line(2, "55555", "1.5")), table) == []


def test_lines_on_different_dates_are_counted_separately(table):
    c = claim(line(1, "11111"), line(2, "11111", service_date=date(2026, 7, 15)))
    assert mue_edits(c, table) == []
    # a line without a date takes the claim's date, so it sums with an explicit line on that date
    c = claim(line(1, "11111"), line(2, "11111", service_date=DOS))
    assert codes(mue_edits(c, table)) == [("COD061", 1)]


def test_one_finding_per_code_and_date(table):
    c = claim(line(1, "44444", "2"), line(2, "11111"), line(3, "44444"), line(4, "11111"), line(5, "22222", "9"))
    assert sorted(codes(mue_edits(c, table))) == [("COD060", 5), ("COD061", 1), ("COD061", 2)]


def test_codes_without_an_mue_pass(table):
    assert mue_edits(claim(line(1, "99999", "999"), line(2, "88888", "50")), table) == []
