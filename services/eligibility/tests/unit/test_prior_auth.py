"""Prior-authorization requirements (rcm_eligibility.domain.prior_auth): rule table, 271 path, ELG020."""

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from rcm_contracts.claim import Claim, Coverage
from rcm_eligibility.domain.prior_auth import (
    AuthRequirement,
    AuthRule,
    AuthRuleTable,
    auth_requirements,
    code_matches,
    missing_authorizations,
    service_type_for,
)
from tests.support import claims

RULES_CSV = """payer_id,procedure_code,place_of_service,min_units,description
SBX01,70551,,,MRI brain without contrast
SBX01,7014*,,,CT head and neck family

SBX01,97110,,13,Therapeutic exercise over 12 units
,27447,21|22,,Total knee arthroplasty in a hospital (any payer)
OTHER,99213,,,Office visit (another payer only)
SBX01,j1745|J0135,,,"Biologics: infliximab, adalimumab"
"""
TABLE = AuthRuleTable.from_csv(RULES_CSV)
COVERAGE = Coverage(payer_id="SBX01", payer_name="Sandbox Health Plan", member_id="M123")
_DEFAULT = object()


def make_claim(*lines: tuple[str, str], pos="11", coverage=_DEFAULT) -> Claim:
    """lines: (procedure_code, units) per line."""
    return claims.make_claim(
        service_date=date(2026, 3, 14), place_of_service=pos, diagnoses=["M1711"],
        coverage=COVERAGE if coverage is _DEFAULT else coverage,
        lines=[claims.make_line(i, code, "100.00", units=units) for i, (code, units) in enumerate(lines, start=1)],
    )


def needing(claim, table=TABLE, **kw) -> list[int]:
    return [r.line_number for r in auth_requirements(claim, table, **kw)]


# ---------------------------------------------------------------- CSV loader


def test_csv_loader_reads_blanks_as_any_and_skips_blank_lines():
    assert len(TABLE.rules) == 6
    knee = TABLE.rules[3]
    assert knee.payer_id is None
    assert knee.procedure_codes == ("27447",)
    assert knee.places_of_service == frozenset({"21", "22"})
    assert knee.min_units is None
    mri = TABLE.rules[0]
    assert (mri.payer_id, mri.places_of_service) == ("SBX01", frozenset())
    assert mri.description == "MRI brain without contrast"
    assert TABLE.rules[2].min_units == Decimal(13)


def test_csv_loader_keeps_prefixes_upper_cases_codes_and_reads_quoted_commas():
    assert TABLE.rules[1].procedure_codes == ("7014*",)
    assert TABLE.rules[5].procedure_codes == ("J1745", "J0135")
    assert TABLE.rules[5].description == "Biologics: infliximab, adalimumab"


def test_csv_loader_tolerates_bom_and_padded_header():
    table = AuthRuleTable.from_csv("\ufeffpayer_id, procedure_code ,place_of_service,min_units,description\n"
                                   " SBX01 , 70551 ,, ,MRI\n")
    assert table.rules[0].payer_id == "SBX01" and table.rules[0].procedure_codes == ("70551",)


def test_csv_row_with_every_cell_blank_except_description_requires_auth_for_everything():
    table = AuthRuleTable.from_csv("payer_id,procedure_code,place_of_service,min_units,description\n,,,,all\n")
    assert needing(make_claim(("99213", "1"), ("36415", "1")), table) == [1, 2]


@pytest.mark.parametrize("csv_text, fragment", [
    ("payer,code\nSBX01,70551\n", "header"),
    ("", "header"),
    ("payer_id,procedure_code,place_of_service,min_units,description\nSBX01,70551,,many,MRI\n", "line 2"),
    ("payer_id,procedure_code,place_of_service,min_units,description\nSBX01,70551,,0,MRI\n", "line 2"),
    ("payer_id,procedure_code,place_of_service,min_units,description\nSBX01,70551,1,,MRI\n", "line 2"),
    ("payer_id,procedure_code,place_of_service,min_units,description\n\nSBX01,7*551,,,MRI\n", "line 3"),
    ("payer_id,procedure_code,place_of_service,min_units,description\nSBX01,70551,,,MRI, brain\n", "line 2"),
])
def test_csv_loader_rejects_bad_rows_naming_the_line(csv_text, fragment):
    with pytest.raises(ValueError, match=fragment):
        AuthRuleTable.from_csv(csv_text)


