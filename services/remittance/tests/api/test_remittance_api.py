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


def counts(body: dict, *keys: str) -> dict:
    """The answer's counters (it also carries the file id, its status, per claim outcomes and findings)."""
    return {k: body[k] for k in (keys or ("posted", "duplicates", "rejected"))}


async def test_a_json_era_posts_once_and_emits_payment_posted_for_the_callers_tenant(api):
    claim_id = uuid.uuid4()
    await api.consume((submitted(claim_id), "tenant-a", claim_id))  # only the tenant's own claims are posted to
    first = await api.client.post("/v1/remittances", json=era(claim_id), headers=api.headers("tenant-a"))
    again = await api.client.post("/v1/remittances", json=era(claim_id), headers=api.headers("tenant-a"))
    assert first.status_code == 200 and counts(first.json()) == {"posted": 1, "duplicates": 0, "rejected": []}
    assert counts(again.json()) == {"posted": 0, "duplicates": 1, "rejected": []}
    [posted] = await api.outbox_events("payment-posted")
    assert posted["tenantid"] == "tenant-a" and posted["partitionkey"] == str(claim_id)
    assert posted["data"]["paid_amount"] == "80.00"


async def test_payments_are_listed_only_to_their_tenant(api):
    claim_id = uuid.uuid4()
    await api.consume((submitted(claim_id), "tenant-a", claim_id))
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


# ---------------------------------------------------------------- X12 835 against submitted claims

ERA_835 = ("ISA*00*          *00*          *ZZ*SANDBOX1       *ZZ*OPENRCM        *261102*1200*^*00501*000000901*0*P*:~"
           "GS*HP*SANDBOX1*OPENRCM*20261102*1200*901*X*005010X221A1~"
           "ST*835*0001~"
           "BPR*I*80.00*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*888888888*DA*654321*20261102~"
           "TRN*1*TRN-835-1*1512345678~"
           "DTM*405*20261102~"
           "N1*PR*SANDBOX PAYER*XV*SANDBOX1~"
           "N3*1 PAYER WAY~N4*CITY*NY*10001~"
           "N1*PE*DEMO CLINIC*XX*1234567893~"
           "LX*1~"
           "CLP*PCN-1*1*100.00*80.00*20.00*12*PAYERCLAIM-1~"
           "NM1*QC*1*DOE*JANE****MI*MEMBER1~"
           "SVC*HC:99213*100.00*80.00**1~"
           "DTM*472*20261001~"
           "CAS*PR*2*20.00~"
           "SE*15*0001~GE*1*901~IEA*1*000000901~")
X12 = {"content-type": "application/edi-x12"}


def submitted(claim_id: uuid.UUID, pcn: str = "PCN-1"):
    from datetime import datetime, timezone

    from rcm_contracts.events import ClaimSubmitted

    return ClaimSubmitted(claim_id=claim_id, payer_id="SANDBOX1", clearinghouse="sandbox",
                          interchange_control_number="000000001", total_charge="100.00",
                          submitted_at=datetime(2026, 10, 2, tzinfo=timezone.utc), patient_control_number=pcn)


async def test_an_835_posts_each_claim_payment_against_the_submitted_claim_once(api):
    claim_id = uuid.uuid4()
    applier = await api.consume((submitted(claim_id), "tenant-a", claim_id))
    assert applier.applied == 1 and applier.dead_lettered == 0

    first = await api.client.post("/v1/remittances/x12", content=ERA_835.encode(), headers=api.headers(**X12))
    again = await api.client.post("/v1/remittances/x12", content=ERA_835.encode(), headers=api.headers(**X12))
    assert first.status_code == 200, first.text
    assert counts(first.json(), "posted", "duplicates", "rejected", "unmatched") == {
        "posted": 1, "duplicates": 0, "rejected": [], "unmatched": 0}
    assert again.json()["posted"] == 0 and again.json()["duplicates"] == 1
    [posted] = await api.outbox_events("payment-posted")
    assert posted["partitionkey"] == str(claim_id) and posted["tenantid"] == "tenant-a"
    assert posted["data"]["patient_responsibility"] == "20.00"


