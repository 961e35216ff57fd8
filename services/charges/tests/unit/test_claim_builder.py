"""Encounter -> claim (rcm_charges.domain.claim_builder): numbering, normalisation, totals, fingerprint."""

import copy
import uuid
from decimal import Decimal

import pytest

from rcm_charges.domain.claim_builder import build_claim, content_hash
from rcm_contracts.claim import Claim
from rcm_contracts.events import EncounterSubmitted
from tests.support.encounters import generate

CLAIM_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")
ENCOUNTER_ID = uuid.UUID("00000000-0000-4000-8000-000000000002")


def body(**overrides) -> dict:
    b = {
        "source_system": "test-ehr",
        "source_encounter_id": "enc-42",
        "service_date": "2026-03-14",
        "place_of_service": "11",
        "patient": {"first_name": "Ada", "last_name": "Lovelace", "birth_date": "1980-01-02", "sex": "F"},
        "coverage": {"payer_id": "SBX01", "payer_name": "Sandbox Health Plan", "member_id": "M123", "relationship": "self"},
        "billing_provider": {"npi": "1234567893", "name": "Demo Family Practice"},
        "rendering_provider": {"npi": "1982749354"},
        "diagnoses": ["J06.9", "e11.9"],
        "lines": [
            {"procedure_code": "99213", "charge": "150.00", "units": "1", "modifiers": ["25"]},
            {"procedure_code": "36415", "charge": "20.00", "units": "1"},
            {"procedure_code": "85025", "charge": "35.10", "units": "2", "diagnosis_pointers": [1, 2]},
        ],
    }
    b.update(overrides)
    return b


def submission(**overrides) -> EncounterSubmitted:
    return EncounterSubmitted.model_validate(body(**overrides))


def build(sub: EncounterSubmitted) -> Claim:
    return build_claim(sub, claim_id=CLAIM_ID, encounter_id=ENCOUNTER_ID)


# ---------------------------------------------------------------- build_claim


def test_lines_are_numbered_from_one_in_submission_order():
    claim = build(submission())
    assert [line.line_number for line in claim.lines] == [1, 2, 3]
    assert [line.procedure_code for line in claim.lines] == ["99213", "36415", "85025"]


def test_procedure_codes_are_upper_cased_and_stripped():
    lines = [{"procedure_code": " j1100 ", "charge": "10.00"}, {"procedure_code": "g0439", "charge": "20.00"}]
    claim = build(submission(lines=lines))
    assert [line.procedure_code for line in claim.lines] == ["J1100", "G0439"]


def test_modifiers_are_upper_cased_and_stripped():
    lines = [{"procedure_code": "99213", "charge": "150.00", "modifiers": ["lt", " rt ", "25"]}]
    claim = build(submission(lines=lines))
    assert claim.lines[0].modifiers == ["LT", "RT", "25"]


def test_diagnosis_dots_are_removed_and_codes_upper_cased():
    claim = build(submission(diagnoses=["J06.9", "e11.9", "S72.001A", "Z00.00"]))
    assert claim.diagnoses == ["J069", "E119", "S72001A", "Z0000"]


def test_undotted_diagnoses_are_kept_as_sent():
    claim = build(submission(diagnoses=["J069", "I10"]))
    assert claim.diagnoses == ["J069", "I10"]


def test_units_charge_and_pointers_are_carried_per_line():
    line = build(submission()).lines[2]
    assert line.units == Decimal("2")
    assert line.charge == Decimal("35.10")
    assert line.diagnosis_pointers == [1, 2]


def test_total_charge_is_the_decimal_sum_of_the_lines():
    claim = build(submission())
    assert isinstance(claim.total_charge, Decimal)
    assert claim.total_charge == Decimal("205.10")
    assert claim.total_charge == sum((line.charge for line in claim.lines), Decimal(0))


def test_total_charge_has_no_binary_float_error():
    # 0.10 + 0.20 is 0.30000000000000004 in float; Decimal keeps cents exact.
    lines = [{"procedure_code": "36415", "charge": "0.10"}, {"procedure_code": "36416", "charge": "0.20"}]
    assert build(submission(lines=lines)).total_charge == Decimal("0.30")


def test_total_charge_of_a_single_free_line_is_zero():
    claim = build(submission(lines=[{"procedure_code": "99211", "charge": "0.00"}]))
    assert claim.total_charge == Decimal("0")


