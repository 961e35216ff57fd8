"""835s that submission polled from a clearinghouse connection (RemittanceReceived, through remittance's own consumer
handler): ingested for the event's tenant exactly as an upload to POST /v1/remittances/x12 (same statuses, same
listing and ledger, idempotent on the file's content per tenant), received by "clearinghouse:<name>". In-process
app, real PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import pytest

from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import RemittanceReceived
from rcm_remittance.app import create_app
from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings
from tests.support.api import service_api
from tests.support.era835 import check, clp, era, submit_claim, svc

pytestmark = pytest.mark.integration
X12 = {"content-type": "application/edi-x12"}
RECEIVED = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
PAID = clp("PCN-1", "150.00", "90.00", pccn="P1", lines=[
    svc("99213", "100.00", "60.00", [("CO", "45", "15.00"), ("PR", "1", "10.00"), ("PR", "2", "15.00")]),
    svc("85025", "50.00", "30.00", [("PR", "3", "20.00")])])


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


def received(text: str, *, clearinghouse: str = "sandbox", name: str = "000000901.835") -> RemittanceReceived:
    return RemittanceReceived(clearinghouse=clearinghouse, file_name=name, content=text,
                              content_sha256=hashlib.sha256(text.encode()).hexdigest(), received_at=RECEIVED)


def envelope(event: RemittanceReceived, tenant: str):
    return new_envelope(event, service="submission", tenant_id=tenant, key=tenant,
                        subject=f"remittance-file/{event.content_sha256}")


async def listed(api, tenant: str) -> list[dict]:
    body = (await api.client.get("/v1/remittances", headers=api.headers(tenant))).json()
    return body["items"]


async def ledger(api, claim_id, tenant: str) -> dict:
    resp = await api.client.get(f"/v1/claims/{claim_id}/ledger", headers=api.headers(tenant))
    assert resp.status_code == 200, resp.text
    return resp.json()


SAME = ("status", "reason", "payer_id", "trace_numbers", "payment_date", "totals", "source", "sha256")


async def test_an_835_from_the_clearinghouse_posts_as_the_same_upload_would(api):
    """tenant a gets the file as an event, tenant b (its own claim with the same CLP01) uploads it: same file
    listing, same ledger, the same payment posted, each for its own tenant; only who handed it in differs."""
    text = era(check([PAID]))
    ours = await submit_claim(api, "PCN-1", "tenant-a")
    theirs = await submit_claim(api, "PCN-1", "tenant-b")
    event = envelope(received(text), "tenant-a")
    applier = await api.consume(event)
    assert (applier.applied, applier.dead_lettered) == (1, 0)
    upload = await api.client.post("/v1/remittances/x12", content=text.encode(),
                                   headers=api.headers("tenant-b", user="poster.pat", **X12))
    assert upload.status_code == 200 and upload.json()["status"] == "posted"

    [a], [b] = await listed(api, "tenant-a"), await listed(api, "tenant-b")
    assert {k: a[k] for k in SAME} == {k: b[k] for k in SAME}
    assert a["status"] == "posted" and a["totals"]["paid"] == "90.00"
    assert (a["received_by"], b["received_by"]) == ("clearinghouse:sandbox", "poster.pat")  # the uploader's token
    assert "content" not in a
    one = (await api.client.get(f"/v1/remittances/{a['id']}", headers=api.headers("tenant-a"))).json()
    assert [p["claim_id"] for p in one["payments"]] == [str(ours)]

    mine, yours = await ledger(api, ours, "tenant-a"), await ledger(api, theirs, "tenant-b")
    assert mine["totals"] == yours["totals"] and mine["totals"]["payer_paid"] == "90.00"
    assert mine["totals"]["patient_responsibility"]["total"] == "45.00"
    posted = await api.outbox_events("payment-posted")
    assert sorted(e["tenantid"] for e in posted) == ["tenant-a", "tenant-b"]
    [from_event] = [e for e in posted if e["tenantid"] == "tenant-a"]
    assert from_event["correlationid"] == str(event.correlationid) and from_event["causationid"] == str(event.id)


async def test_a_redelivered_event_and_the_same_file_again_store_and_post_nothing_new(api):
    await submit_claim(api, "PCN-1", "tenant-a")
    text = era(check([PAID]))
    event = envelope(received(text), "tenant-a")
    first = await api.consume(event)
    again = await api.consume(event)  # the same record after a rebalance: the inbox knows it
    assert (first.applied, again.applied, again.duplicates) == (1, 0, 1)
    resent = await api.consume(envelope(received(text, name="resent.835"), "tenant-a"))  # another event, same file
    assert (resent.applied, resent.dead_lettered) == (1, 0)
    upload = await api.client.post("/v1/remittances/x12", content=text.encode(), headers=api.headers("tenant-a", **X12))
    assert upload.json()["status"] == "duplicate"
    assert await api.scalar("SELECT count(*) FROM remittance_files") == 1
    assert await api.scalar("SELECT count(*) FROM posted_payments") == 1
    assert len(await api.outbox_events("payment-posted")) == 1


@pytest.mark.parametrize("case", ["rejected", "held"])
async def test_a_file_rejected_or_held_for_its_own_fault_is_a_result_not_a_handler_failure(api, case):
    claim_id = await submit_claim(api, "PCN-1", "tenant-a")
    whole = era(check([PAID]))
    text = whole[: whole.index("SE*")] if case == "rejected" else era(check([PAID], amount="1.00"))
    applier = await api.consume(envelope(received(text), "tenant-a"))
    assert (applier.applied, applier.dead_lettered) == (1, 0)
    assert await api.scalar("SELECT count(*) FROM dead_letters") == 0
    [file] = await listed(api, "tenant-a")
    assert file["status"] == case and file["received_by"] == "clearinghouse:sandbox" and file["reason"]
    upload = await api.client.post("/v1/remittances/x12", content=text.encode(), headers=api.headers("tenant-b", **X12))
    assert upload.json()["status"] == case and upload.status_code == (422 if case == "rejected" else 200)
    assert (await ledger(api, claim_id, "tenant-a"))["entries"] == []
    assert await api.outbox_events("payment-posted") == []


async def test_an_unknown_claim_in_the_file_is_queued_unmatched_for_the_events_tenant_only(api):
    text = era(check([clp("NOT-OURS-1", "100.00", "100.00")]))
    await api.consume(envelope(received(text, clearinghouse="sandbox-sftp"), "tenant-a"))
    [file] = await listed(api, "tenant-a")
    assert (file["status"], file["received_by"]) == ("partially_posted", "clearinghouse:sandbox-sftp")
    queue = (await api.client.get("/v1/unmatched-payments", headers=api.headers("tenant-a"))).json()
    assert len(queue["items"]) == 1
    assert (await api.client.get("/v1/unmatched-payments", headers=api.headers("tenant-b"))).json()["items"] == []
    assert await listed(api, "tenant-b") == []
