"""A FHIR export's encounters mapped one by one (read_encounters), the coverage chosen the way FHIR says
(fhir_coverage), and the batch-response Bundle (fhir_response). Pure: no database."""

from __future__ import annotations

import copy
import json

import pytest
from fhir.resources.R4B.bundle import Bundle

from rcm_charges.domain.completeness import missing_items, remaining_issues
from rcm_charges.domain.fhir_bundle import IntakeError, bundle_to_encounter, read_encounters
from rcm_charges.domain.fhir_response import batch_response
from tests.support.fhir_exports import COVERAGE, PATIENT, SHAPES, patient_export

from .test_fhir_bundle import _resource, build_bundle


def _outcomes(bundle: dict) -> list:
    return read_encounters(bundle, source_system="ehr").outcomes


def _coverage_entry(bundle: dict, key: str) -> dict:
    return next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == COVERAGE[key])


def _issues(submission) -> list[str]:
    return [i.field for i in submission.intake_issues]


# ---------------------------------------------------------------- per-encounter outcomes
def test_each_encounter_of_an_export_has_its_own_outcome():
    bundle, expected = patient_export(len(SHAPES), shapes=tuple(SHAPES))

    outcomes = _outcomes(bundle)

    assert [o.source_encounter_id for o in outcomes] == [sid for sid, _ in expected]
    by_shape = {shape: o for o, (_, shape) in zip(outcomes, expected)}
    assert by_shape["bad_code"].submission is None
    assert [e["reason"] for e in by_shape["bad_code"].errors] == ["must be a 5-character CPT/HCPCS code"]
    assert all(o.submission is not None for shape, o in by_shape.items() if shape != "bad_code")


def test_a_rejected_encounter_names_the_field_and_the_others_still_map():
    bundle, expected = patient_export(3, shapes=("focal", "bad_code", "focal"))

    first, bad, third = _outcomes(bundle)

    assert first.submission.coverage.payer_id == "SBX01" and third.submission.coverage.payer_id == "SBX01"
    [error] = bad.errors
    assert error["field"].startswith("Bundle.entry[") and error["field"].endswith(".code.coding[0].code")
    assert bad.source_encounter_id == expected[1][0]


def test_an_invalid_resource_rejects_only_the_encounter_that_uses_it():
    bundle, _ = patient_export(2, shapes=("focal",))
    procedure = next(e["resource"] for e in bundle["entry"] if e["fullUrl"] == "urn:uuid:procedure-1-0")
    procedure["performedDateTime"] = "not a date"

    first, second = _outcomes(bundle)

    assert first.submission is not None
    assert second.submission is None and any("performedDateTime" in e["field"] for e in second.errors)


def test_an_invalid_shared_patient_rejects_every_encounter_without_echoing_it():
    bundle, _ = patient_export(2, shapes=("focal",))
    bundle["entry"][0]["resource"]["birthDate"] = "19-07-1984"

    outcomes = _outcomes(bundle)

    assert all(o.submission is None for o in outcomes)
    assert all(any(e["field"].startswith("Bundle.entry[0].resource.birthDate") for e in o.errors) for o in outcomes)
    assert "19-07-1984" not in json.dumps([o.errors for o in outcomes])


def test_resources_intake_does_not_read_are_not_validated():
    """An export's Observations and ExplanationOfBenefits are carried along: a bad one rejects nothing."""
    bundle, _ = patient_export(2, shapes=("focal",), filler=1)
    observation = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation")
    observation["status"] = 42

    assert all(o.submission is not None for o in _outcomes(bundle))


