"""Self-pay encounters through charges' routers and intake consumer, against the real PostgreSQL: released as
SelfPayEncounterCaptured (patient billing) with status `self_pay`, never as EncounterCaptured (eligibility)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rcm_charges.app import create_app
from rcm_charges.db import metadata
from rcm_charges.service import Charges
from rcm_charges.settings import Settings
from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.clock import FixedClock
from tests.support.api import service_api
from tests.support.encounters import generate

pytestmark = pytest.mark.integration


def self_pay(seed: int, **overrides) -> dict:
    body = generate(1, seed=seed, scenarios=["paid"], run_id=uuid.uuid4().hex[:8])[0].body
    return {**body, "self_pay": True, **overrides}


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def test_a_self_pay_encounter_without_coverage_goes_to_patient_billing_not_eligibility(api):
    body = self_pay(41, coverage=None)
    resp = await api.client.post("/v1/encounters", json=body, headers=api.headers())
    again = await api.client.post("/v1/encounters", json=body, headers=api.headers())

    assert resp.status_code == 201 and resp.json()["status"] == "self_pay" and "missing" not in resp.json()
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    claim_id = resp.json()["claim_id"]
    [event] = await api.outbox_events("self-pay-encounter-captured")
    assert await api.outbox_events("encounter-captured") == [] and await api.outbox_events("encounter-held") == []
    assert event["partitionkey"] == claim_id and event["tenantid"] == "tenant-a"
    assert event["data"]["intake_channel"] == "json" and event["data"]["claim"].get("coverage") is None
    assert Decimal(event["data"]["claim"]["total_charge"]) == sum(Decimal(line["charge"]) for line in body["lines"])

    read = await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers())
    queue = await api.client.get("/v1/encounters", params={"status": "self_pay"}, headers=api.headers())
    theirs = await api.client.get("/v1/encounters", params={"status": "self_pay"}, headers=api.headers("tenant-b"))
    assert read.status_code == 200 and read.json()["status"] == "self_pay" and read.json()["released_at"]
    assert [e["claim_id"] for e in queue.json()["items"]] == [claim_id]
    assert theirs.json()["total"] == 0


async def test_a_held_encounter_marked_self_pay_in_completeness_review_is_released_to_patient_billing(api):
    held = (await api.client.post("/v1/encounters", json=self_pay(42, coverage=None, self_pay=False),
                                  headers=api.headers())).json()
    assert held["status"] == "held" and "coverage.payer_id" in [m["field"] for m in held["missing"]]

    fixed = await api.client.patch(f"/v1/encounters/{held['claim_id']}", json={"self_pay": True},
                                   headers=api.headers(user="biller-1"))

    assert fixed.status_code == 200 and fixed.json()["status"] == "self_pay"
    [event] = await api.outbox_events("self-pay-encounter-captured")
    assert event["partitionkey"] == held["claim_id"]
    assert await api.outbox_events("encounter-captured") == []
    # released: it cannot be switched back to the payer pipeline here (that needs a claim of its own)
    again = await api.client.patch(f"/v1/encounters/{held['claim_id']}", json={"self_pay": False},
                                   headers=api.headers(user="biller-1"))
    assert again.status_code == 409 and again.json()["code"] == "not_open"


async def test_an_incomplete_self_pay_encounter_is_held_without_asking_for_coverage(api):
    resp = await api.client.post("/v1/encounters", json=self_pay(43, coverage=None, service_date=None, diagnoses=[]),
                                 headers=api.headers())

    assert resp.status_code == 201 and resp.json()["status"] == "held"
    assert [m["field"] for m in resp.json()["missing"]] == ["service_date"]
    assert await api.outbox_events("self-pay-encounter-captured") == []


async def test_self_pay_from_the_intake_topic_with_a_coverage_on_file_goes_to_patient_billing(api):
    applier = await api.consume((EncounterSubmitted.model_validate(self_pay(44)), "tenant-a", "k-1"))

    assert applier.applied == 1 and applier.dead_lettered == 0
    [event] = await api.outbox_events("self-pay-encounter-captured")
    assert event["data"]["intake_channel"] == "kafka"
    assert event["data"]["claim"]["coverage"]["payer_id"] in ("SBX01", "SBX02")  # kept for the record
    assert await api.outbox_events("encounter-captured") == []
    assert await api.scalar("SELECT status FROM encounters") == "self_pay"


async def test_a_self_pay_encounter_waits_out_the_charge_lag_and_is_released_to_patient_billing_with_late_charges():
    start = datetime(2026, 10, 1, 9, 0, tzinfo=timezone.utc)
    clock = FixedClock(start)
    async with service_api(create_app, Settings, metadata, clock=clock, charge_lag_s=600) as api:
        charges: Charges = api.app.state.runtime.services[Charges]
        opened = await api.client.post("/v1/encounters", json=self_pay(45, coverage=None), headers=api.headers())
        claim_id = opened.json()["claim_id"]
        assert opened.status_code == 201 and opened.json()["status"] == "open"
        late = await api.client.post(f"/v1/encounters/{claim_id}/lines", headers=api.headers(user="biller-1"),
                                     json=[{"procedure_code": "36415", "units": "1", "charge": "20.00"}])
        assert late.json()["status"] == "open" and await api.outbox_events() == []

        clock.advance(timedelta(seconds=601))
        await charges.release_due()  # the app's own release loop may have taken it first: either way, once
        [event] = await api.outbox_events("self-pay-encounter-captured")
        assert event["partitionkey"] == claim_id and event["data"]["claim"]["lines"][-1]["procedure_code"] == "36415"
        assert await api.outbox_events("encounter-captured") == []
        assert await api.scalar("SELECT status FROM encounters") == "self_pay"
        assert await api.scalar("SELECT released_at FROM encounters") == start + timedelta(seconds=601)
