"""Code-format edits (rcm_coding.domain.code_checks): ICD-10-CM, CPT, HCPCS Level II, coding status."""

from datetime import date
from decimal import Decimal

import pytest

from rcm_coding.domain.code_checks import CPT, HCPCS_II, ICD10CM, code_edits, coding_status
from rcm_contracts.claim import Claim
from rcm_contracts.events import Edit
from tests.support import claims


def make_claim(diagnoses=("J069",), codes=("99213",)) -> Claim:
    return claims.make_claim(diagnoses=list(diagnoses), lines=claims.make_lines(*codes, charge="100.00"))


def codes_of(edits: list[Edit]) -> list[str]:
    return [e.code for e in edits]


# ---------------------------------------------------------------- ICD-10-CM


@pytest.mark.parametrize("dx", ["J069", "E119", "S72001A", "Z0000", "I10", "A00", "M545", "C4A0", "Z3A20", "T07XXXA"])
def test_valid_icd10cm_codes_match(dx):
    assert ICD10CM.match(dx)


@pytest.mark.parametrize(
    "dx",
    [
        "J06.9",  # stored without the dot
        "j069",  # lower case is not normalised here
        "1069",  # must start with a letter
        "JJ69",  # second character is a digit
        "J0",  # at least three characters
        "S72001AB",  # at most seven characters
        "J06-9",
        "",
    ],
)
def test_malformed_icd10cm_codes_do_not_match(dx):
    assert not ICD10CM.match(dx)


@pytest.mark.parametrize("dx", ["U071", "U099"])
def test_icd10cm_u_codes_in_use_are_accepted(dx):
    claim = make_claim(diagnoses=[dx])
    assert code_edits(claim) == []


def test_category_header_passes_the_format_check():
    # E11 is a category header (not billable without subcodes); this module checks format only.
    assert code_edits(make_claim(diagnoses=["E11"])) == []


def test_invalid_diagnosis_gives_cod002_naming_its_one_based_position():
    edits = code_edits(make_claim(diagnoses=["J069", "J06.9"]))
    assert codes_of(edits) == ["COD002"]
    assert edits[0].severity == "error"
    assert edits[0].field == "diagnoses[2]"
    assert edits[0].line_number is None


def test_each_invalid_diagnosis_gives_its_own_edit():
    edits = code_edits(make_claim(diagnoses=["XX", "J069", "123"]))
    assert [e.field for e in edits] == ["diagnoses[1]", "diagnoses[3]"]


def test_cod002_message_does_not_quote_the_code():
    edits = code_edits(make_claim(diagnoses=["QQQQQQQQQ"]))
    assert "QQQQQQQQQ" not in edits[0].message


# ---------------------------------------------------------------- no diagnosis


def test_no_diagnosis_gives_cod001_error():
    edits = code_edits(make_claim(diagnoses=()))
    assert codes_of(edits) == ["COD001"]
    assert edits[0].severity == "error"
    assert edits[0].field == "diagnoses"


def test_cod001_is_absent_when_a_diagnosis_exists():
    assert "COD001" not in codes_of(code_edits(make_claim(diagnoses=["E119"])))


# ---------------------------------------------------------------- procedures


@pytest.mark.parametrize("code", ["99213", "36415", "00100"])
def test_cpt_category_i_five_digits_is_valid(code):
    assert CPT.match(code)
    assert code_edits(make_claim(codes=[code])) == []


@pytest.mark.parametrize("code", ["3008F", "1036F"])
def test_cpt_category_ii_ending_in_f_is_valid(code):
    assert CPT.match(code)
    assert code_edits(make_claim(codes=[code])) == []


@pytest.mark.parametrize("code", ["0042T", "0075T"])
def test_cpt_category_iii_ending_in_t_is_valid(code):
    assert CPT.match(code)
    assert code_edits(make_claim(codes=[code])) == []


def test_cpt_pla_code_ending_in_u_is_valid():
    assert code_edits(make_claim(codes=["0001U"])) == []


@pytest.mark.parametrize("code", ["J1100", "G0439", "A0428", "E0114", "V2020"])
def test_hcpcs_level_ii_is_valid(code):
    assert HCPCS_II.match(code)
    assert code_edits(make_claim(codes=[code])) == []