@pytest.mark.parametrize("bundle, field", [
    ([], "Bundle"),
    ({"resourceType": "Patient"}, "Bundle.resourceType"),
    ({"resourceType": "Bundle", "type": "batch", "entry": {"resource": {}}}, "Bundle.entry"),
    ({"resourceType": "Bundle", "type": "batch", "entry": ["x"]}, "Bundle.entry[0]"),
    ({"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"resourceType": "Nope"}}]},
     "Bundle.entry[0].resource.resourceType"),
    ({"resourceType": "Bundle", "type": "not-a-type", "entry": []}, "Bundle.type"),
    ({"resourceType": "Bundle", "type": "batch", "entry": []}, "Encounter"),
])
def test_only_a_bundle_that_is_not_fhir_or_has_no_encounter_is_rejected_whole(bundle, field):
    with pytest.raises(IntakeError) as caught:
        read_encounters(bundle, source_system="ehr")
    assert caught.value.errors[0]["field"] == field


def test_an_export_of_thousands_of_resources_maps_every_encounter():
    bundle, expected = patient_export(300, shapes=tuple(SHAPES), filler=5)
    assert len(bundle["entry"]) > 3000

    outcomes = _outcomes(bundle)

    assert len(outcomes) == 300
    statuses = [("rejected" if o.submission is None else "self_pay" if o.submission.self_pay
                 else "held" if o.submission.intake_issues else "captured") for o in outcomes]
    assert statuses == [SHAPES[shape] for _, shape in expected]


# ---------------------------------------------------------------- coverage selection
def test_the_focal_insurance_entry_is_the_primary_and_the_next_sequence_the_secondary():
    bundle, _ = patient_export(1, shapes=("focal",))
    [outcome] = _outcomes(bundle)
    assert outcome.submission.coverage.payer_id == "SBX01"
    assert outcome.submission.secondary_coverage.payer_id == "SBX03"
    assert outcome.submission.intake_issues == []


def test_focal_wins_over_a_lower_sequence():
    bundle, _ = patient_export(1, shapes=("focal_second",))
    [outcome] = _outcomes(bundle)
    assert outcome.submission.coverage.payer_id == "SBX01"


def test_without_focal_the_lowest_sequence_is_the_primary():
    bundle, _ = patient_export(1, shapes=("focal_second",))
    claim = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Claim")
    for insurance in claim["insurance"]:
        insurance["focal"] = False
    [outcome] = _outcomes(bundle)
    assert outcome.submission.coverage.payer_id == "SBX03"  # sequence 1 is the supplement here
    assert outcome.submission.secondary_coverage.payer_id == "SBX01"


def test_coverage_order_decides_when_no_claim_names_the_coverage():
    bundle, _ = patient_export(1, shapes=("ambiguous",))
    _coverage_entry(bundle, "supplement")["order"] = 1
    _coverage_entry(bundle, "primary")["order"] = 2
    [outcome] = _outcomes(bundle)
    assert outcome.submission.coverage.payer_id == "SBX03"
    assert outcome.submission.secondary_coverage.payer_id == "SBX01"


def test_two_coverages_with_the_same_lowest_order_are_held_for_the_front_desk():
    bundle, _ = patient_export(1, shapes=("ambiguous",))
    _coverage_entry(bundle, "supplement")["order"] = 1
    _coverage_entry(bundle, "primary")["order"] = 1
    [outcome] = _outcomes(bundle)
    assert outcome.submission.coverage is None and _issues(outcome.submission) == ["coverage"]


def test_the_one_coverage_active_on_the_date_of_service_is_chosen():
    bundle, _ = patient_export(1, shapes=("ambiguous",))
    for key in ("supplement", "self", "no_subscriber"):
        _coverage_entry(bundle, key)["period"] = {"start": "2001-01-01", "end": "2001-12-31"}
    [outcome] = _outcomes(bundle)
    assert outcome.submission.coverage.payer_id == "SBX01" and outcome.submission.intake_issues == []


def test_several_active_coverages_and_no_rule_hold_the_encounter_not_reject_it():
    bundle, _ = patient_export(1, shapes=("ambiguous",))
    [outcome] = _outcomes(bundle)
    submission = outcome.submission
    assert submission.coverage is None and not submission.self_pay
    [issue] = submission.intake_issues
    assert issue.field == "coverage" and "front desk" in issue.reason
    # completeness review asks for the coverage with that reason, not the generic "no payer on file"
    assert [m.field for m in missing_items(submission, [line.charge for line in submission.lines])] == ["coverage"]


def test_no_coverage_active_on_the_date_of_service_is_held():
    bundle, _ = patient_export(1, shapes=("ambiguous",))
    for key in COVERAGE:
        _coverage_entry(bundle, key)["status"] = "cancelled" if key != "primary" else "active"
    _coverage_entry(bundle, "primary")["period"] = {"end": "2001-12-31"}
    [outcome] = _outcomes(bundle)
    [issue] = outcome.submission.intake_issues
    assert issue.field == "coverage" and "active on the date of service" in issue.reason


def test_a_coverage_of_another_patient_is_not_a_candidate():
    bundle, _ = patient_export(1, shapes=("ambiguous",))
    bundle["entry"].append({"fullUrl": "urn:uuid:other-patient", "resource": {
        "resourceType": "Patient", "name": [{"family": "Other", "given": ["Person"]}], "birthDate": "1990-01-01"}})
    for key in ("supplement", "self", "no_subscriber"):
        _coverage_entry(bundle, key)["beneficiary"] = {"reference": "urn:uuid:other-patient"}
    [outcome] = _outcomes(bundle)
    assert outcome.submission.coverage.payer_id == "SBX01"


# ---------------------------------------------------------------- self-pay and held coverages
def test_a_coverage_paid_by_the_patient_makes_a_self_pay_encounter():
    bundle, _ = patient_export(1, shapes=("self_pay",))
    _coverage_entry(bundle, "self").pop("type")  # the payor alone says so
    [outcome] = _outcomes(bundle)
    assert outcome.submission.self_pay and outcome.submission.coverage is None
    assert outcome.submission.intake_issues == []


def test_a_coverage_paid_by_a_related_person_is_self_pay():
    bundle = build_bundle()
    coverage = _resource(bundle, "Coverage")
    coverage["payor"] = [{"reference": "RelatedPerson/mother"}]
    coverage.pop("subscriberId")
    submission = bundle_to_encounter(bundle, source_system="ehr")
    assert submission.self_pay and submission.coverage is None


def test_synthea_no_insurance_and_a_self_pay_extension_are_self_pay_markers():
    bundle = build_bundle()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Coverage"]
    bundle["entry"].append({"fullUrl": "urn:uuid:claim", "resource": {
        "resourceType": "Claim", "status": "active", "use": "claim", "created": "2024-03-05",
        "type": {"coding": [{"code": "professional"}]}, "patient": {"reference": "Patient/pat-1"},
        "provider": {"reference": "Organization/org-1"}, "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "NO_INSURANCE"}}]}})
    assert bundle_to_encounter(copy.deepcopy(bundle), source_system="ehr").self_pay

    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Claim"]
    assert not bundle_to_encounter(copy.deepcopy(bundle), source_system="ehr").self_pay  # nothing says so: held
    _resource(bundle, "Encounter")["extension"] = [
        {"url": "https://openrcm.org/fhir/StructureDefinition/self-pay", "valueBoolean": True}]
    assert bundle_to_encounter(bundle, source_system="ehr").self_pay


def test_a_coverage_without_member_id_is_held_with_the_reason_never_the_value():
    bundle, _ = patient_export(1, shapes=("no_subscriber",))
    [outcome] = _outcomes(bundle)
    [issue] = outcome.submission.intake_issues
    assert issue.field == "coverage.member_id" and "subscriberId" in issue.reason
    assert outcome.submission.coverage is None


def test_a_payor_naming_no_payer_is_held_for_its_payer_id():
    bundle = build_bundle()
    _resource(bundle, "Coverage")["payor"] = [{"reference": "Organization/not-in-the-bundle"}]
    submission = bundle_to_encounter(bundle, source_system="ehr")
    assert [i.field for i in submission.intake_issues] == ["coverage.payer_id"]


def test_a_claim_naming_a_payer_without_a_coverage_resource_is_held_for_the_member_id():
    """Synthea's Claims name the payer by display only: the member id is what the front desk must add."""
    bundle = build_bundle()
    bundle["entry"] = [e for e in bundle["entry"] if e["resource"]["resourceType"] != "Coverage"]
    bundle["entry"].append({"fullUrl": "urn:uuid:claim", "resource": {
        "resourceType": "Claim", "status": "active", "use": "claim", "created": "2024-03-05",
        "type": {"coding": [{"code": "professional"}]}, "patient": {"reference": "Patient/pat-1"},
        "provider": {"reference": "Organization/org-1"}, "priority": {"coding": [{"code": "normal"}]},
        "insurance": [{"sequence": 1, "focal": True, "coverage": {"display": "Medicaid"}}]}})
    submission = bundle_to_encounter(bundle, source_system="ehr")
    assert [i.field for i in submission.intake_issues] == ["coverage.member_id"]


def test_a_fix_supplying_the_coverage_resolves_its_issues_and_self_pay_resolves_them_too():
    issues = [{"field": "coverage.member_id", "reason": "r"}, {"field": "rendering_provider.npi", "reason": "r"}]
    assert remaining_issues(issues, {"coverage": {}}) == [issues[1]]
    assert remaining_issues(issues, {"self_pay": True}) == [issues[1]]
    assert remaining_issues(issues, {"self_pay": False}) == issues
    assert remaining_issues(issues, {"diagnoses": ["J069"]}) == issues


# ---------------------------------------------------------------- batch-response
def test_the_batch_response_has_one_valid_entry_per_request_entry():
    bundle, expected = patient_export(3, shapes=("focal", "no_subscriber", "bad_code"))
    outcomes = _outcomes(bundle)
    items = []
    for outcome, (_, shape) in zip(outcomes, expected):
        item = {"entry_index": outcome.entry_index, "status": SHAPES[shape], "created": True}
        if outcome.submission is None:
            item["errors"] = list(outcome.errors)
        else:
            item["claim_id"] = f"claim-{outcome.entry_index}"
            item["missing"] = [i.model_dump() for i in outcome.submission.intake_issues]
        items.append(item)

    response = batch_response(items, len(bundle["entry"]))

    parsed = Bundle.model_validate(response)  # a valid FHIR R4B Bundle
    assert parsed.type == "batch-response" and len(parsed.entry) == len(bundle["entry"])
    by_index = {o.entry_index: parsed.entry[o.entry_index].response for o in outcomes}
    captured, held, rejected = (by_index[o.entry_index] for o in outcomes)
    assert captured.status == "201 Created" and captured.location.startswith("encounters/")
    assert held.status == "201 Created" and held.outcome.issue[0].code == "incomplete"
    assert held.outcome.issue[0].expression == ["coverage.member_id"]
    assert rejected.status == "422 Unprocessable Entity" and rejected.outcome.issue[0].severity == "error"
    assert parsed.entry[0].response.status == "200 OK"  # the Patient, read as part of the encounters
    assert PATIENT == bundle["entry"][0]["fullUrl"]


def test_a_payer_named_by_display_only_is_held_for_its_payer_id_with_the_name_kept_for_the_payer_list():
    bundle = build_bundle()
    _resource(bundle, "Coverage")["payor"] = [{"display": "Medicaid"}]
    submission = bundle_to_encounter(bundle, source_system="ehr")
    assert submission.coverage.payer_id == "Medicaid"  # the tenant's payer list may map the name
    [issue] = submission.intake_issues
    assert issue.field == "coverage.payer_id" and "display only" in issue.reason