@pytest.mark.parametrize("enc", generate(40, seed=11), ids=lambda e: e.scenario)
def test_generated_encounters_total_equals_line_sum(enc):
    sub = EncounterSubmitted.model_validate(enc.body)
    claim = build(sub)
    expected = sum((Decimal(line["charge"]) for line in enc.body["lines"]), Decimal(0))
    assert claim.total_charge == expected
    assert [line.line_number for line in claim.lines] == list(range(1, len(enc.body["lines"]) + 1))


def test_claim_and_encounter_ids_are_passed_through():
    claim_id, encounter_id = uuid.uuid4(), uuid.uuid4()
    claim = build_claim(submission(), claim_id=claim_id, encounter_id=encounter_id)
    assert claim.claim_id == claim_id
    assert claim.encounter_id == encounter_id


def test_header_fields_are_copied_from_the_submission():
    sub = submission()
    claim = build(sub)
    assert claim.source_system == sub.source_system
    assert claim.source_encounter_id == sub.source_encounter_id
    assert claim.service_date == sub.service_date
    assert claim.place_of_service == sub.place_of_service
    assert claim.patient == sub.patient
    assert claim.coverage == sub.coverage
    assert claim.billing_provider == sub.billing_provider
    assert claim.rendering_provider == sub.rendering_provider
    assert claim.referring_provider is None


# ---------------------------------------------------------------- content_hash


def test_content_hash_is_a_sha256_hex_digest():
    digest = content_hash(submission())
    assert len(digest) == 64
    int(digest, 16)


def test_content_hash_is_stable_for_equal_input():
    assert content_hash(submission()) == content_hash(submission())


def test_content_hash_ignores_key_order_of_the_input_json():
    b = body()
    reordered = dict(reversed(list(b.items())))
    reordered["patient"] = dict(reversed(list(b["patient"].items())))
    assert content_hash(EncounterSubmitted.model_validate(reordered)) == content_hash(EncounterSubmitted.model_validate(b))


def test_content_hash_does_not_depend_on_the_ids_given_to_the_claim():
    sub = submission()
    before = content_hash(sub)
    build_claim(sub, claim_id=uuid.uuid4(), encounter_id=uuid.uuid4())
    assert content_hash(sub) == before


def _set(path: tuple, value):
    def mutate(b: dict) -> None:
        target = b
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
    return mutate


MUTATIONS = {
    "source_system": _set(("source_system",), "other-ehr"),
    "source_encounter_id": _set(("source_encounter_id",), "enc-43"),
    "service_date": _set(("service_date",), "2026-03-15"),
    "place_of_service": _set(("place_of_service",), "22"),
    "patient.first_name": _set(("patient", "first_name"), "Adah"),
    "patient.birth_date": _set(("patient", "birth_date"), "1980-01-03"),
    "coverage.member_id": _set(("coverage", "member_id"), "M124"),
    "billing_provider.npi": _set(("billing_provider", "npi"), "1982749354"),
    "rendering_provider removed": _set(("rendering_provider",), None),
    "diagnosis": _set(("diagnoses", 1), "E11.8"),
    "diagnosis order": _set(("diagnoses",), ["e11.9", "J06.9"]),
    "line charge": _set(("lines", 0, "charge"), "150.01"),
    "line units": _set(("lines", 2, "units"), "3"),
    "line code": _set(("lines", 1, "procedure_code"), "36416"),
    "line modifier": _set(("lines", 0, "modifiers"), ["59"]),
    "line pointers": _set(("lines", 2, "diagnosis_pointers"), [2]),
    "line order": lambda b: b["lines"].reverse(),
    "line removed": lambda b: b["lines"].pop(),
}


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_content_hash_changes_when_any_field_changes(name):
    changed = copy.deepcopy(body())
    MUTATIONS[name](changed)
    assert content_hash(EncounterSubmitted.model_validate(changed)) != content_hash(submission())


def test_content_hash_is_stable_for_numerically_equal_charges():
    a = submission()
    b_body = body()
    b_body["lines"][0]["charge"] = "150.0"
    b = EncounterSubmitted.model_validate(b_body)
    assert a == b  # the models compare equal ...
    assert content_hash(a) == content_hash(b)  # ... so the fingerprint of "what the EHR sent" should too
