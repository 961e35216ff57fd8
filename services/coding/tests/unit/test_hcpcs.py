"""HCPCS Level II / CPT tables and procedure edits (rcm_coding.domain.hcpcs).

Fixture rows follow the CMS HCPCS Excel layout (codesets.md 2.5); descriptions and dates are fixture values.
"""

import csv
import io
from datetime import date

import pytest

from rcm_coding.domain.hcpcs import CodeEntry, load_cpt, load_hcpcs, procedure_edits, procedure_kind
from rcm_contracts.claim import Claim
from tests.support import claims

HCPCS_COLUMNS = (
    ["HCPC", "SEQNUM", "RECID", "LONG DESCRIPTION", "SHORT DESCRIPTION", "PRICE1", "PRICE2", "PRICE3", "PRICE4",
     "MULT_PI", "CIM1", "CIM2", "CIM3", "MCM1", "MCM2", "MCM3", "STATUTE"]
    + [f"LABCERT{i}" for i in range(1, 9)] + [f"XREF{i}" for i in range(1, 6)]
    + ["COV", "ASC_GRP", "ASC_DT", "OPPS", "OPPS_PI", "OPPS_DT", "PROCNOTE", "BETOS"]
    + [f"TOS{i}" for i in range(1, 6)] + ["ANEST_BU", "ADD DT", "ACT EFF DT", "TERM DT", "ACTION CD"]
)

# (HCPC, SEQNUM, RECID, LONG DESCRIPTION, SHORT DESCRIPTION, COV, ADD DT, ACT EFF DT, TERM DT, ACTION CD)
HCPCS_ROWS = [
    ("G0439", "00100", "3", "Annual wellness visit, includes a personalized prevention plan", "Ppps, subseq visit",
     "C", "20110101", "20110101", "", "N"),
    ("G0439", "00200", "4", "of service (pps), subsequent visit", "", "", "", "", "", ""),
    # Description changed in 2025: ACT EFF DT moved, the code has been billable since it was added.
    ("J1100", "00100", "3", "Injection, dexamethasone sodium phosphate, 1 mg", "Dexamethasone sodium phos",
     "D", "19990101", "20250101", "", "C"),
    # Deleted: last billable day 2017-12-31.
    ("G0202", "00100", "3", "Screening mammography, bilateral, fixture text", "Scr mammo bi incl cad",
     "C", "20020101", "20180101", "20171231", "D"),
    # Added in an April update.
    ("Q9999", "00100", "3", "Invented supply code added in the April quarterly update", "Invented supply",
     "C", "20260401", "20260401", "", "A"),
    ("RT", "00100", "7", "Right side (used to identify procedures performed on the right", "Right side",
     "", "19920101", "19920101", "", "N"),
    ("RT", "00200", "8", "side of the body)", "", "", "", "", "", ""),
    ("LT", "00100", "7", "Left side", "Left side", "", "19920101", "19920101", "", "N"),
    ("ZY", "00100", "7", "Invented modifier discontinued in 2020", "Old modifier",
     "", "20100101", "20210101", "20201231", "D"),
]


