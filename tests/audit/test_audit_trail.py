"""The audit trail in-process against the real PostgreSQL (rcm_runtime.audit, rcm_runtime.audit_chain), on the
remittance app: a money change, a PHI read and a refused attempt are recorded with the credential's subject (never
a header), the tenant and the outcome; the change and its row commit together; a PHI read whose row cannot be
written is not answered; the runtime role cannot change or delete rows; verify finds a row the superuser altered;
another tenant's auditor sees nothing of it."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from rcm_contracts.events import RemittanceReceived
from rcm_remittance.app import create_app
from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings
from rcm_runtime import audit
from rcm_runtime.db import make_engine
from rcm_runtime.failures import sqlstate_of
from tests.support.api import RUNTIME_URL, service_api
from tests.support.era835 import check, clp, era, submit_claim, svc

pytestmark = pytest.mark.integration
X12 = {"content-type": "application/edi-x12"}
PAID = era(check([clp("PCN-1", "100.00", "80.00", lines=[svc("99213", "100.00", "80.00", [("PR", "2", "20.00")])])]))
RECEIVED = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
AUDITOR = {"user": "audrey", "roles": ["auditor"]}
INSUFFICIENT_PRIVILEGE = "42501"


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def trail(api, tenant: str = "tenant-a", **filters) -> list[dict]:
    resp = await api.client.get("/v1/audit", params=filters, headers=api.headers(tenant, **AUDITOR))
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


async def verified(api, tenant: str = "tenant-a") -> dict:
    resp = await api.client.get("/v1/audit/verify", headers=api.headers(tenant, **AUDITOR))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def post_era(api, user: str = "alice", **headers: str):
    return await api.client.post("/v1/remittances/x12", content=PAID.encode(),
                                 headers=api.headers("tenant-a", user=user, roles=["biller"], **X12, **headers))


async def test_a_money_change_a_phi_read_and_a_refused_attempt_are_recorded_for_the_tenants_auditor(api):
    claim_id = await submit_claim(api, "PCN-1")
    posted = await post_era(api, **{"x-user": "mallory"})  # a header naming someone else changes nothing
    assert posted.status_code == 200 and posted.json()["status"] == "posted", posted.text
    file_id = posted.json()["file_id"]
    ledger = await api.client.get(f"/v1/claims/{claim_id}/ledger", headers=api.headers(user="bob", roles=["biller"]))
    assert ledger.status_code == 200
    refused = await api.client.post(f"/v1/remittances/{file_id}/release", json={"reason": "looks fine"},
                                    headers=api.headers(user="carol", roles=["analyst"]))
    assert refused.status_code == 403

    rows = await trail(api)
    assert [(r["seq"], r["actor"], r["actor_kind"], r["roles"], r["category"], r["action"], r["resource_type"],
             r["resource_ids"], r["outcome"], r["status"]) for r in rows] == [
        (1, "alice", "user", ["biller"], "money", "remittance.post_x12", "remittance_file", [file_id], "allowed", 200),
        (2, "bob", "user", ["biller"], "phi_read", "ledger.read", "claim", [str(claim_id)], "allowed", 200),
        (3, "carol", "user", ["analyst"], "money", "remittance.release", "remittance_file", [file_id], "denied", 403),
    ]
    assert all(r["source"].startswith("http:") and r["request_id"] for r in rows)
    assert rows[1]["prev_hash"] == rows[0]["hash"] and rows[2]["prev_hash"] == rows[1]["hash"]
    assert "mallory" not in str(rows)
    assert await verified(api) == {"intact": True, "rows": 3, "head": {"seq": 3, "hash": rows[2]["hash"]},
                                   "first_broken_seq": None, "reason": None}
    # filters: actor, category, outcome, resource, paging
    assert [r["seq"] for r in await trail(api, actor="bob")] == [2]
    assert [r["seq"] for r in await trail(api, category="money")] == [1, 3]
    assert [r["seq"] for r in await trail(api, outcome="denied")] == [3]
    assert [r["seq"] for r in await trail(api, resource_id=str(claim_id))] == [2]
    page = (await api.client.get("/v1/audit", params={"limit": 2}, headers=api.headers(**AUDITOR))).json()
    assert [r["seq"] for r in page["items"]] == [1, 2] and page["next_after_seq"] == 2
    assert [r["seq"] for r in await trail(api, after_seq=2)] == [3]

    # another tenant's auditor: none of it, and an empty chain that is intact
    assert await trail(api, "tenant-b") == []
    assert (await verified(api, "tenant-b"))["rows"] == 0
    # the trail is the auditor's and admin's: a biller may not read it
    denied = await api.client.get("/v1/audit", headers=api.headers(roles=["biller"]))
    assert denied.status_code == 403 and denied.json()["permission"] == "audit.read"


async def test_a_change_and_its_row_commit_together(api, monkeypatch):
    async def refuse(self, conn):
        raise RuntimeError("the audit row cannot be written")

    await submit_claim(api, "PCN-1")
    monkeypatch.setattr(audit.RequestAudit, "record_change", refuse)
    failed = await post_era(api)
    assert failed.status_code == 500
    assert await api.scalar("SELECT count(*) FROM remittance_files") == 0  # no change without its row
    assert [(r["actor"], r["outcome"], r["status"]) for r in await trail(api)] == [("alice", "failed", 500)]


async def test_phi_is_not_answered_when_its_read_cannot_be_recorded(api, monkeypatch):
    claim_id = await submit_claim(api, "PCN-1")
    assert (await post_era(api)).status_code == 200

    async def refuse(engine, row):
        raise RuntimeError("the database refused")

    monkeypatch.setattr(audit, "append_alone", refuse)
    resp = await api.client.get(f"/v1/claims/{claim_id}/ledger", headers=api.headers(roles=["biller"]))
    assert resp.status_code == 503 and resp.json()["code"] == "unavailable"
    assert "PCN-1" not in resp.text and "80.00" not in resp.text


async def test_concurrent_appends_of_a_tenant_form_one_unbroken_chain(api):
    claim_id = await submit_claim(api, "PCN-1")
    reads = [api.client.get(f"/v1/claims/{claim_id}/ledger", headers=api.headers(user=f"reader-{i}"))
             for i in range(12)]
    assert {r.status_code for r in await asyncio.gather(*reads)} == {200}
    rows = await trail(api)
    assert [r["seq"] for r in rows] == list(range(1, 13))
    assert sorted(r["actor"] for r in rows) == sorted(f"reader-{i}" for i in range(12))
    assert (await verified(api))["intact"] is True


async def test_the_runtime_role_appends_but_never_changes_or_deletes_and_cannot_forge_the_chain(api):
    await submit_claim(api, "PCN-1")
    assert (await post_era(api)).status_code == 200
    runtime = make_engine(api.settings.model_copy(update={"database_url": RUNTIME_URL}), pool_size=1)
    try:
        for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log",
                          "TRUNCATE audit_log", "UPDATE audit_chain SET seq = 0", "DELETE FROM audit_chain"):
            with pytest.raises(DBAPIError) as denied:
                async with runtime.begin() as conn:
                    await conn.execute(text("SELECT set_config('rcm.tenants', 'tenant-a', true)"))
                    await conn.execute(text(statement))
            assert sqlstate_of(denied.value) == INSUFFICIENT_PRIVILEGE, statement
        async with runtime.begin() as conn:  # an INSERT naming its own place and hashes gets the chain's
            await conn.execute(text("SELECT set_config('rcm.tenants', 'tenant-a', true)"))
            await conn.execute(text(
                "INSERT INTO audit_log (tenant_id, seq, at, actor, actor_kind, category, action, resource_type, "
                "outcome, source, prev_hash, hash) VALUES ('tenant-a', 1, '2000-01-01', 'x', 'service', 'money', "
                "'forged', 'claim', 'allowed', 'test', '\\x00', '\\x00')"))
    finally:
        await runtime.dispose()
    rows = await trail(api)
    assert [r["seq"] for r in rows] == [1, 2] and rows[1]["action"] == "forged"
    assert rows[1]["at"] > "2020" and rows[1]["prev_hash"] == rows[0]["hash"] and rows[1]["hash"] != "00"
    assert (await verified(api))["intact"] is True


async def test_verify_reports_the_first_row_the_superuser_altered_or_removed(api):
    claim_id = await submit_claim(api, "PCN-1")
    for user in ("one", "two", "three", "four"):
        await api.client.get(f"/v1/claims/{claim_id}/ledger", headers=api.headers(user=user))
    assert (await verified(api))["intact"] is True

    async with api.engine.begin() as conn:  # the superuser rewrites who read the ledger
        await conn.execute(text(f'UPDATE "{api.schema}".audit_log SET actor = \'nobody\' WHERE seq = 2'))
    v = await verified(api)
    assert (v["intact"], v["first_broken_seq"], v["reason"]) == (False, 2, "its content does not match its hash")

    async with api.engine.begin() as conn:  # ... and makes its hash fit: the next row no longer follows it
        await conn.execute(text(f'SET LOCAL search_path = "{api.schema}"'))
        await conn.execute(text("UPDATE audit_log a SET hash = audit_log_digest(prev_hash, a) WHERE seq = 2"))
    v = await verified(api)
    assert (v["intact"], v["first_broken_seq"], v["reason"]) == (False, 3, "it does not follow the row before it")

    async with api.engine.begin() as conn:  # a row taken out of the middle
        await conn.execute(text(f'DELETE FROM "{api.schema}".audit_log WHERE seq IN (2, 3)'))
    v = await verified(api)
    assert (v["intact"], v["first_broken_seq"], v["reason"]) == (False, 4, "a row is missing before it")

    async with api.engine.begin() as conn:  # the last row taken away: the head still names it
        await conn.execute(text(f'DELETE FROM "{api.schema}".audit_log WHERE seq >= 2'))
    v = await verified(api)
    assert (v["intact"], v["first_broken_seq"], v["rows"]) == (False, 2, 1)
    assert v["reason"] == "the chain ends before its head: rows are missing at the end"


async def test_a_consumed_batch_that_moves_money_is_one_row_per_tenant_naming_the_files_and_records(api):
    await submit_claim(api, "PCN-1")
    await submit_claim(api, "PCN-1", "tenant-b")
    other = PAID.replace("000000901", "000000902")
    events = [RemittanceReceived(clearinghouse="sandbox", file_name=f"{i}.835", content=t,
                                 content_sha256=hashlib.sha256(t.encode()).hexdigest(), received_at=RECEIVED)
              for i, t in enumerate((PAID, other))]
    applier = await api.consume((events[0], "tenant-a", "tenant-a"), (events[1], "tenant-a", "tenant-a"),
                                (events[0], "tenant-b", "tenant-b"))
    assert applier.applied == 3
    [row] = await trail(api)
    assert (row["actor"], row["actor_kind"], row["roles"], row["category"], row["action"], row["outcome"],
            row["status"]) == ("remittance", "service", [], "money", "remittance.post_received", "allowed", None)
    assert row["resource_type"] == "remittance_file"
    assert row["resource_ids"] == sorted(e.content_sha256 for e in events)
    assert row["source"] == "kafka:test.events/0:0-1"
    assert row["detail"] == {"events": {events[0].event_type(): 2}}
    [row_b] = await trail(api, "tenant-b")
    assert row_b["resource_ids"] == [events[0].content_sha256] and row_b["source"] == "kafka:test.events/0:2-2"
    assert (await verified(api))["intact"] and (await verified(api, "tenant-b"))["intact"]
