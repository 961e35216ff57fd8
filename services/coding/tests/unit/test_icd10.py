"""ICD-10-CM validity, billability and release window (rcm_coding.domain.icd10) against the real FY2026 code set."""

import subprocess
import sys
from datetime import date

import pytest

from rcm_coding.domain.icd10 import (
    FY2026,
    Icd10Release,
    billable_children,
    diagnosis_edits,
    is_billable,
    is_known,
    loaded_release,
)
from rcm_contracts.claim import Claim
from tests.support import claims

IN_WINDOW = date(2026, 3, 14)


def make_claim(diagnoses, service_date=IN_WINDOW, lines=None) -> Claim:
    """lines: (pointers, service_date or None) per line; default one line pointing at every diagnosis."""
    lines = lines or [(list(range(1, min(len(diagnoses), 4) + 1)) or [1], None)]
    return claims.make_claim(service_date=service_date, diagnoses=list(diagnoses),
                             lines=[claims.make_line(i, "11111", "10.00", pointers=pointers, service_date=dos)
                                    for i, (pointers, dos) in enumerate(lines, start=1)])


def codes_of(edits):
    return [e.code for e in edits]


# ---------------------------------------------------------------- billable codes


@pytest.mark.parametrize("dx", ["E11.9", "E119", "S72.001A", "S72001A", "U07.1", "U071", "T36.0X1A", "T360X1A",
                                "M5450", "I10", "J069"])
def test_billable_codes_are_billable(dx):
    assert is_known(dx)
    assert is_billable(dx)


@pytest.mark.parametrize("dx", ["E119", "S72001A", "U071", "T360X1A", "M5450"])
def test_billable_diagnosis_on_a_claim_has_no_edit(dx):
    assert diagnosis_edits(make_claim([dx])) == []


def test_blocks_that_share_a_name_with_a_category_are_billable_as_the_category():
    # B20 is both a block and a (leafless) category in the tabular; as a code it is billable.
    assert is_billable("B20")
    assert diagnosis_edits(make_claim(["B20"])) == []


# ---------------------------------------------------------------- header codes


def test_e11_is_a_header_with_billable_suggestions():
    edits = diagnosis_edits(make_claim(["E11"]))
    assert codes_of(edits) == ["COD011"]
    assert edits[0].severity == "error"
    assert edits[0].field == "diagnoses[1]"
    assert "E119" in edits[0].message
    assert not is_billable("E11")


def test_suggestions_are_nearest_level_first_and_capped_at_five():
    suggestions = billable_children("E11", limit=5)
    assert suggestions == ["E118", "E119", "E11A", "E1100", "E1101"]
    edits = diagnosis_edits(make_claim(["E11"]))
    assert "E118, E119, E11A, E1100, E1101" in edits[0].message
    assert "E1110" not in edits[0].message  # sixth billable code is not listed


def test_m545_became_a_header_in_fy2022():
    assert is_known("M54.5") and not is_billable("M54.5")
    assert billable_children("M54.5") == ["M5450", "M5451", "M5459"]
    edits = diagnosis_edits(make_claim(["M545"]))
    assert codes_of(edits) == ["COD011"]
    assert "M5450, M5451, M5459" in edits[0].message


def test_code_missing_its_seventh_character_is_a_header():
    edits = diagnosis_edits(make_claim(["S72001"]))
    assert codes_of(edits) == ["COD011"]
    assert "S72001A" in edits[0].message


def test_billable_children_lists_every_billable_descendant_without_limit():
    children = billable_children("E11")
    assert "E119" in children and "E113591" in children
    assert all(is_billable(c) for c in children)
    assert len(children) == len(set(children))


@pytest.mark.parametrize("dx", ["E119", "ZZZ999", ""])
def test_billable_children_of_a_leaf_or_unknown_code_is_empty(dx):
    assert billable_children(dx) == []


# ---------------------------------------------------------------- unknown codes


@pytest.mark.parametrize("dx", ["ZZZ999", "E1190", "T3601A", "QQQQQQQQQ"])
def test_unknown_code_gives_cod010(dx):
    edits = diagnosis_edits(make_claim([dx]))
    assert codes_of(edits) == ["COD010"]
    assert edits[0].severity == "error"
    assert edits[0].field == "diagnoses[1]"
    assert dx not in edits[0].message  # patient's code is not quoted


