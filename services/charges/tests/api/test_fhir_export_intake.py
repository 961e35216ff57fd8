"""A patient's FHIR export through charges' route in-process against the real PostgreSQL: each encounter
captured, held or rejected on its own, retries idempotent per encounter, the batch-response Bundle, and a
held encounter fixed in completeness review."""

from __future__ import annotations

import json
import uuid

import pytest
from fhir.resources.R4B.bundle import Bundle

from rcm_charges.app import create_app
from rcm_charges.db import metadata
from rcm_charges.settings import Settings
from tests.support.api import service_api
from tests.support.fhir_exports import patient_export

pytestmark = pytest.mark.integration

MIXED = ("focal", "no_subscriber", "ambiguous", "bad_code", "self_pay")


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def post(api, bundle: dict, **headers: str):
    return await api.client.post("/v1/encounters/fhir?source_system=ehr-export", content=json.dumps(bundle),
                                 headers=api.headers(**headers))


async def test_each_encounter_of_an_export_is_captured_held_or_rejected_on_its_own(api):
    bundle, expected = patient_export(len(MIXED), shapes=MIXED, run_id=uuid.uuid4().hex[:8])

    resp = await post(api, bundle)

    assert resp.status_code == 201, resp.text
    items = resp.json()["encounters"]
    assert [i["source_encounter_id"] for i in items] == [sid for sid, _ in expected]
    assert [i["status"] for i in items] == ["captured", "held", "held", "rejected", "self_pay"]
    assert resp.json()["summary"] == {"captured": 1, "held": 2, "rejected": 1, "self_pay": 1}
    focal, no_subscriber, ambiguous, bad, _ = items
    assert [m["field"] for m in no_subscriber["missing"]] == ["coverage.member_id"]
    assert [m["field"] for m in ambiguous["missing"]] == ["coverage"]
    assert bad["errors"] == [{"field": bad["errors"][0]["field"], "reason": "must be a 5-character CPT/HCPCS code"}]
    assert bad["entry"].startswith("Bundle.entry[") and "claim_id" not in bad
    [captured] = await api.outbox_events("encounter-captured")
    assert captured["data"]["claim"]["coverage"]["payer_id"] == "SBX01"
    assert captured["data"]["claim"]["secondary_coverage"]["payer_id"] == "SBX03"
    assert len(await api.outbox_events("encounter-held")) == 2
    assert await api.scalar("SELECT count(*) FROM encounters WHERE source_system = 'ehr-export'") == 4


async def test_a_retry_of_the_same_export_is_idempotent_per_encounter(api):
    bundle, _ = patient_export(len(MIXED), shapes=MIXED, run_id=uuid.uuid4().hex[:8])
    first = (await post(api, bundle)).json()["encounters"]
    events = len(await api.outbox_events())

    again = await post(api, bundle)

    assert again.status_code == 200
    statuses = [i["status"] for i in again.json()["encounters"]]
    assert statuses == ["duplicate", "duplicate", "duplicate", "rejected", "duplicate"]
    assert [i.get("claim_id") for i in again.json()["encounters"]] == [i.get("claim_id") for i in first]
    assert len(await api.outbox_events()) == events  # nothing emitted twice


async def test_a_changed_resend_of_a_released_encounter_conflicts_alone(api):
    run = uuid.uuid4().hex[:8]
    bundle, _ = patient_export(2, shapes=("focal",), run_id=run)
    await post(api, bundle)
    changed, _ = patient_export(3, shapes=("focal",), run_id=run)
    procedure = next(e["resource"] for e in changed["entry"] if e["fullUrl"] == "urn:uuid:procedure-0-0")
    procedure["extension"][0]["valueMoney"]["value"] += 10

    resp = await post(api, changed)

    assert resp.status_code == 201
    conflict, duplicate, new = resp.json()["encounters"]
    assert conflict["status"] == "conflict" and "corrected claim" in conflict["reason"]
    assert duplicate["status"] == "duplicate" and new["status"] == "captured"


async def test_an_export_whose_every_encounter_is_rejected_is_a_422_naming_each(api):
    bundle, _ = patient_export(2, shapes=("bad_code",), run_id=uuid.uuid4().hex[:8])

    resp = await post(api, bundle)

    assert resp.status_code == 422 and resp.json()["code"] == "invalid_fhir_bundle"
    assert len({e["encounter"] for e in resp.json()["errors"]}) == 2
    assert await api.scalar("SELECT count(*) FROM encounters WHERE source_system = 'ehr-export'") == 0


async def test_a_batch_is_answered_with_a_fhir_batch_response_when_asked(api):
    bundle, _ = patient_export(len(MIXED), shapes=MIXED, run_id=uuid.uuid4().hex[:8], bundle_type="batch")

    resp = await post(api, bundle, accept="application/fhir+json")

    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/fhir+json")
    parsed = Bundle.model_validate(resp.json())
    assert parsed.type == "batch-response" and len(parsed.entry) == len(bundle["entry"])
    encounter_entries = [i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Encounter"]
    statuses = [parsed.entry[i].response.status for i in encounter_entries]
    assert statuses == ["201 Created", "201 Created", "201 Created", "422 Unprocessable Entity", "201 Created"]
    held = parsed.entry[encounter_entries[1]].response
    assert held.outcome.issue[0].expression == ["coverage.member_id"] and held.location.startswith("encounters/")


async def test_a_held_encounter_is_released_once_the_front_desk_supplies_the_coverage(api):
    bundle, _ = patient_export(1, shapes=("no_subscriber",), run_id=uuid.uuid4().hex[:8])
    held = (await post(api, bundle)).json()  # a single-encounter Bundle answers with that encounter's result
    assert held["status"] == "held"

    fixed = await api.client.patch(f"/v1/encounters/{held['claim_id']}", headers=api.headers(), json={
        "coverage": {"payer_id": "SBX01", "payer_name": "Sandbox Health Plan", "member_id": "M12345678"}})

    assert fixed.status_code == 200 and fixed.json()["status"] == "captured", fixed.text
    row = await api.scalar("SELECT status FROM encounters WHERE claim_id = :id", id=uuid.UUID(held["claim_id"]))
    assert row == "captured"
