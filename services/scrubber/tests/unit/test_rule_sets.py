"""Rule sets (rcm_scrubber.domain.rule_sets): parsing with reasons, overlay of tenant and payer sets,
versions and effective dates, custom declarative rules, and their effect through the engine."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from rcm_contracts.claim import Address, Claim, Person, ServiceLine
from rcm_scrubber.domain.catalog import CATALOG
from rcm_scrubber.domain.engine import ScrubContext, decision, scrub
from rcm_scrubber.domain.rule_sets import (
    DEFAULT_RULE_SET,
    CompiledRule,
    CustomRule,
    RuleSetError,
    RuleSetLibrary,
    RuleSetRef,
    compile_rule_set,
    default_document,
    parse_rule_set,
)
from tests.support import claims

TENANT = "tenant-a"
TODAY = date(2026, 3, 20)
DOS = date(2026, 3, 14)


def document(**fields: Any) -> dict[str, Any]:
    return {"tenant_id": TENANT, "version": 1, "effective_from": "2026-01-01", **fields}


def ruleset(**fields: Any):
    return compile_rule_set(parse_rule_set(document(**fields)))


def line(n: int, code: str, *, modifiers: tuple[str, ...] = (), units: str = "1", charge: str = "100.00",
         pointers: tuple[int, ...] = (1,)) -> ServiceLine:
    return claims.make_line(n, code, charge, units=units, modifiers=modifiers, pointers=pointers)


def make_claim(*, lines: list[ServiceLine] | None = None, payer_id: str | None = "SBX01", **updates: Any) -> Claim:
    lines = lines or [line(1, "99214")]
    fields: dict[str, Any] = dict(
        service_date=DOS,
        patient=claims.make_patient(sex="F", address=claims.make_address(line1="2 Elm St", city="Boston", state="MA",
                                                                        postal_code="02110")),
        coverage=claims.make_coverage(payer_id=payer_id, payer_name="Plan", member_id="M123") if payer_id else None,
        billing_provider=claims.make_provider(name="Practice", tax_id="123456789",
                                              address=claims.make_address(line1="1 Main St", city="Boston", state="MA",
                                                                          postal_code="021101234")),
        diagnoses=["E11.9", "I10", "Z0000"], lines=lines,
        total_charge=sum((ln.charge for ln in lines), Decimal(0)),
    )
    fields.update(updates)
    return claims.make_claim(**fields)


def scrub_with(claim: Claim, rule_set) -> list:
    return scrub(claim, context=ScrubContext(today=TODAY, tenant_id=TENANT, rule_set=rule_set))


def reasons(exc: pytest.ExceptionInfo[RuleSetError]) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in exc.value.errors}


# ---------------------------------------------------------------- parsing


def test_minimal_tenant_document():
    doc = parse_rule_set(document())
    assert doc.payer_id is None and doc.version == 1 and doc.effective_from == date(2026, 1, 1)
    assert doc.custom_rules == () and doc.setting("SCR001") is None


def test_json_text_parses_like_an_object():
    text = json.dumps(document(payer_id="sbx01", edits={"SCR019": {"enabled": False}}))
    assert parse_rule_set(text) == parse_rule_set(json.loads(text))
    assert parse_rule_set(text.encode()).payer_id == "SBX01"  # payer ids compare case-blind


def test_edit_settings_and_parameters_are_typed():
    doc = parse_rule_set(document(edits={"SCR032": {"severity": "warning", "parameters": {"timely_filing_days": 90}},
                                         "SCR035": {"parameters": {"auth_required_codes": ["72148", "7014*"]}}}))
    assert doc.setting("SCR032").severity == "warning"
    assert doc.setting("SCR032").parameters.timely_filing_days == 90
    assert doc.setting("SCR035").parameters.auth_required_codes == ("72148", "7014*")


def test_unknown_edit_id_is_refused_with_its_name():
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(edits={"SCR999": {"enabled": False}}))
    assert reasons(exc) == {"edits.SCR999": "unknown edit id 'SCR999': the catalog has SCR001..SCR037"}


def test_unknown_condition_is_refused_with_the_vocabulary():
    rule = {"id": "R1", "when": {"procedure_code_in": ["99214"]}, "message": "m"}
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(custom_rules=[rule]))
    reason = reasons(exc)["custom_rules.0.when.procedure_code_in"]
    assert reason.startswith("unknown condition 'procedure_code_in'") and "procedure_codes" in reason


@pytest.mark.parametrize("when,field", [
    ({"place_of_service": ["77"]}, "place_of_service"),
    ({"place_of_service": []}, "place_of_service"),
    ({"missing_modifier_any": ["255"]}, "missing_modifier_any"),
    ({"procedure_codes": ["99*14"]}, "procedure_codes"),
    ({"procedure_codes": ["99 14"]}, "procedure_codes"),
    ({"diagnosis_codes": ["E11-9"]}, "diagnosis_codes"),
    ({"units_above": -1}, "units_above"),
    ({"charge_above": "lots"}, "charge_above"),
    ({"missing_prior_authorization": False}, "missing_prior_authorization"),
    ({"payer_id": [""]}, "payer_id"),
])
def test_bad_condition_values_are_refused(when, field):
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(custom_rules=[{"id": "R1", "when": when, "message": "m"}]))
    assert f"custom_rules.0.when.{field}" in reasons(exc)


@pytest.mark.parametrize("when", [{}, {"units_above": None}])
def test_a_rule_without_conditions_is_refused(when):
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(custom_rules=[{"id": "R1", "when": when, "message": "m"}]))
    assert reasons(exc)["custom_rules.0.when"].startswith("a rule needs at least one condition")


@pytest.mark.parametrize("rule_id", ["SCR900", "scr1", "COD-X", "ELG020", "", "has space", "x" * 65])
def test_custom_rule_ids_reserved_or_malformed_are_refused(rule_id):
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(custom_rules=[{"id": rule_id, "when": {"units_above": 1}, "message": "m"}]))
    assert "custom_rules.0.id" in reasons(exc)


def test_duplicate_custom_rule_ids_are_refused():
    rule = {"id": "R1", "when": {"units_above": 1}, "message": "m"}
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(custom_rules=[rule, rule]))
    assert reasons(exc) == {"custom_rules": "custom rule id 'R1' is used twice"}


def test_parameters_are_validated_by_the_edit():
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(edits={
            "SCR001": {"parameters": {"x": 1}},
            "SCR033": {"parameters": {"warning_days": 5}},
            "SCR032": {"parameters": {"timely_filing_days": 0, "grace_days": 3}},
            "SCR035": {"parameters": {"auth_required_codes": ["72*48"]}},
            "SCR019": {"severity": "fatal"},
        }))
    assert reasons(exc) == {
        "edits.SCR001.parameters": "this edit has no parameters",
        "edits.SCR033.parameters": "this edit takes its parameters from SCR032",
        "edits.SCR032.parameters.timely_filing_days": "Input should be greater than or equal to 1",
        "edits.SCR032.parameters.grace_days": "unknown key 'grace_days'",
        "edits.SCR035.parameters.auth_required_codes": "procedure code pattern '72*48': '*' is only allowed at the end",
        "edits.SCR019.severity": "Input should be 'error' or 'warning'",
    }


@pytest.mark.parametrize("fields,field", [
    ({"version": 0}, "version"), ({"tenant_id": ""}, "tenant_id"), ({"payer_id": "  "}, "payer_id"),
    ({"effective_from": "soon"}, "effective_from"), ({"rules": []}, "rules"),
])
def test_document_fields_are_checked(fields, field):
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(**fields))
    assert field in reasons(exc)


def test_every_problem_is_listed_at_once():
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(version=0, edits={"SCR999": {}}, custom_rules=[{"id": "R", "when": {}, "message": ""}]))
    assert len(exc.value.errors) >= 4
    assert all(set(e) == {"field", "reason"} for e in exc.value.errors)


def test_invalid_json_is_a_rule_set_error():
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set("{not json")
    assert exc.value.errors[0]["field"] == "document"
    assert isinstance(exc.value, ValueError)


def test_blank_message_is_refused():
    with pytest.raises(RuleSetError) as exc:
        parse_rule_set(document(custom_rules=[{"id": "R1", "when": {"units_above": 1}, "message": "   "}]))
    assert reasons(exc) == {"custom_rules.0.message": "message must say what to fix"}


# ---------------------------------------------------------------- built-in defaults


def test_default_rule_set_runs_every_catalog_edit_at_its_default_severity():
    assert [(e.id, e.severity) for e in DEFAULT_RULE_SET.edits] == [(d.id, d.severity) for d in CATALOG]
    assert DEFAULT_RULE_SET.custom_rules == () and DEFAULT_RULE_SET.sources == ()


def test_default_document_round_trips_and_compiles_to_the_defaults():
    doc = default_document(TENANT)
    again = parse_rule_set(doc.model_dump_json())
    assert again == doc
    compiled = compile_rule_set(again)
    assert [(e.id, e.severity, e.message, e.parameters) for e in compiled.edits] == \
        [(e.id, e.severity, e.message, e.parameters) for e in DEFAULT_RULE_SET.edits]


# ---------------------------------------------------------------- overlay


def test_tenant_default_disables_and_overrides_severity():
    compiled = ruleset(edits={"SCR019": {"enabled": False}, "SCR010": {"severity": "warning"}})
    assert compiled.active("SCR019") is None
    assert compiled.active("SCR010").severity == "warning"
    assert compiled.active("SCR001").severity == "error"


def test_payer_layer_overrides_the_tenant_layer_field_by_field():
    tenant = parse_rule_set(document(edits={
        "SCR019": {"enabled": False, "severity": "error"},
        "SCR032": {"parameters": {"timely_filing_days": 180, "warning_days": 10}},
        "SCR035": {"parameters": {"auth_required_codes": ["72148"]}},
    }))
    payer = parse_rule_set(document(payer_id="SBX01", edits={
        "SCR019": {"enabled": True},
        "SCR032": {"parameters": {"timely_filing_days": 90}},
        "SCR035": {"parameters": {"auth_required_codes": ["7014*"]}},
    }))
    compiled = compile_rule_set(tenant, payer)
    assert compiled.active("SCR019").severity == "error"  # enabled by the payer, severity from the tenant
    assert compiled.active("SCR032").parameters.timely_filing_days == 90
    assert compiled.active("SCR032").parameters.warning_days == 10  # kept from the tenant
    assert compiled.active("SCR033").parameters == compiled.active("SCR032").parameters
    assert compiled.active("SCR035").parameters.auth_required_codes == ("7014*",)  # lists replace
    assert compiled.sources == (RuleSetRef(TENANT, None, 1), RuleSetRef(TENANT, "SBX01", 1))


def test_disabling_the_timely_filing_error_keeps_the_warning_window():
    compiled = ruleset(edits={"SCR032": {"enabled": False, "parameters": {"timely_filing_days": 60}}})
    assert compiled.active("SCR032") is None
    assert compiled.active("SCR033").parameters.timely_filing_days == 60


def test_severity_override_changes_the_decision():
    claim = make_claim(patient=Person(first_name="Ada", last_name="Lovelace", birth_date=date(1980, 1, 2),
                                      address=Address(line1="2 Elm St", city="Boston", state="MA", postal_code="02110")))
    assert decision(scrub_with(claim, DEFAULT_RULE_SET)) == "clean"  # sex unknown: a warning
    strict = ruleset(edits={"SCR019": {"severity": "error"}})
    edits = scrub_with(claim, strict)
    assert [(e.code, e.severity) for e in edits] == [("SCR019", "error")]
    assert decision(edits) == "review"


def test_custom_rules_overlay_by_id():
    tenant = parse_rule_set(document(custom_rules=[
        {"id": "R-A", "when": {"units_above": 1}, "message": "a"},
        {"id": "R-B", "when": {"units_above": 2}, "message": "b"},
    ]))
    payer = parse_rule_set(document(payer_id="SBX01", custom_rules=[
        {"id": "R-A", "when": {"units_above": 3}, "message": "a for this payer", "severity": "warning"},
        {"id": "R-B", "enabled": False, "when": {"units_above": 2}, "message": "b"},
        {"id": "R-C", "when": {"units_above": 4}, "message": "c"},
    ]))
    compiled = compile_rule_set(tenant, payer)
    assert [(r.id, r.message, r.severity) for r in compiled.custom_rules] == [
        ("R-A", "a for this payer", "warning"), ("R-C", "c", "error")]


# ---------------------------------------------------------------- versions and resolution


def library(*docs: dict[str, Any]) -> RuleSetLibrary:
    return RuleSetLibrary([parse_rule_set(d) for d in docs])


def _v(version: int, effective_from: str, payer_id: str | None = None, **edits: Any) -> dict[str, Any]:
    return document(version=version, effective_from=effective_from, payer_id=payer_id, edits=edits)


def test_highest_version_in_force_on_the_date_of_service_applies():
    lib = library(_v(1, "2025-01-01", SCR019={"severity": "error"}),
                  _v(2, "2026-01-01", SCR019={"enabled": False}),
                  _v(3, "2027-01-01", SCR010={"enabled": False}))
    assert lib.select(TENANT, None, date(2024, 12, 31)) is None
    assert lib.select(TENANT, None, date(2025, 6, 1)).version == 1
    assert lib.select(TENANT, None, date(2026, 1, 1)).version == 2
    assert lib.select(TENANT, None, date(2027, 3, 1)).version == 3
    assert lib.effective(TENANT, None, on=date(2024, 12, 31)) is DEFAULT_RULE_SET
    assert lib.effective(TENANT, None, on=date(2025, 6, 1)).active("SCR019").severity == "error"
    assert lib.effective(TENANT, None, on=date(2026, 6, 1)).active("SCR019") is None


def test_a_higher_version_with_an_earlier_start_supersedes():
    lib = library(_v(2, "2026-01-01", SCR019={"enabled": False}), _v(3, "2025-01-01", SCR010={"enabled": False}))
    assert lib.select(TENANT, None, date(2026, 6, 1)).version == 3


def test_the_claims_date_of_service_selects_the_version_not_today():
    lib = library(_v(1, "2025-01-01"), _v(2, "2026-03-15", SCR019={"enabled": False}))
    assert lib.for_claim(make_claim(service_date=date(2026, 3, 14)), TENANT).sources[0].version == 1
    assert lib.for_claim(make_claim(service_date=date(2026, 3, 15)), TENANT).sources[0].version == 2


def test_payer_set_applies_to_that_payer_only():
    lib = library(_v(1, "2025-01-01", SCR019={"severity": "error"}),
                  _v(1, "2025-01-01", payer_id="SBX01", SCR019={"enabled": False}))
    assert lib.for_claim(make_claim(payer_id="SBX01"), TENANT).active("SCR019") is None
    assert lib.for_claim(make_claim(payer_id="sbx01 "), TENANT).active("SCR019") is None
    assert lib.for_claim(make_claim(payer_id="SBX02"), TENANT).active("SCR019").severity == "error"
    assert lib.for_claim(make_claim(payer_id=None), TENANT).active("SCR019").severity == "error"


def test_a_payer_set_without_a_tenant_default_overlays_the_builtins():
    lib = library(_v(4, "2025-01-01", payer_id="SBX01", SCR019={"enabled": False}))
    compiled = lib.for_claim(make_claim(), TENANT)
    assert compiled.active("SCR019") is None and compiled.active("SCR001") is not None
    assert compiled.sources == (RuleSetRef(TENANT, "SBX01", 4),)


def test_a_payer_set_not_yet_in_force_falls_back_to_the_tenant_default():
    lib = library(_v(1, "2025-01-01"), _v(1, "2026-06-01", payer_id="SBX01", SCR019={"enabled": False}))
    compiled = lib.for_claim(make_claim(), TENANT)
    assert compiled.active("SCR019") is not None
    assert compiled.sources == (RuleSetRef(TENANT, None, 1),)


def test_other_tenants_are_untouched():
    lib = library(_v(1, "2025-01-01", SCR019={"enabled": False}))
    assert lib.for_claim(make_claim(), "tenant-b") is DEFAULT_RULE_SET


def test_duplicate_versions_are_refused():
    with pytest.raises(RuleSetError) as exc:
        library(_v(1, "2025-01-01"), _v(1, "2026-01-01"))
    assert exc.value.errors[0]["field"] == "version"


def test_compiled_sets_are_reused_across_claims():
    lib = library(_v(1, "2025-01-01"), _v(1, "2025-01-01", payer_id="SBX01", SCR019={"enabled": False}))
    first = lib.for_claim(make_claim(), TENANT)
    assert lib.for_claim(make_claim(service_date=date(2026, 2, 1)), TENANT) is first
    other = lib.for_claim(make_claim(payer_id="SBX02"), TENANT)
    assert lib.for_claim(make_claim(payer_id="SBX03"), TENANT) is other  # same tenant default, no payer set


# ---------------------------------------------------------------- custom rule conditions


def compiled_rule(when: dict[str, Any], **rule: Any) -> CompiledRule:
    return CompiledRule.of(CustomRule.model_validate({"id": "R1", "when": when, "message": "m", **rule}))


@pytest.mark.parametrize("when,lines,expected", [
    ({"procedure_codes": ["99214"]}, [line(1, "99214"), line(2, "36415")], [1]),
    ({"procedure_codes": ["7014*", "36415"]}, [line(1, "70140"), line(2, "36415"), line(3, "99214")], [1, 2]),
    ({"modifier_any": ["25", "59"]}, [line(1, "99214", modifiers=("25",)), line(2, "36415")], [1]),
    ({"missing_modifier_any": ["25"]}, [line(1, "99214", modifiers=("25",)), line(2, "99213")], [2]),
    ({"missing_modifier_any": ["GT", "95"]}, [line(1, "99214", modifiers=("95",)), line(2, "99213", modifiers=("GT",)),
                                              line(3, "99212", modifiers=("25",))], [3]),
    ({"units_above": 2}, [line(1, "97110", units="2"), line(2, "97110", units="3")], [2]),
    ({"charge_above": "500"}, [line(1, "72148", charge="500.00"), line(2, "72148", charge="500.01")], [2]),
    ({"diagnosis_codes": ["E11"]}, [line(1, "99214", pointers=(1,)), line(2, "99213", pointers=(2, 3))], [1]),
    ({"diagnosis_codes": ["e11.9"]}, [line(1, "99214", pointers=(2, 1))], [1]),
    ({"missing_diagnosis_codes": ["Z00"]}, [line(1, "99214", pointers=(3,)), line(2, "99213", pointers=(2,))], [2]),
])
def test_line_conditions(when, lines, expected):
    assert compiled_rule(when).hits(make_claim(lines=lines)) == expected


@pytest.mark.parametrize("when,claim_updates,fires", [
    ({"payer_id": "SBX01"}, {}, True),
    ({"payer_id": ["sbx02", "SBX01"]}, {}, True),
    ({"payer_id": "SBX02"}, {}, False),
    ({"payer_id": "SBX01"}, {"payer_id": None}, False),
    ({"place_of_service": ["11", "22"]}, {}, True),
    ({"place_of_service": ["22"]}, {}, False),
    ({"missing_prior_authorization": True}, {}, True),
    ({"missing_prior_authorization": True}, {"prior_authorization": "AUTH-1"}, False),
])
def test_claim_conditions_report_the_claim_once(when, claim_updates, fires):
    claim = make_claim(lines=[line(1, "99214"), line(2, "99213")], **claim_updates)
    assert compiled_rule(when).hits(claim) == ([None] if fires else [])


def test_all_conditions_must_hold():
    rule = compiled_rule({"payer_id": "SBX01", "place_of_service": ["11"], "procedure_codes": ["99214"],
                          "missing_modifier_any": ["25"], "diagnosis_codes": ["E11"]})
    claim = make_claim(lines=[line(1, "99214"), line(2, "99214", modifiers=("25",)), line(3, "99213")])
    assert rule.hits(claim) == [1]
    assert rule.hits(make_claim(lines=[line(1, "99214")], payer_id="SBX02")) == []
    assert rule.hits(make_claim(lines=[line(1, "99214")], place_of_service="22")) == []


def test_denial_rule_from_the_documented_example_runs_through_the_engine():
    compiled = ruleset(payer_id="SBX01", custom_rules=[{
        "id": "DNL-CO-4-99214",
        "when": {"payer_id": "SBX01", "procedure_codes": ["99214"], "place_of_service": ["11"],
                 "missing_modifier_any": ["25"]},
        "severity": "error", "message": "payer denies 99214 without modifier 25 when billed with a procedure (CO-4)",
        "field": "modifiers", "segment": "2400 SV101-3",
    }])
    edits = scrub_with(make_claim(lines=[line(1, "99214"), line(2, "36415")]), compiled)
    assert [(e.code, e.severity, e.line_number, e.field) for e in edits] == [("DNL-CO-4-99214", "error", 1, "modifiers")]
    assert edits[0].message == "line 1: payer denies 99214 without modifier 25 when billed with a procedure (CO-4)"
    assert decision(edits) == "review"
    assert scrub_with(make_claim(lines=[line(1, "99214", modifiers=("25",))]), compiled) == []


def test_claim_level_custom_warning_does_not_block():
    compiled = ruleset(custom_rules=[{"id": "POS-22-REVIEW", "when": {"place_of_service": ["22"]},
                                      "severity": "warning", "message": "check the hospital outpatient setting"}])
    edits = scrub_with(make_claim(place_of_service="22"), compiled)
    assert [(e.code, e.line_number, e.field, e.message) for e in edits] == [
        ("POS-22-REVIEW", None, None, "check the hospital outpatient setting")]
    assert decision(edits) == "clean"


def test_custom_rules_run_after_catalog_edits():
    compiled = ruleset(custom_rules=[{"id": "R1", "when": {"units_above": 0}, "message": "m"}])
    edits = scrub_with(make_claim(coverage=None), compiled)
    assert [e.code for e in edits] == ["SCR003", "R1"]


def test_a_disabled_catalog_edit_does_not_run_for_that_payer():
    lib = library(_v(1, "2025-01-01", payer_id="SBX02", SCR003={"enabled": False}))
    no_coverage = make_claim(payer_id=None)
    assert [e.code for e in scrub_with(no_coverage, lib.for_claim(no_coverage, TENANT))] == ["SCR003"]
    lib2 = library(_v(1, "2025-01-01", payer_id="SBX02", SCR010={"enabled": False}))
    claim = make_claim(payer_id="SBX02")
    claim = claim.model_copy(update={"billing_provider": claim.billing_provider.model_copy(update={"name": None})})
    assert scrub_with(claim, lib2.for_claim(claim, TENANT)) == []
    other = make_claim(payer_id="SBX01")
    other = other.model_copy(update={"billing_provider": other.billing_provider.model_copy(update={"name": None})})
    assert [e.code for e in scrub_with(other, lib2.for_claim(other, TENANT))] == ["SCR010"]