def test_rule_rejects_wildcard_inside_code():
    with pytest.raises(ValidationError):
        AuthRule(payer_id="SBX01", procedure_codes=("7*14",))


@pytest.mark.parametrize("pattern, code, ok", [
    ("70551", "70551", True), ("70551", "70552", False), ("7014*", "70140", True), ("7014*", "70150", False),
    ("J*", "j1745", True), ("*", "99213", True), ("70551", " 70551 ", True),
])
def test_code_matches_exact_or_prefix(pattern, code, ok):
    assert code_matches(pattern, code) is ok


# ---------------------------------------------------------------- rule table path


def test_exact_code_rule_flags_only_that_line():
    reqs = auth_requirements(make_claim(("99213", "1"), ("70551", "1")), TABLE)
    assert [(r.line_number, r.procedure_code, r.service_type) for r in reqs] == [(2, "70551", None)]
    assert reqs[0].rule == TABLE.rules[0]
    assert reqs[0].reason == "payer rule: MRI brain without contrast"


def test_prefix_rule_flags_the_code_family():
    assert needing(make_claim(("70140", "1"), ("70142", "1"), ("70150", "1"))) == [1, 2]


def test_rules_of_another_payer_do_not_apply():
    assert needing(make_claim(("99213", "1"))) == []
    other = Coverage(payer_id="other", payer_name="Other Plan", member_id="Z9")
    assert needing(make_claim(("99213", "1"), coverage=other)) == [1]  # payer ids compare case-insensitively


def test_any_payer_rule_applies_to_every_payer():
    other = Coverage(payer_id="ANOTHER", payer_name="Another Plan", member_id="Z9")
    assert needing(make_claim(("27447", "1"), pos="21", coverage=other)) == [1]


@pytest.mark.parametrize("pos, needs", [("21", True), ("22", True), ("24", False), ("11", False)])
def test_place_of_service_restricts_the_rule(pos, needs):
    assert needing(make_claim(("27447", "1"), pos=pos)) == ([1] if needs else [])


@pytest.mark.parametrize("units, needs", [("12", False), ("12.5", False), ("13", True), ("20", True)])
def test_units_threshold_is_inclusive(units, needs):
    assert needing(make_claim(("97110", units))) == ([1] if needs else [])


def test_lowercase_claim_codes_match_upper_case_rules():
    assert needing(make_claim(("j1745", "1"), ("J0135", "1"))) == [1, 2]


def test_first_matching_rule_is_the_reason():
    table = AuthRuleTable(rules=(AuthRule(procedure_codes=("7055*",), description="advanced imaging"),
                                 AuthRule(payer_id="SBX01", procedure_codes=("70551",), description="MRI")))
    assert auth_requirements(make_claim(("70551", "1")), table)[0].rule.description == "advanced imaging"


def test_self_pay_claim_needs_no_authorization():
    claim = make_claim(("70551", "1"), coverage=None)
    assert auth_requirements(claim, TABLE, payer_says_auth_required={"30"}) == []


def test_empty_table_and_no_271_flags_need_nothing():
    assert needing(make_claim(("70551", "1")), AuthRuleTable()) == []


# ---------------------------------------------------------------- 271 authorization indicator path


def test_271_indicator_on_default_service_type_30_flags_every_line():
    reqs = auth_requirements(make_claim(("99213", "1"), ("36415", "1")), AuthRuleTable(),
                             payer_says_auth_required={"30"})
    assert [(r.line_number, r.rule, r.service_type) for r in reqs] == [(1, None, "30"), (2, None, "30")]
    assert reqs[0].reason == "271 authorization indicator for service type 30"


