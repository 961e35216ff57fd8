"""Modifier edits (rcm_coding.domain.modifiers). Procedure codes are invented except the E/M range bounds."""

import csv
import io
from datetime import date

import pytest

from rcm_coding.domain.hcpcs import load_hcpcs
from rcm_coding.domain.modifiers import DEFAULT_RULES, ModifierRules, modifier_edits, pctc_codes_from_pprrvu
from rcm_contracts.claim import Claim
from tests.support import claims

PCTC_RULES = ModifierRules(pc_tc_codes=frozenset({"77777"}))


def make_claim(*lines, service_date=date(2026, 3, 14)) -> Claim:
    """lines: (procedure_code, [modifiers]) per line."""
    return claims.make_claim(service_date=service_date, diagnoses=["E119"],
                             lines=[claims.make_line(i, code, "10.00", modifiers=mods)
                                    for i, (code, mods) in enumerate(lines, start=1)])


def codes_of(edits):
    return [(e.code, e.line_number) for e in edits]


def test_line_without_modifiers_passes():
    assert modifier_edits(make_claim(("11111", []))) == []


# ---------------------------------------------------------------- 25


@pytest.mark.parametrize("code", ["99202", "99213", "99499"])
def test_25_on_an_em_code_passes(code):
    assert modifier_edits(make_claim((code, ["25"]))) == []


@pytest.mark.parametrize("code", ["99201", "99500", "11111", "J1100", "9921F"])
def test_25_off_the_em_range_gives_cod030(code):
    edits = modifier_edits(make_claim(("99213", []), (code, ["25"])))
    assert codes_of(edits) == [("COD030", 2)]
    assert edits[0].severity == "error" and edits[0].field == "modifiers"
    assert code in edits[0].message


def test_em_codes_and_ranges_are_configurable():
    rules = ModifierRules(em_code_ranges=(("55550", "55559"),), em_codes=frozenset({"92012"}))
    claim = make_claim(("55555", ["25"]), ("92012", ["25"]), ("99213", ["25"]))
    assert codes_of(modifier_edits(claim, rules)) == [("COD030", 3)]


# ---------------------------------------------------------------- LT / RT


def test_lt_and_rt_on_one_line_gives_cod031_suggesting_50_or_two_lines():
    edits = modifier_edits(make_claim(("11111", ["RT", "LT"])))
    assert codes_of(edits) == [("COD031", 1)]
    assert "50" in edits[0].message and "two lines" in edits[0].message


def test_lt_and_rt_on_separate_lines_pass():
    assert modifier_edits(make_claim(("11111", ["LT"]), ("11111", ["RT"]))) == []


# ---------------------------------------------------------------- 26 / TC


@pytest.mark.parametrize("mod", ["26", "TC"])
def test_26_or_tc_on_a_split_code_passes(mod):
    assert modifier_edits(make_claim(("77777", [mod])), PCTC_RULES) == []


@pytest.mark.parametrize("mod", ["26", "TC"])
def test_26_or_tc_on_a_code_without_split_gives_cod032(mod):
    edits = modifier_edits(make_claim(("11111", [mod])), PCTC_RULES)
    assert codes_of(edits) == [("COD032", 1)]
    assert mod in edits[0].message


def test_26_and_tc_are_not_judged_without_a_pctc_list():
    assert DEFAULT_RULES.pc_tc_codes is None
    assert modifier_edits(make_claim(("11111", ["26"]))) == []


def test_26_and_tc_together_give_cod033_once():
    edits = modifier_edits(make_claim(("77777", ["26", "TC"])), PCTC_RULES)
    assert codes_of(edits) == [("COD033", 1)]
    # Even without the PCTC list the pair is contradictory.
    assert codes_of(modifier_edits(make_claim(("11111", ["TC", "26"])))) == [("COD033", 1)]


def test_pctc_codes_from_pprrvu_keeps_indicator_1_only():
    text = ("HCPCS,MOD,DESCRIPTION,STATUS CODE,PCTC IND,GLOB DAYS\n"
            "77777,,,A,1,XXX\n"
            "77777,26,,A,1,XXX\n"
            "77777,TC,,A,1,XXX\n"
            "11111,,,A,0,010\n"
            "66666,,,A,2,XXX\n"
            "55555,,,A, 1 ,XXX\n")
    assert pctc_codes_from_pprrvu(csv.DictReader(io.StringIO(text))) == {"77777", "55555"}


def test_pctc_loader_tolerates_header_spelling():
    rows = [{"HCPCS": "77777", "PCTC\nIND": "1"}, {" hcpcs ": "88888", "PCTC_IND": "1"}]
    assert pctc_codes_from_pprrvu(rows) == {"77777", "88888"}


# ---------------------------------------------------------------- duplicates and format


def test_duplicate_modifier_gives_cod034():
    edits = modifier_edits(make_claim(("11111", ["59", "59"])))
    assert codes_of(edits) == [("COD034", 1)]
    assert "59" in edits[0].message


def test_malformed_modifier_gives_cod035():
    # The contract rejects such modifiers; an unvalidated copy (model_copy skips validation) must still be caught.
    claim = make_claim(("11111", []))
    bad_line = claim.lines[0].model_copy(update={"modifiers": ["5", "rt"]})
    claim = claim.model_copy(update={"lines": [bad_line]})
    assert codes_of(modifier_edits(claim)) == [("COD035", 1), ("COD035", 1)]


def test_findings_on_several_lines_are_all_reported():
    claim = make_claim(("11111", ["25"]), ("22222", ["LT", "RT"]), ("99213", ["25", "25"]))
    assert codes_of(modifier_edits(claim)) == [("COD030", 1), ("COD031", 2), ("COD034", 3)]


# ---------------------------------------------------------------- Level II modifiers from the HCPCS file


@pytest.fixture(scope="module")
def hcpcs():
    return load_hcpcs([
        "HCPC,SEQNUM,RECID,LONG DESCRIPTION,ADD DT,ACT EFF DT,TERM DT\n",
        "RT,00100,7,Right side,19920101,19920101,\n",
        "LT,00100,7,Left side,19920101,19920101,\n",
        "ZY,00100,7,Invented discontinued modifier,20100101,20210101,20201231\n",
        "A0428,00100,3,Ambulance service,20050101,20050101,\n",
    ])


def test_known_level2_modifier_passes(hcpcs):
    assert modifier_edits(make_claim(("11111", ["RT"])), hcpcs=hcpcs) == []


def test_unknown_level2_modifier_gives_cod036(hcpcs):
    edits = modifier_edits(make_claim(("11111", ["QQ"])), hcpcs=hcpcs)
    assert codes_of(edits) == [("COD036", 1)]
    assert "QQ" in edits[0].message


def test_numeric_cpt_modifiers_are_not_checked_against_the_hcpcs_file(hcpcs):
    assert modifier_edits(make_claim(("11111", ["59"])), hcpcs=hcpcs) == []


@pytest.mark.parametrize("dos,expected", [(date(2020, 12, 31), []), (date(2021, 1, 1), [("COD037", 1)])])
def test_discontinued_level2_modifier_gives_cod037_after_its_term_date(hcpcs, dos, expected):
    assert codes_of(modifier_edits(make_claim(("11111", ["ZY"]), service_date=dos), hcpcs=hcpcs)) == expected


def test_without_a_hcpcs_file_level2_modifiers_are_not_looked_up():
    assert modifier_edits(make_claim(("11111", ["QQ"]))) == []
