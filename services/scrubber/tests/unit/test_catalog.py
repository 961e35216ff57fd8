"""The edit catalog (rcm_scrubber.domain.catalog): stable ids, 837P references, parameters, place of service."""

from __future__ import annotations

import re
from datetime import date

import pytest
from pydantic import ValidationError

from rcm_scrubber.domain.catalog import (
    CATALOG,
    CATALOG_BY_ID,
    PLACES_OF_SERVICE,
    AuthorizationParameters,
    TaxonomyParameters,
    TimelyFilingParameters,
    normalize_code_patterns,
    place_of_service_valid,
)
from rcm_scrubber.domain.rule_sets import DEFAULT_RULE_SET


def test_ids_are_unique_and_numbered_without_gaps():
    assert [d.id for d in CATALOG] == [f"SCR{n:03d}" for n in range(1, len(CATALOG) + 1)]
    assert len(CATALOG_BY_ID) == len(CATALOG)


@pytest.mark.parametrize("edit_id,field,segment", [
    ("SCR001", "billing_provider.npi", "2010AA NM109"),
    ("SCR002", "rendering_provider.npi", "2310B NM109"),
    ("SCR003", "coverage", None),
    ("SCR004", "service_date", "2400 DTP*472"),
    ("SCR005", "total_charge", "2300 CLM02"),
    ("SCR006", "charge", "2400 SV102"),
])
def test_the_first_six_ids_keep_their_meaning(edit_id, field, segment):
    definition = CATALOG_BY_ID[edit_id]
    assert definition.field == field and definition.severity == "error"
    if segment:
        assert definition.segment == segment


def test_every_definition_is_complete():
    for d in CATALOG:
        assert d.severity in ("error", "warning"), d.id
        assert d.title and d.message and d.segment, d.id
        assert re.match(r"^\d{4}[A-Z]{0,2}[ /]", d.segment), d.id  # starts with an 837P loop


def test_every_message_ends_with_a_reference_into_its_segment():
    for d in CATALOG:
        ref = re.search(r"\(([^()]*)\)$", d.message)
        assert ref, d.id
        tokens = {t for t in re.split(r"[^0-9A-Z*\-]+", ref.group(1)) if t and t not in ("-",)}
        assert any(t in d.segment for t in tokens), (d.id, ref.group(1), d.segment)


def test_messages_address_the_biller_not_the_claim_data():
    # Templates may name parameters only; nothing else is ever formatted into them.
    for d in CATALOG:
        names = set(re.findall(r"\{(\w+)\}", d.message))
        source = CATALOG_BY_ID[d.parameters_from] if d.parameters_from else d
        allowed = set(source.parameters.model_fields) if source.parameters else set()
        assert names <= allowed, d.id


def test_default_messages_are_fully_formatted():
    for edit in DEFAULT_RULE_SET.edits:
        assert "{" not in edit.message and "}" not in edit.message, edit.id
    assert "365 days" in DEFAULT_RULE_SET.active("SCR032").message
    assert "30 days" in DEFAULT_RULE_SET.active("SCR033").message


def test_shared_parameters_point_at_an_edit_that_has_them():
    for d in CATALOG:
        if d.parameters_from:
            assert d.parameters is None
            assert CATALOG_BY_ID[d.parameters_from].parameters is not None


def test_warnings_by_default_are_the_ones_payers_may_accept():
    assert {d.id for d in CATALOG if d.severity == "warning"} == {"SCR019", "SCR022", "SCR033"}


# ---------------------------------------------------------------- parameters


def test_parameter_defaults():
    assert TimelyFilingParameters() == TimelyFilingParameters(timely_filing_days=365, warning_days=30)
    assert TaxonomyParameters().required is False
    assert AuthorizationParameters().auth_required_codes == ()


@pytest.mark.parametrize("values", [{"timely_filing_days": 0}, {"warning_days": -1}, {"timely_filing_days": "a"},
                                    {"limit": 90}])
def test_timely_filing_parameters_are_validated(values):
    with pytest.raises(ValidationError):
        TimelyFilingParameters.model_validate(values)


def test_code_patterns_are_normalized():
    assert normalize_code_patterns([" 72148 ", "j1100", "7014*"]) == ("72148", "J1100", "7014*")


@pytest.mark.parametrize("pattern", ["", "*", "72*48", "**", "72 48", "7214-8", "７２１４８"])
def test_malformed_code_patterns_are_refused(pattern):
    with pytest.raises(ValueError):
        normalize_code_patterns([pattern])


@pytest.mark.parametrize("code,needed", [("72148", True), ("70140", True), ("7014", True), ("70150", False),
                                         ("99214", False), (" j1100 ", True)])
def test_authorization_codes_match_exactly_or_by_prefix(code, needed):
    params = AuthorizationParameters(auth_required_codes=("72148", "7014*", "J1100"))
    assert params.requires_authorization(code) is needed


# ---------------------------------------------------------------- place of service


def test_place_of_service_table_holds_two_digit_codes():
    assert all(re.fullmatch(r"\d{2}", code) for code in PLACES_OF_SERVICE)
    assert {"11", "12", "21", "22", "23", "02", "10", "99"} <= PLACES_OF_SERVICE.keys()


@pytest.mark.parametrize("code", ["00", "28", "30", "35", "43", "59", "63", "67", "73", "80", "82", "98"])
def test_unassigned_places_of_service_are_invalid(code):
    assert place_of_service_valid(code, date(2026, 1, 1)) is False


@pytest.mark.parametrize("code,first_day", [("10", date(2022, 1, 1)), ("27", date(2023, 10, 1)),
                                            ("58", date(2020, 1, 1)), ("02", date(2017, 1, 1)),
                                            ("19", date(2016, 1, 1))])
def test_newer_places_of_service_are_valid_from_their_effective_date(code, first_day):
    assert place_of_service_valid(code, first_day) is True
    assert place_of_service_valid(code, date.fromordinal(first_day.toordinal() - 1)) is False


def test_established_places_of_service_are_always_valid():
    assert place_of_service_valid("11", date(1999, 1, 1)) is True
