"""Medical necessity per payer (rcm_coding.domain.necessity). Procedure codes and payer ids are invented."""

from datetime import date

import pytest

from rcm_coding.domain.necessity import CoveragePolicy, CoverageTable, load_coverage, necessity_edits
from rcm_contracts.claim import Claim
from tests.support import claims

COVERAGE_CSV = """payer_id,procedure_code,covered_dx
MEDICARE-J15,11111,E11*
MEDICARE-J15,11111,R73.03
MEDICARE-J15,22222,I10
ACME,11111,Z00*
"""


@pytest.fixture(scope="module")
def coverage():
    return load_coverage(COVERAGE_CSV.splitlines())


def make_claim(diagnoses, *lines, payer="MEDICARE-J15") -> Claim:
    """lines: (procedure_code, diagnosis_pointers) per line."""
    return claims.make_claim(
        service_date=date(2026, 3, 14), diagnoses=list(diagnoses),
        coverage=claims.make_coverage(payer_id=payer, payer_name="Payer", member_id="M1") if payer else None,
        lines=[claims.make_line(i, code, "10.00", pointers=pointers) for i, (code, pointers) in enumerate(lines, start=1)],
    )


def codes_of(edits):
    return [(e.code, e.line_number) for e in edits]


# ---------------------------------------------------------------- loader


def test_loader_groups_rows_by_payer_and_procedure(coverage):
    assert coverage.policy("MEDICARE-J15", "11111") == CoveragePolicy(codes=frozenset({"R7303"}),
                                                                      prefixes=frozenset({"E11"}))
    assert coverage.policy("MEDICARE-J15", "22222") == CoveragePolicy(codes=frozenset({"I10"}))
    assert coverage.policy("ACME", "11111").prefixes == {"Z00"}
    assert coverage.policy("ACME", "22222") is None
    assert coverage.policy("OTHER", "11111") is None


def test_loader_tolerates_column_order_whitespace_and_blank_lines():
    table = load_coverage(["\ufeffCovered_DX , Payer_ID,procedure_code\n", " e11.9 ,ACME, 11111 \n", "\n"])
    assert table.policy("ACME", "11111").covers("E119")


def test_loader_rejects_a_file_without_the_columns():
    with pytest.raises(ValueError, match="covered_dx"):
        load_coverage(["payer,code\n", "ACME,11111\n"])


@pytest.mark.parametrize("dx,covered", [("E11", True), ("E119", True), ("E11.65", True), ("E1", False),
                                        ("E10", False), ("R7303", True), ("R730", False), ("R73031", False)])
def test_prefix_covers_the_family_and_exact_code_only_itself(coverage, dx, covered):
    assert coverage.policy("MEDICARE-J15", "11111").covers(dx) is covered


# ---------------------------------------------------------------- edits


def test_line_with_a_covered_diagnosis_passes(coverage):
    assert necessity_edits(make_claim(["E1165"], ("11111", [1])), coverage) == []


def test_line_without_a_covered_diagnosis_gives_cod040_naming_line_and_procedure(coverage):
    claim = make_claim(["I10", "J069"], ("22222", [1]), ("11111", [1, 2]))
    edits = necessity_edits(claim, coverage)
    assert codes_of(edits) == [("COD040", 2)]
    e = edits[0]
    assert e.severity == "error" and e.field == "diagnosis_pointers"
    assert "line 2" in e.message and "11111" in e.message
    assert "J069" not in e.message and "I10" not in e.message  # the patient's diagnoses are not quoted


def test_one_covered_pointer_among_several_is_enough(coverage):
    claim = make_claim(["J069", "I10", "R7303"], ("11111", [1, 2, 3]))
    assert necessity_edits(claim, coverage) == []


def test_only_pointed_diagnoses_count(coverage):
    # E119 is on the claim but the line does not point at it.
    claim = make_claim(["J069", "E119"], ("11111", [1]))
    assert codes_of(necessity_edits(claim, coverage)) == [("COD040", 1)]


def test_policies_are_per_payer(coverage):
    claim = make_claim(["E119"], ("11111", [1]), payer="ACME")
    assert codes_of(necessity_edits(claim, coverage)) == [("COD040", 1)]
    assert necessity_edits(make_claim(["Z0000"], ("11111", [1]), payer="ACME"), coverage) == []


def test_procedures_without_a_policy_pass(coverage):
    assert necessity_edits(make_claim(["J069"], ("33333", [1])), coverage) == []
    assert necessity_edits(make_claim(["J069"], ("11111", [1]), payer="OTHER"), coverage) == []


def test_self_pay_claims_are_not_checked(coverage):
    assert necessity_edits(make_claim(["J069"], ("11111", [1]), payer=None), coverage) == []


def test_line_of_a_claim_without_diagnoses_is_not_covered(coverage):
    # Pointer 1 is allowed by the contract when there are no diagnoses; nothing supports the procedure.
    assert codes_of(necessity_edits(make_claim([], ("11111", [1])), coverage)) == [("COD040", 1)]


def test_empty_table_passes_everything():
    assert necessity_edits(make_claim(["J069"], ("11111", [1])), CoverageTable()) == []