def hcpcs_csv(columns=HCPCS_COLUMNS, rows=HCPCS_ROWS, preamble="") -> list[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    names = ["HCPC", "SEQNUM", "RECID", "LONG DESCRIPTION", "SHORT DESCRIPTION", "COV", "ADD DT", "ACT EFF DT",
             "TERM DT", "ACTION CD"]
    writer.writerow(columns)
    for values in rows:
        by_name = dict(zip(names, values))
        writer.writerow([by_name.get(c.strip().upper().replace("_", " "), "") for c in columns])
    return (preamble + out.getvalue()).splitlines(keepends=True)


CPT_CSV = """code,effective_date,termination_date
11111,2020-01-01,
22222,20200101,20251231
1234F,2024-01-01,
0042T,2015-01-01,
0001U,2017-01-01,
99213,1992-01-01,
"""


@pytest.fixture(scope="module")
def hcpcs():
    return load_hcpcs(hcpcs_csv())


@pytest.fixture(scope="module")
def cpt():
    return load_cpt(CPT_CSV.splitlines())


def make_claim(codes, service_date=date(2026, 3, 14), line_dates=None) -> Claim:
    line_dates = line_dates or [None] * len(codes)
    return claims.make_claim(service_date=service_date, diagnoses=["E119"],
                             lines=[claims.make_line(i, c, "10.00", service_date=d)
                                    for i, (c, d) in enumerate(zip(codes, line_dates), start=1)])


def codes_of(edits):
    return [(e.code, e.line_number) for e in edits]


# ---------------------------------------------------------------- HCPCS loader


def test_procedure_and_modifier_rows_are_separated(hcpcs):
    assert set(hcpcs.codes) == {"G0439", "J1100", "G0202", "Q9999"}
    assert set(hcpcs.modifiers) == {"RT", "LT", "ZY"}
    assert hcpcs.source == "HCPCS"


def test_long_description_is_joined_across_seqnum_rows(hcpcs):
    assert hcpcs.codes["G0439"].description == (
        "Annual wellness visit, includes a personalized prevention plan of service (pps), subsequent visit")
    assert hcpcs.modifiers["RT"].description == (
        "Right side (used to identify procedures performed on the right side of the body)")


def test_continuation_rows_in_any_order_are_joined_by_seqnum():
    rows = [HCPCS_ROWS[1], HCPCS_ROWS[0]]  # continuation first
    table = load_hcpcs(hcpcs_csv(rows=rows))
    entry = table.codes["G0439"]
    assert entry.description.startswith("Annual wellness visit") and entry.description.endswith("subsequent visit")
    assert entry.effective == date(2011, 1, 1) and entry.coverage == "C"


def test_dates_coverage_and_action_come_from_the_first_row(hcpcs):
    g0202 = hcpcs.codes["G0202"]
    assert (g0202.effective, g0202.terminated, g0202.coverage, g0202.action) == (
        date(2002, 1, 1), date(2017, 12, 31), "C", "D")
    assert hcpcs.codes["G0439"].terminated is None  # blank TERM DT = active


def test_valid_from_is_the_add_date_when_the_action_date_is_later(hcpcs):
    # ACT EFF DT 2025-01-01 is a description change; the code was billable since 1999.
    assert hcpcs.codes["J1100"].effective == date(1999, 1, 1)
    assert hcpcs.codes["Q9999"].effective == date(2026, 4, 1)


def test_loader_maps_columns_by_header_name_in_any_order_with_extra_columns_and_a_banner():
    columns = ["TERM_DT", "NEW COLUMN", "ACTION_CD", " hcpc ", "LONG_DESCRIPTION", "RECID", "SEQNUM",
               "ACT_EFF_DT", "ADD_DT", "COV"]
    table = load_hcpcs(hcpcs_csv(columns=columns, preamble="HCPCS 2026 April release,,\n\n"))
    assert set(table.codes) == {"G0439", "J1100", "G0202", "Q9999"}
    assert table.codes["G0202"].terminated == date(2017, 12, 31)
    assert table.modifiers["RT"].description.endswith("side of the body)")


def test_values_are_stripped():
    lines = ["HCPC,SEQNUM,RECID,LONG DESCRIPTION,ADD DT,ACT EFF DT,TERM DT\n",
             " a0428 , 00100 , 3 ,\"  Ambulance service, basic life support  \", 20050101 , 20050101 ,  \n"]
    entry = load_hcpcs(lines).codes["A0428"]
    assert entry == CodeEntry(code="A0428", effective=date(2005, 1, 1), terminated=None,
                              description="Ambulance service, basic life support")


def test_bad_date_is_reported_with_its_line():
    lines = ["HCPC,RECID,LONG DESCRIPTION,ACT EFF DT\n", "A0428,3,Ambulance,2005-13-45\n"]
    with pytest.raises(ValueError, match="line 2"):
        load_hcpcs(lines)


def test_file_without_the_expected_header_is_rejected():
    with pytest.raises(ValueError, match="HCPC"):
        load_hcpcs(["code,description\n", "A0428,Ambulance\n"])


# ---------------------------------------------------------------- CPT loader


def test_cpt_loader_needs_no_descriptor(cpt):
    assert cpt.source == "CPT"
    assert cpt.codes["11111"] == CodeEntry(code="11111", effective=date(2020, 1, 1), terminated=None)
    assert cpt.codes["22222"].terminated == date(2025, 12, 31)  # YYYYMMDD accepted too
    assert all(e.description == "" for e in cpt.codes.values())
    assert cpt.modifiers == {}


def test_cpt_loader_keeps_an_optional_descriptor_column_and_ignores_extra_columns():
    table = load_cpt(["Code,Descriptor,Effective_Date,Termination_Date,Status\n",
                      "11111,Customer-licensed text,2020-01-01,,A\n"])
    assert table.codes["11111"].description == "Customer-licensed text"


def test_cpt_loader_rejects_a_file_without_dates():
    with pytest.raises(ValueError):
        load_cpt(["code,descriptor\n", "11111,x\n"])


# ---------------------------------------------------------------- format


@pytest.mark.parametrize("code,kind", [("99213", "cpt"), ("1234F", "cpt"), ("0042T", "cpt"), ("0001U", "cpt"),
                                       ("J1100", "hcpcs"), ("A0428", "hcpcs"), ("V2020", "hcpcs"),
                                       ("D0120", "cdt"), ("W1234", None), ("1234A", None), ("9921", None),
                                       ("j1100", None), ("99213-25", None)])
def test_procedure_kind(code, kind):
    assert procedure_kind(code) == kind


def test_malformed_code_gives_cod023_on_its_line(hcpcs, cpt):
    edits = procedure_edits(make_claim(["11111", "W1234"]), hcpcs, cpt)
    assert codes_of(edits) == [("COD023", 2)]
    assert edits[0].severity == "error" and edits[0].field == "procedure_code"


def test_dental_code_is_a_warning_to_use_a_dental_claim(hcpcs, cpt):
    edits = procedure_edits(make_claim(["D0120"]), hcpcs, cpt)
    assert codes_of(edits) == [("COD024", 1)]
    assert edits[0].severity == "warning"
    assert "dental claim" in edits[0].message


# ---------------------------------------------------------------- table lookups


def test_known_codes_in_force_pass(hcpcs, cpt):
    claim = make_claim(["11111", "1234F", "0042T", "0001U", "G0439", "J1100"])
    assert procedure_edits(claim, hcpcs, cpt) == []


@pytest.mark.parametrize("code", ["33333", "J9999"])
def test_code_missing_from_its_table_gives_cod020(hcpcs, cpt, code):
    edits = procedure_edits(make_claim([code]), hcpcs, cpt)
    assert codes_of(edits) == [("COD020", 1)]
    assert edits[0].severity == "error"
    assert code in edits[0].message


def test_cpt_code_without_a_cpt_table_gets_format_check_and_one_cod021_warning(hcpcs):
    edits = procedure_edits(make_claim(["33333", "G0439", "44444"]), hcpcs, None)
    assert codes_of(edits) == [("COD021", None)]
    assert edits[0].severity == "warning"
    assert "CPT" in edits[0].message and "1, 3" in edits[0].message


def test_hcpcs_code_without_a_hcpcs_table_gets_cod021_too(cpt):
    edits = procedure_edits(make_claim(["J9999", "11111"]), None, cpt)
    assert codes_of(edits) == [("COD021", None)]
    assert "HCPCS" in edits[0].message


def test_no_tables_still_reports_malformed_codes():
    edits = procedure_edits(make_claim(["BAD", "11111"]), None, None)
    assert codes_of(edits) == [("COD023", 1), ("COD021", None)]


@pytest.mark.parametrize("dos,ok", [(date(2017, 12, 31), True), (date(2018, 1, 1), False)])
def test_terminated_hcpcs_code_is_valid_through_its_term_date(hcpcs, cpt, dos, ok):
    edits = procedure_edits(make_claim(["G0202"], service_date=dos), hcpcs, cpt)
    if ok:
        assert edits == []
    else:
        assert codes_of(edits) == [("COD022", 1)]
        assert "2002-01-01" in edits[0].message and "2017-12-31" in edits[0].message
        assert "2018-01-01" not in edits[0].message  # date of service is patient data


@pytest.mark.parametrize("dos,ok", [(date(2026, 3, 31), False), (date(2026, 4, 1), True)])
def test_new_hcpcs_code_is_valid_from_its_effective_date(hcpcs, cpt, dos, ok):
    edits = procedure_edits(make_claim(["Q9999"], service_date=dos), hcpcs, cpt)
    assert codes_of(edits) == ([] if ok else [("COD022", 1)])


def test_code_whose_description_changed_stays_valid_before_the_action_date(hcpcs, cpt):
    assert procedure_edits(make_claim(["J1100"], service_date=date(2020, 6, 1)), hcpcs, cpt) == []


def test_terminated_cpt_code_uses_the_line_date_of_service(hcpcs, cpt):
    claim = make_claim(["22222", "22222"], service_date=date(2025, 12, 31), line_dates=[None, date(2026, 1, 1)])
    edits = procedure_edits(claim, hcpcs, cpt)
    assert codes_of(edits) == [("COD022", 2)]
    assert "terminated 2025-12-31" in edits[0].message


def test_effective_on_without_dates_is_always_true():
    assert CodeEntry(code="11111", effective=None, terminated=None).effective_on(date(1990, 1, 1))
