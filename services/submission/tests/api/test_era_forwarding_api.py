"""835s arriving on a clearinghouse connection submission polls (a file-drop mailbox in a temporary directory):
forwarded to remittance as RemittanceReceived for the one tenant whose claims they pay, in the unit of work that
records the file; quarantined with the reason when the tenant is not certain, the file does not parse or is too
large for the event bus; a file polled again is a duplicate. In-process app, real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from rcm_contracts.claim import patient_control_number
from rcm_contracts.events import ClaimScrubbed
from rcm_runtime.clock import FixedClock
from rcm_submission.app import create_app
from rcm_submission.db import PHI, acknowledgment_files, metadata
from rcm_submission.service import TOO_LARGE, Submission
from rcm_submission.settings import Settings
from tests.support.api import ServiceApi, service_api
from tests.support.claims import make_address, make_claim, make_coverage, make_patient, make_provider
from tests.support.era835 import check, clp, era, svc

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
ops = ServiceApi.operator_headers  # a platform operator's token (rcm_runtime.ops)


async def app_with(tmp_path, **settings):
    boxes = {"box": {"kind": "file", "root": str(tmp_path / "box")}}
    return service_api(create_app, Settings, metadata, clock=FixedClock(NOW), clearinghouses=json.dumps(boxes),
                       default_clearinghouse="box", dispatch_enabled=False, interchange_usage="T", **settings)


@pytest.fixture
async def api(tmp_path):
    async with await app_with(tmp_path) as api:
        api.root = tmp_path
        api.submission = api.app.state.runtime.services[Submission]
        yield api


async def sent_claims(api, tenant: str, n: int = 1) -> list[str]:
    """n claims of `tenant` queued and sent in an 837 to the mailbox: their patient control numbers (CLM01)."""
    claims = [make_claim(claim_id=uuid.uuid4(), coverage=make_coverage(), patient=make_patient(address=make_address()),
                         billing_provider=make_provider(name="DEMO CLINIC", tax_id="123456789",
                                                        address=make_address(line1="1 Main St", postal_code="021101234")))
              for _ in range(n)]
    applier = await api.consume(*((ClaimScrubbed(claim=c, decision="clean"), tenant, c.claim_id) for c in claims))
    assert applier.applied == n
    await api.submission.dispatch_once()
    pcns = [patient_control_number(c.claim_id) for c in claims]
    statuses = await api.scalar("SELECT json_agg(status) FROM submissions WHERE tenant_id = :t", t=tenant)
    assert statuses and set(statuses) == {"sent"}
    return pcns


def paying(*pcns: str, isa13: str = "000000901") -> str:
    return era(check([clp(p, "100.00", "80.00", pccn=f"SBX{n:07d}",
                          lines=[svc("99213", "100.00", "80.00", cas=[("CO", "45", "20.00")])])
                      for n, p in enumerate(pcns, start=1)], payer_id="SBX01"), isa13=isa13)


def drop(api, name: str, text: str) -> None:
    inbox = api.root / "box" / "from-clearinghouse"
    (inbox / name).write_text(text, encoding="utf-8")


async def files(api) -> list[dict]:
    resp = await api.client.get("/v1/acknowledgments", headers=ops())
    assert resp.status_code == 200
    return resp.json()["files"]



async def stored_content(api, name: str | None = None) -> str:
    """An acknowledgment file's content as stored: sealed (rcm_runtime.phi), opened here."""
    async with api.engine.connect() as conn:
        row = (await conn.execute(text("SELECT tenant_id, content FROM acknowledgment_files"
                                       + (" WHERE name = :n" if name else "")), {"n": name})).mappings().first()
    assert row["content"].startswith("phi1.")
    return PHI.open(acknowledgment_files, row)["content"]

async def test_an_835_paying_one_tenants_claims_is_forwarded_to_remittance_for_that_tenant(api):
    pcns = await sent_claims(api, "tenant-a", 2)
    await sent_claims(api, "tenant-b")  # another tenant's claim in flight changes nothing
    text = paying(*pcns, "NEVER-SENT-BY-US")  # a claim we do not know rides along: remittance queues it
    drop(api, "000000901.835", text)

    assert await api.submission.poll_acknowledgments() == 1

    [row] = await files(api)
    assert {k: row[k] for k in ("clearinghouse", "name", "kind", "status", "reason", "tenant_id")} == {
        "clearinghouse": "box", "name": "000000901.835", "kind": "835", "status": "forwarded", "reason": None,
        "tenant_id": "tenant-a"}
    assert "content" not in row
    [event] = await api.outbox_events("remittance-received")
    sha = hashlib.sha256(text.encode()).hexdigest()
    assert event["tenantid"] == "tenant-a" and event["partitionkey"] == "tenant-a"
    assert event["subject"] == f"remittance-file/{sha}" and event["source"] == "/rcm/submission"
    assert event["data"] == {"clearinghouse": "box", "file_name": "000000901.835", "content": text,
                             "content_sha256": sha, "received_at": "2026-11-30T15:00:00Z"}
    assert await stored_content(api) == text  # kept verbatim, as every file (sealed at rest: rcm_runtime.phi)
    assert not list((api.root / "box" / "from-clearinghouse").iterdir())  # archived: the clearinghouse may forget it
    assert [p.name for p in (api.root / "box" / "archive").iterdir()] == ["000000901.835"]
    # claims are paid through remittance, not acknowledged here
    assert await api.scalar("SELECT json_agg(DISTINCT status) FROM submissions") == ["sent"]
    assert await api.outbox_events("claim-acknowledged") == []