def test_271_indicator_for_another_service_type_does_not_flag_unmapped_lines():
    assert needing(make_claim(("99213", "1")), AuthRuleTable(), payer_says_auth_required={"MH"}) == []


def test_271_indicator_uses_the_procedure_to_service_type_mapping():
    service_types = {"90837": "MH", "7*": "4", "70551": "62"}  # psychotherapy, diagnostic x-ray, MRI
    claim = make_claim(("90837", "1"), ("99213", "1"), ("70551", "1"), ("71046", "1"))
    assert needing(claim, AuthRuleTable(), payer_says_auth_required={"MH", "62"}, service_types=service_types) == [1, 3]
    assert needing(claim, AuthRuleTable(), payer_says_auth_required={"4"}, service_types=service_types) == [4]
    assert needing(claim, AuthRuleTable(), payer_says_auth_required={"30"}, service_types=service_types) == [2]


def test_rule_and_271_together_give_both_reasons_once_per_line():
    reqs = auth_requirements(make_claim(("70551", "1")), TABLE, payer_says_auth_required={"30"})
    assert len(reqs) == 1
    assert reqs[0].reason == "payer rule: MRI brain without contrast; 271 authorization indicator for service type 30"


@pytest.mark.parametrize("code, expected", [("90837", "MH"), ("70551", "62"), ("70552", "4"), ("72148", "4"),
                                            ("99213", "30"), ("j1745", "30")])
def test_service_type_for_prefers_exact_then_longest_prefix_then_30(code, expected):
    assert service_type_for(code, {"90837": "MH", "7*": "5", "70551": "62", "70*": "4", "72*": "4"}) == expected


def test_service_type_defaults_to_30_without_mapping():
    assert service_type_for("90837", None) == "30" and service_type_for("90837", {}) == "30"


# ---------------------------------------------------------------- missing authorizations (ELG020)


CLAIM = make_claim(("99213", "1"), ("70551", "1"), ("70140", "1"))
REQS = auth_requirements(CLAIM, TABLE)


def test_no_authorization_numbers_gives_an_error_per_line_needing_one():
    edits = missing_authorizations(CLAIM, REQS, None)
    assert [(e.code, e.severity, e.line_number) for e in edits] == [("ELG020", "error", 2), ("ELG020", "error", 3)]
    msg = edits[0].message
    assert "line 2" in msg and "70551" in msg and "MRI brain without contrast" in msg
    assert "obtain prior authorization" in msg and "before the visit" in msg and "REF*G1" in msg
    assert "Ada" not in msg and "M123" not in msg


def test_claim_level_authorization_number_covers_every_line():
    assert missing_authorizations(CLAIM, REQS, "AUTH-778899") == []


def test_blank_claim_level_number_is_no_authorization():
    assert [e.line_number for e in missing_authorizations(CLAIM, REQS, "  ")] == [2, 3]


def test_per_line_authorization_numbers_leave_only_uncovered_lines():
    edits = missing_authorizations(CLAIM, REQS, {2: "A1", 3: " ", 1: "unneeded"})
    assert [e.line_number for e in edits] == [3]


def test_no_requirements_means_no_edits():
    assert missing_authorizations(CLAIM, [], None) == []


def test_requirements_for_lines_not_on_the_claim_are_ignored():
    stale = AuthRequirement(line_number=9, procedure_code="70551", service_type="30")
    assert missing_authorizations(CLAIM, [stale], None) == []


def test_271_only_requirement_message_names_the_service_type():
    reqs = auth_requirements(make_claim(("99213", "1")), AuthRuleTable(), payer_says_auth_required={"30"})
    (edit,) = missing_authorizations(make_claim(("99213", "1")), reqs, {})
    assert "service type 30" in edit.message and edit.field == "authorization_number"
