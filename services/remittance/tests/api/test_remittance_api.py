"""remittance's routers in-process (its own create_app, httpx ASGI transport) against the real PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from rcm_remittance.app import create_app
from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings
from tests.support.api import service_api

pytestmark = pytest.mark.integration


def era(claim_id: uuid.UUID, *, pccn: str = "PCN-1", paid: str = "80.00") -> dict:
    return {"payer_id": "SANDBOX1", "payment_date": "2026-11-02", "trace_number": "TRN-1",
            "claims": [{"claim_id": str(claim_id), "payer_claim_control_number": pccn, "total_charge": "100.00",
                        "allowed_amount": "100.00", "paid_amount": paid, "patient_responsibility": "20.00",
                        "adjustments": [{"group_code": "PR", "reason_code": "2", "amount": "20.00"}]}]}


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def test_a_json_era_posts_once_and_emits_payment_posted_for_the_callers_tenant(api):
    claim_id = uuid.uuid4()
    first = await api.client.post("/v1/remittances", json=era(claim_id), headers=api.headers("tenant-a"))
    again = await api.client.post("/v1/remittances", json=era(claim_id), headers=api.headers("tenant-a"))
    assert first.status_code == 200 and first.json() == {"posted": 1, "duplicates": 0, "rejected": []}
    assert again.json() == {"posted": 0, "duplicates": 1, "rejected": []}
    [posted] = await api.outbox_events("payment-posted")
    assert posted["tenantid"] == "tenant-a" and posted["partitionkey"] == str(claim_id)
    assert posted["data"]["paid_amount"] == "80.00"


async def test_payments_are_listed_only_to_their_tenant(api):
    claim_id = uuid.uuid4()
    await api.client.post("/v1/remittances", json=era(claim_id), headers=api.headers("tenant-a"))
    mine = await api.client.get("/v1/payments", headers=api.headers("tenant-a"))
    theirs = await api.client.get("/v1/payments", headers=api.headers("tenant-b"))
    assert mine.json()["total"] == 1 and theirs.json()["total"] == 0
    assert (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-b"))).status_code == 404


async def test_an_unbalanced_claim_payment_is_rejected_with_its_reason_and_nothing_emitted(api):
    resp = await api.client.post("/v1/remittances", json=era(uuid.uuid4(), paid="95.00"), headers=api.headers())
    body = resp.json()
    assert resp.status_code == 200 and body["posted"] == 0 and len(body["rejected"]) == 1
    assert body["rejected"][0]["reason"]
    assert await api.outbox_events() == []


async def test_an_unreadable_835_answers_422_and_posts_nothing(api):
    resp = await api.client.post("/v1/remittances/x12", content=b"ISA*not an interchange~",
                                 headers=api.headers(**{"content-type": "application/edi-x12"}))
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_835"
    assert await api.scalar("SELECT count(*) FROM posted_payments") == 0


async def test_without_an_api_key_the_answer_is_401(api):
    assert (await api.client.post("/v1/remittances", json=era(uuid.uuid4()))).status_code == 401