@pytest.mark.parametrize(
    "code",
    [
        "9921",  # four digits
        "992133",  # six digits
        "99213-25",  # modifier glued on
        "ABCDE",
        "1234A",  # fifth character not F/T/U
        "W1234",  # HCPCS II letters run A-V
        "J110",  # HCPCS II needs four digits
        "j1100",  # lower case is not normalised here
    ],
)
def test_invalid_procedure_code_gives_cod003_on_its_line(code):
    edits = code_edits(make_claim(codes=["99213", code]))
    assert codes_of(edits) == ["COD003"]
    assert edits[0].severity == "error"
    assert edits[0].line_number == 2
    assert edits[0].field == "procedure_code"


def test_every_bad_line_gets_its_own_cod003():
    edits = code_edits(make_claim(codes=["XXXXX", "99213", "1234"]))
    assert [(e.code, e.line_number) for e in edits] == [("COD003", 1), ("COD003", 3)]


def test_all_findings_are_reported_together():
    edits = code_edits(make_claim(diagnoses=(), codes=["BAD"]))
    assert codes_of(edits) == ["COD001", "COD003"]


def test_clean_claim_has_no_edits():
    assert code_edits(make_claim(diagnoses=["J069", "E119"], codes=["99213", "36415", "G0439"])) == []


# ---------------------------------------------------------------- status


def test_status_is_coded_without_edits():
    assert coding_status([]) == "coded"


def test_status_is_coded_with_warnings_only():
    warning = Edit(code="COD900", severity="warning", message="informational")
    assert coding_status([warning]) == "coded"


def test_status_needs_coder_with_any_error():
    warning = Edit(code="COD900", severity="warning", message="informational")
    error = Edit(code="COD001", severity="error", message="no diagnosis")
    assert coding_status([warning, error]) == "needs_coder"


def test_status_of_a_claim_without_diagnosis_is_needs_coder():
    assert coding_status(code_edits(make_claim(diagnoses=()))) == "needs_coder"


def test_status_of_a_clean_claim_is_coded():
    assert coding_status(code_edits(make_claim())) == "coded"


# ---------------------------------------------------------------- source-coded (SNOMED CT / CVX) claims
def _source_coded_claim(**overrides):
    from rcm_contracts.claim import SourceCode

    values = dict(
        source_system="synthea", source_encounter_id="e-1", service_date=date(2025, 11, 3),
        patient=claims.make_patient(first_name="A", last_name="B", birth_date=date(2015, 1, 1)),
        diagnoses=[], source_diagnoses=[SourceCode(system="snomed-ct", code="195662009")],
        lines=[claims.make_line(1, "410620009", "120.00", code_system="snomed-ct"),
               claims.make_line(2, "08", "140.52", code_system="cvx")],
        total_charge=Decimal("260.52"))
    values.update(overrides)
    return claims.make_claim(**values)


def test_snomed_and_cvx_coded_claims_go_to_the_coder_with_one_edit_per_line_and_no_codes_in_messages():
    from rcm_coding.domain.engine import CodingTables, code_claim, coding_status

    edits = code_claim(_source_coded_claim(), CodingTables())

    assert [(e.code, e.line_number) for e in edits] == [("COD004", 1), ("COD004", 2), ("COD005", None)]
    assert "SNOMED CT" in edits[0].message and "CVX" in edits[1].message
    assert not any(code in e.message for e in edits for code in ("410620009", "195662009"))
    assert coding_status(edits) == "needs_coder"


def test_recoding_a_source_coded_line_makes_it_cpt():
    from rcm_coding.service import LineRecode, Recode, apply_recode

    claim = _source_coded_claim().model_dump(mode="json")
    recoded = apply_recode(claim, Recode(diagnoses=["Z0000"], lines=[
        LineRecode(line_number=1, procedure_code="99393"), LineRecode(line_number=2, procedure_code="90744")]))

    assert [(line.procedure_code, line.code_system) for line in recoded.lines] == [("99393", "cpt-hcpcs"),
                                                                                 ("90744", "cpt-hcpcs")]
    from rcm_coding.domain.engine import source_code_edits
    assert source_code_edits(recoded) == []