async def test_the_same_835_polled_again_is_a_duplicate_and_emits_nothing_more(api):
    [pcn] = await sent_claims(api, "tenant-b")
    text = paying(pcn)
    drop(api, "000000901.835", text)
    await api.submission.poll_acknowledgments()
    drop(api, "again.835", text)  # the clearinghouse delivers it once more, under another name
    await api.submission.poll_acknowledgments()
    result = await api.submission.receive_acknowledgment("box", "third", text)
    assert (result.kind, result.status) == ("unknown", "duplicate")
    assert [(f["name"], f["status"]) for f in await files(api)] == [("000000901.835", "forwarded")]
    [event] = await api.outbox_events("remittance-received")
    assert event["tenantid"] == "tenant-b"


@pytest.mark.parametrize("case", ["unknown", "mixed", "garbage", "no_claim"])
async def test_an_835_without_one_certain_tenant_is_quarantined_with_the_reason(api, case):
    a = await sent_claims(api, "tenant-a")
    b = await sent_claims(api, "tenant-b")
    text, reason = {
        "unknown": (paying("NEVER-SENT-1", "NEVER-SENT-2"),
                    "the 835 names none of the claims this deployment sent (2 claims)"),
        "mixed": (paying(*a, *b), "the 835 pays claims of 2 tenants; a check pays one payee: split it, or upload "
                                  "it through POST /v1/remittances/x12 per tenant"),
        # an 835 broken in its middle (a segment without a valid tag)
        "garbage": (paying(*a).replace("~LX*1~", "~LX*1~%%*1~"),
                    "does not parse: segment #12 does not start with a valid segment tag"),
        "no_claim": (era(check([], payer_id="SBX01")), "the 835 pays no claim (no CLP segment)"),
    }[case]
    drop(api, f"{case}.835", text)
    assert await api.submission.poll_acknowledgments() == 1
    [row] = await files(api)
    assert (row["status"], row["reason"], row["tenant_id"]) == ("quarantined", reason, None)
    assert row["kind"] == ("unknown" if case == "garbage" else "835")
    assert await api.outbox_events("remittance-received") == []
    assert [f["status"] for f in await files(api) if f["status"] == "quarantined"] == ["quarantined"]
    assert not any(p in reason for p in a + b)  # no claim numbers (they stand for patients' claims) in reasons


async def test_an_835_too_large_for_the_event_bus_is_quarantined_for_an_upload(tmp_path):
    async with await app_with(tmp_path, era_event_max_bytes=4000) as api:
        api.root = tmp_path
        api.submission = api.app.state.runtime.services[Submission]
        pcns = await sent_claims(api, "tenant-a", 3)
        small = paying(pcns[0])
        large = paying(*pcns, *(f"UNKNOWN{n:03d}" for n in range(30)), isa13="000000902")
        assert len(small) < 4000 < len(large)
        drop(api, "large.835", large)
        await api.submission.poll_acknowledgments()
        drop(api, "small.835", small)
        await api.submission.poll_acknowledgments()
        rows = {f["name"]: f for f in await files(api)}
        assert rows["large.835"]["status"] == "quarantined" and rows["large.835"]["tenant_id"] == "tenant-a"
        assert rows["large.835"]["reason"].startswith(TOO_LARGE)
        assert TOO_LARGE == "too large for the event bus: upload it through POST /v1/remittances/x12"
        assert rows["small.835"]["status"] == "forwarded"
        assert [e["data"]["file_name"] for e in await api.outbox_events("remittance-received")] == ["small.835"]
        assert await stored_content(api, "large.835") == large  # kept


async def test_an_operator_can_hand_in_an_835_and_it_is_forwarded_like_a_polled_one(api):
    [pcn] = await sent_claims(api, "tenant-a")
    resp = await api.client.post("/v1/acknowledgments", params={"clearinghouse": "box", "name": "pushed.835"},
                                 content=paying(pcn).encode(), headers={"content-type": "application/edi-x12", **ops()})
    assert resp.status_code == 200
    assert resp.json() == {"kind": "835", "status": "forwarded", "reason": None, "claims_updated": 0,
                           "issues": []}
    [event] = await api.outbox_events("remittance-received")
    assert event["tenantid"] == "tenant-a" and event["data"]["file_name"] == "pushed.835"
