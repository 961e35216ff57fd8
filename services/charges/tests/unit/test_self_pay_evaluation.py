"""A self-pay encounter's completeness and evaluation (rcm_charges.domain.completeness, rcm_charges.service.evaluate;
both pure): captured without coverage, diagnoses or rendering provider as SelfPayEncounterCaptured, never as
EncounterCaptured; held when the statement would lack its date, a price or the practice."""

import uuid
from datetime import date
from decimal import Decimal

from rcm_charges.domain.chargemaster import ChargemasterItem
from rcm_charges.domain.completeness import missing_items
from rcm_charges.service import TenantReference, evaluate
from rcm_contracts.claim import Provider
from rcm_contracts.events import EncounterCaptured, EncounterHeld, EncounterSubmitted, SelfPayEncounterCaptured

CLAIM_ID = uuid.UUID("00000000-0000-4000-8000-0000000000a1")
ENCOUNTER_ID = uuid.UUID("00000000-0000-4000-8000-0000000000a2")
COVERAGE = {"payer_id": "SBX01", "payer_name": "Sandbox Health Plan", "member_id": "M123", "relationship": "self"}


def submission(**overrides) -> EncounterSubmitted:
    body = {
        "source_system": "test-ehr", "source_encounter_id": "enc-sp-1", "service_date": "2026-03-14",
        "patient": {"first_name": "Ada", "last_name": "Lovelace", "birth_date": "1980-01-02", "sex": "F"},
        "billing_provider": {"npi": "1234567893", "name": "Demo Family Practice"},
        "self_pay": True,
        "lines": [{"procedure_code": "99213", "charge": "150.00"}, {"procedure_code": "36415", "units": "2"}],
    }
    body.update(overrides)
    return EncounterSubmitted.model_validate(body)


PRICES = [ChargemasterItem("36415", "", Decimal("12.50"), date(2026, 1, 1), None)]


def run(sub: EncounterSubmitted, ref: TenantReference | None = None):
    return evaluate(sub, ref or TenantReference(prices=PRICES), claim_id=CLAIM_ID, encounter_id=ENCOUNTER_ID,
                    channel="json")


def test_a_self_pay_encounter_needs_no_coverage_diagnosis_or_rendering_provider():
    ev = run(submission())

    assert ev.status == "self_pay" and ev.missing is None
    assert isinstance(ev.event, SelfPayEncounterCaptured) and not isinstance(ev.event, EncounterCaptured)
    claim = ev.event.claim
    assert claim.claim_id == CLAIM_ID and claim.coverage is None and claim.diagnoses == []
    # each line priced (the chargemaster price is per unit: 2 x 12.50), the total their sum, written by hand
    assert [line.charge for line in claim.lines] == [Decimal("150.00"), Decimal("25.00")]
    assert claim.total_charge == Decimal("175.00")
    assert ev.claim["total_charge"] == "175.00" and ev.event.intake_channel == "json"


def test_self_pay_wins_over_a_coverage_on_file_which_stays_on_the_claim_for_the_record():
    ev = run(submission(coverage=COVERAGE, diagnoses=["J06.9"]))

    assert ev.status == "self_pay" and isinstance(ev.event, SelfPayEncounterCaptured)
    assert ev.event.claim.coverage.payer_id == "SBX01" and ev.event.claim.diagnoses == ["J069"]


def test_an_incomplete_self_pay_encounter_is_held_for_what_a_statement_needs_only():
    sub = submission(service_date=None, billing_provider=None,
                     lines=[{"procedure_code": "99999"}])  # no charge sent, none in the chargemaster
    ev = run(sub)

    assert ev.status == "held" and isinstance(ev.event, EncounterHeld)
    assert [m["field"] for m in ev.missing] == ["service_date", "billing_provider", "lines[1].charge"]
    assert "coverage" not in str(ev.missing) and "diagnos" not in str(ev.missing)


def test_the_tenants_default_billing_provider_completes_a_self_pay_encounter():
    practice = Provider(npi="1234567893", name="Demo Family Practice")
    ev = run(submission(billing_provider=None), TenantReference(prices=PRICES, default_billing_provider=practice))

    assert ev.status == "self_pay" and ev.event.claim.billing_provider.npi == "1234567893"


def test_without_the_self_pay_flag_the_same_encounter_is_held_for_coverage_diagnoses_and_rendering_provider():
    sub = submission(self_pay=False)
    fields = [m.field for m in missing_items(sub, [Decimal("150.00"), Decimal("25.00")])]

    assert fields == ["diagnoses", "rendering_provider.npi", "coverage.payer_id", "coverage.member_id"]
    ev = run(sub)
    assert ev.status == "held" and isinstance(ev.event, EncounterHeld)


def test_a_complete_insured_encounter_is_still_captured_for_the_payer_pipeline():
    ev = run(submission(self_pay=False, coverage=COVERAGE, diagnoses=["J06.9"], rendering_provider={"npi": "1982749354"}))

    assert ev.status == "captured" and isinstance(ev.event, EncounterCaptured)


def test_diagnosis_pointers_at_no_diagnosis_do_not_refuse_a_self_pay_encounter():
    ev = run(submission(diagnoses=["I10"], lines=[{"procedure_code": "99213", "charge": "80.00",
                                                   "diagnosis_pointers": [1, 3]},
                                                  {"procedure_code": "36415", "charge": "9.00",
                                                   "diagnosis_pointers": [2]}]))

    assert ev.status == "self_pay"
    assert [line.diagnosis_pointers for line in ev.event.claim.lines] == [[1], [1]]