async def test_an_835_for_another_tenants_claim_is_kept_unmatched_not_posted(api):
    claim_id = uuid.uuid4()
    await api.consume((submitted(claim_id), "tenant-a", claim_id))
    resp = await api.client.post("/v1/remittances/x12", content=ERA_835.encode(), headers=api.headers("tenant-b", **X12))
    assert counts(resp.json(), "posted", "duplicates", "rejected", "unmatched") == {
        "posted": 0, "duplicates": 0, "rejected": [], "unmatched": 1}
    assert await api.outbox_events("payment-posted") == []
    assert await api.scalar("SELECT tenant_id FROM unmatched_payments") == "tenant-b"


@pytest.fixture
async def api_without_loop():
    async with service_api(create_app, Settings, metadata, waiting_payments_every_s=0) as api:
        yield api  # the test runs the waiting-payments pass itself


async def test_a_payment_left_unmatched_by_a_race_with_its_claim_is_posted_by_the_waiting_payments_pass(
        api_without_loop):
    """The 835 and the claim's ClaimSubmitted applied at the same moment: neither transaction saw the other's row,
    so the claim is known (claim_refs) and its payment still waits unmatched. Remittance.post_waiting (the
    background loop's pass) posts it, once, for its own tenant; a second pass finds nothing."""
    from sqlalchemy import text

    api = api_without_loop
    from rcm_remittance.service import Remittance

    claim_id = uuid.uuid4()
    early = await api.client.post("/v1/remittances/x12", content=ERA_835.encode(), headers=api.headers(**X12))
    assert early.json()["unmatched"] == 1
    async with api.engine.begin() as conn:  # what the consumer committed without seeing the waiting payment
        await conn.execute(text("INSERT INTO claim_refs (tenant_id, patient_control_number, claim_id, payer_id) "
                                "VALUES ('tenant-a', 'PCN-1', :c, 'SANDBOX1'), ('tenant-b', 'PCN-1', :o, 'SANDBOX1')"),
                           {"c": claim_id, "o": uuid.uuid4()})
    remittance = api.app.state.runtime.services[Remittance]
    assert await remittance.post_waiting() == 1
    assert await remittance.post_waiting() == 0
    [posted] = await api.outbox_events("payment-posted")
    assert posted["tenantid"] == "tenant-a" and posted["partitionkey"] == str(claim_id)
    assert await api.scalar("SELECT status FROM unmatched_payments") == "posted"
    assert await api.scalar("SELECT count(*) FROM posted_payments WHERE claim_id = :c", c=claim_id) == 1


async def test_a_payment_that_arrived_before_its_claim_is_posted_when_the_claim_is_submitted(api):
    claim_id = uuid.uuid4()
    early = await api.client.post("/v1/remittances/x12", content=ERA_835.encode(), headers=api.headers(**X12))
    assert early.json()["unmatched"] == 1
    await api.consume((submitted(claim_id), "tenant-a", claim_id))
    [posted] = await api.outbox_events("payment-posted")
    assert posted["partitionkey"] == str(claim_id) and posted["causationid"] is not None
    assert await api.scalar("SELECT status FROM unmatched_payments") == "posted"


@pytest.mark.parametrize("query", ["received_to=0", "received_from=20261102", "payment_date=1.5", "date=0"])
async def test_a_date_filter_sent_as_a_number_is_a_422_naming_it(api, query):
    # Found by fuzzing: pydantic read a number as seconds since 1970, so the filter silently meant 1970.
    resp = await api.client.get(f"/v1/remittances?{query}", headers=api.headers())
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_request"
    assert [e["field"] for e in resp.json()["errors"]] == [f"query.{query.split('=')[0]}"]


async def test_a_json_era_with_a_numeric_payment_date_is_a_422_and_posts_nothing(api):
    claim_id = uuid.uuid4()
    await api.consume((submitted(claim_id), "tenant-a", claim_id))
    resp = await api.client.post("/v1/remittances", json={**era(claim_id), "payment_date": 20261102},
                                 headers=api.headers())
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["body.payment_date"]
    assert await api.outbox_events() == []