@pytest.mark.parametrize("dx", ["1", "E08-E13"])
def test_chapters_and_blocks_are_not_diagnosis_codes(dx):
    # simple-icd-10-cm calls chapter "1" and block "E08-E13" valid items; a claim cannot carry them.
    assert not is_known(dx)
    assert codes_of(diagnosis_edits(make_claim([dx]))) == ["COD010"]


def test_each_diagnosis_is_reported_at_its_position():
    edits = diagnosis_edits(make_claim(["E119", "ZZZ999", "E11", "I10"]))
    assert [(e.code, e.field) for e in edits] == [("COD010", "diagnoses[2]"), ("COD011", "diagnoses[3]")]


def test_claim_without_diagnoses_has_no_diagnosis_edits():
    assert diagnosis_edits(make_claim([])) == []


# ---------------------------------------------------------------- release window


def test_loaded_release_is_fy2026_by_default():
    assert loaded_release() == FY2026
    assert FY2026.valid_from == date(2025, 10, 1) and FY2026.valid_through == date(2026, 9, 30)


@pytest.mark.parametrize("dos,inside", [(date(2025, 9, 30), False), (date(2025, 10, 1), True),
                                        (date(2026, 9, 30), True), (date(2026, 10, 1), False)])
def test_release_window_is_inclusive(dos, inside):
    assert FY2026.covers(dos) is inside


def test_date_of_service_before_the_release_gives_cod012_naming_the_needed_release():
    edits = diagnosis_edits(make_claim(["E119", "ZZZ999"], service_date=date(2025, 9, 30)))
    assert codes_of(edits) == ["COD012", "COD012"]  # the unknown code is not judged against the wrong release
    assert edits[0].severity == "error"
    assert "FY2025" in edits[0].message and "FY2026" in edits[0].message
    assert "2025-09-30" not in edits[0].message  # the date of service is patient data


def test_date_of_service_after_the_release_names_the_next_fiscal_year():
    edits = diagnosis_edits(make_claim(["E119"], service_date=date(2026, 10, 1)))
    assert codes_of(edits) == ["COD012"]
    assert "FY2027" in edits[0].message


def test_a_configured_release_window_is_used():
    fy2027 = Icd10Release(name="FY2027", valid_from=date(2026, 10, 1), valid_through=date(2027, 9, 30))
    assert codes_of(diagnosis_edits(make_claim(["E119"]), release=fy2027)) == ["COD012"]
    assert diagnosis_edits(make_claim(["E119"], service_date=date(2026, 10, 1)), release=fy2027) == []


def test_line_dates_of_service_decide_per_diagnosis():
    claim = make_claim(["E119", "I10"], lines=[([1], None), ([2], date(2026, 10, 2))])
    edits = diagnosis_edits(claim)
    assert [(e.code, e.field) for e in edits] == [("COD012", "diagnoses[2]")]


def test_unpointed_diagnosis_uses_the_claim_date():
    claim = make_claim(["E119", "E11"], service_date=date(2026, 9, 30), lines=[([1], date(2026, 10, 2))])
    edits = diagnosis_edits(claim)
    assert [(e.code, e.field) for e in edits] == [("COD012", "diagnoses[1]"), ("COD011", "diagnoses[2]")]


def test_importing_the_module_does_not_load_the_code_set():
    # The code set costs ~3 s to load; importing the module (e.g. at service start-up) must not pay it.
    probe = "import sys, rcm_coding.domain.icd10; print('simple_icd_10_cm' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_load_release_switches_the_code_set_and_the_window(monkeypatch):
    # Reload the files the package ships (a deployment passes the next CMS release's files the same way).
    from importlib.resources import files

    import rcm_coding.domain.icd10 as icd10

    monkeypatch.setattr(icd10, "_loaded_release", icd10._loaded_release)  # restore the window afterwards
    data = files("simple_icd_10_cm") / "data"
    release = Icd10Release(name="FY2026-test", valid_from=date(2025, 10, 1), valid_through=date(2026, 3, 31))
    icd10.load_release(release, str(data / "code-list-April-2026.txt"),
                       str(data / "icd10c-tabular-April-1-2026.xml"))
    assert loaded_release() is release
    assert diagnosis_edits(make_claim(["E119"])) == []
    assert codes_of(diagnosis_edits(make_claim(["E119"], service_date=date(2026, 4, 1)))) == ["COD012"]
