"""The tenant's payer list in charges' API against the real PostgreSQL: coverages mapped to listed payers, an
unlisted payer held in completeness review, and held encounters released when their payer is listed."""

from __future__ import annotations

import json
import uuid

import pytest

from rcm_charges.app import create_app
from rcm_charges.db import metadata
from rcm_charges.settings import Settings
from tests.support.api import service_api
from tests.support.encounters import generate, to_fhir_bundle

pytestmark = pytest.mark.integration


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


def encounter(payer_id: str = "SBX01", payer_name: str = "Sandbox Health Plan") -> dict:
    body = generate(1, seed=5, scenarios=["paid"], run_id=uuid.uuid4().hex[:8])[0].body
    return {**body, "coverage": {**body["coverage"], "payer_id": payer_id, "payer_name": payer_name}}


async def test_a_listed_payer_maps_the_coverage_and_an_unlisted_one_is_held(api):
    h = api.headers()
    listed = await api.client.put("/v1/payers/SBX01", headers=h,
                                  json={"name": "Sandbox Health Plan", "aliases": ["Medicaid", "MCD-7"]})
    assert listed.status_code == 200 and listed.json()["reevaluated"] == 0

    alias = await api.client.post("/v1/encounters", headers=h, json=encounter("MCD-7", "Medicaid of State"))
    unknown = await api.client.post("/v1/encounters", headers=h, json=encounter("ZZZ99", "Unknown Payer"))

    assert alias.status_code == 201 and alias.json()["status"] == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    assert (captured["data"]["claim"]["coverage"]["payer_id"], captured["data"]["claim"]["coverage"]["payer_name"]) \
        == ("SBX01", "Sandbox Health Plan")
    assert unknown.json()["status"] == "held"
    assert [m["field"] for m in unknown.json()["missing"]] == ["coverage.payer_id"]
    assert (await api.client.get("/v1/payers", headers=h)).json()["payers"][0]["aliases"] == ["Medicaid", "MCD-7"]


async def test_listing_the_payer_releases_the_encounters_waiting_for_it(api):
    h = api.headers()
    await api.client.put("/v1/payers/SBX01", headers=h, json={"name": "Sandbox Health Plan"})
    bundle = to_fhir_bundle(encounter())
    coverage = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage")
    coverage["payor"] = [{"display": "Medicaid"}]  # an EHR naming the payer only
    held = await api.client.post("/v1/encounters/fhir", headers=h, content=json.dumps(bundle))
    assert held.json()["status"] == "held" and [m["field"] for m in held.json()["missing"]] == ["coverage.payer_id"]

    listed = await api.client.put("/v1/payers/SBX01", headers=api.headers(user="front.desk"),
                                  json={"name": "Sandbox Health Plan", "aliases": ["Medicaid"]})

    assert listed.json()["reevaluated"] == 1
    row = await api.scalar("SELECT status FROM encounters WHERE claim_id = :id", id=uuid.UUID(held.json()["claim_id"]))
    assert row == "captured"
    [captured] = await api.outbox_events("encounter-captured")
    assert captured["data"]["claim"]["coverage"]["payer_id"] == "SBX01"
    audit = (await api.client.get(f"/v1/encounters/{held.json()['claim_id']}/audit", headers=h)).json()["changes"]
    assert [(c["action"], c["actor"]) for c in audit] == [("payer_listed", "front.desk")]
    # the listing is a money change on record, naming the encounter it released
    names = await api.scalar("SELECT resource_ids::text FROM audit_log WHERE action = 'payer.list' "
                             "AND actor = 'front.desk'")
    assert held.json()["claim_id"] in names


async def test_an_encounter_no_payer_list_can_fix_is_left_as_it_is(api):
    h = api.headers()
    await api.client.put("/v1/payers/SBX01", headers=h, json={"name": "Sandbox Health Plan"})
    bundle = to_fhir_bundle(encounter())
    coverage = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Coverage")
    coverage["payor"] = [{"display": "Some Plan Nobody Lists"}]
    held = await api.client.post("/v1/encounters/fhir", headers=h, content=json.dumps(bundle))
    claim_id = uuid.UUID(held.json()["claim_id"])
    assert held.json()["status"] == "held"
    before = await api.scalar("SELECT version FROM encounters WHERE claim_id = :id", id=claim_id)
    events = len(await api.outbox_events())

    listed = await api.client.put("/v1/payers/SBX02", headers=h, json={"name": "Sandbox Medicare Advantage"})

    assert listed.json()["reevaluated"] == 1  # evaluated again, and nothing changed for it
    assert await api.scalar("SELECT version FROM encounters WHERE claim_id = :id", id=claim_id) == before
    assert (await api.client.get(f"/v1/encounters/{claim_id}/audit", headers=h)).json()["changes"] == []
    assert len(await api.outbox_events()) == events  # no second EncounterHeld


async def test_payer_list_input_is_checked_and_a_missing_payer_is_404(api):
    h = api.headers()
    assert (await api.client.put("/v1/payers/SBX01", headers=h, json={"name": ""})).status_code == 422
    assert (await api.client.delete("/v1/payers/NOPE", headers=h)).status_code == 404
    await api.client.put("/v1/payers/SBX01", headers=h, json={"name": "Sandbox Health Plan"})
    assert (await api.client.delete("/v1/payers/SBX01", headers=h)).status_code == 204
    assert (await api.client.get("/v1/payers", headers=h)).json()["payers"] == []
    biller = api.headers(roles=("biller",))
    assert (await api.client.put("/v1/payers/SBX01", headers=biller, json={"name": "x"})).status_code == 403
