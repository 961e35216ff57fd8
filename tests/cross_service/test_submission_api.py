"""submission's routers, consumer handlers and background use cases in-process (its own create_app, httpx ASGI
transport) against the real PostgreSQL, with file-drop clearinghouses in a temporary directory (no network)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import text

from rcm_charges.domain.claim_builder import build_claim
from rcm_contracts.claim import Adjustment, patient_control_number
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import ClaimScrubbed, EncounterSubmitted, PaymentPosted
from rcm_runtime.clock import FixedClock
from rcm_runtime.consumer import BatchApplier, decode_record
from rcm_sandbox.domain.clearinghouse import answer_837
from rcm_submission.app import create_app
from rcm_submission.db import metadata
from rcm_submission.service import Submission, secondary_claim_id
from rcm_submission.settings import Settings
from tests.support.api import ServiceApi, service_api
from tests.support.encounters import PROVIDER_PROFILES, generate

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
ops = ServiceApi.operator_headers  # a platform operator's token (rcm_runtime.ops)
PAYERS = {"SBX01", "SBX02"}


def claims(n: int, *, seed: int = 11, payer_id: str = "SBX01", scenario: str = "paid"):
    out = []
    for g in generate(n, seed=seed, scenarios=[scenario]):
        body = {**g.body, "billing_provider": PROVIDER_PROFILES[0],
                "coverage": {**g.body["coverage"], "payer_id": payer_id}}
        out.append(build_claim(EncounterSubmitted.model_validate(body), claim_id=uuid.uuid4(), encounter_id=uuid.uuid4()))
    return out


@pytest.fixture
async def api(tmp_path):
    clock = FixedClock(NOW)
    boxes = {"box": {"kind": "file", "root": str(tmp_path / "box")},
             "other": {"kind": "file", "root": str(tmp_path / "other")}}
    async with service_api(create_app, Settings, metadata, clock=clock, clearinghouses=json.dumps(boxes),
                           default_clearinghouse="box", dispatch_enabled=False, interchange_usage="T") as api:
        api.clock = clock
        api.root = tmp_path
        api.submission = api.app.state.runtime.services[Submission]
        yield api


async def execute(api, sql: str, **params) -> None:
    """A committed write (api.scalar reads without committing)."""
    async with api.engine.begin() as conn:
        await conn.execute(text(sql), params)


def headers(api, tenant: str = "tenant-a", user: str = "pat.biller"):
    return api.headers(tenant, user=user)


async def queue(api, *batch, tenant: str = "tenant-a", decision: str = "clean"):
    return await api.consume(*((ClaimScrubbed(claim=c, decision=decision), tenant, c.claim_id) for c in batch))


def sent_files(api, box: str = "box") -> list[Path]:
    return sorted((api.root / box / "to-clearinghouse").glob("*.837"))


async def answer_from_clearinghouse(api, box: str = "box", not_enrolled: set[str] = frozenset()) -> list[str]:
    """Play the clearinghouse: answer every 837 in the mailbox with its 999 and 277CA (the sandbox's own rules)."""
    names = []
    for i, path in enumerate(sent_files(api, box)):
        answer = answer_837(path.read_text(), payers=PAYERS, not_enrolled_npis=set(not_enrolled),
                            control_number=900 + i, now=NOW)
        for name, content in answer.files:
            (api.root / box / "from-clearinghouse" / name).write_text(content)
            names.append(name)
        path.unlink()
    return names


async def accepted_claim(api, tenant: str = "tenant-a", seed: int = 11):
    [claim] = claims(1, seed=seed)
    await queue(api, claim, tenant=tenant)
    await api.submission.dispatch_once()
    await answer_from_clearinghouse(api)
    await api.submission.poll_acknowledgments()
    return claim


def posted(claim, *, paid: str = "60.00") -> PaymentPosted:
    return PaymentPosted(claim_id=claim.claim_id, remittance_id=uuid.uuid4(), payer_id="SBX01",
                         payer_claim_control_number="SBX0001", total_charge=claim.total_charge,
                         allowed_amount=Decimal(paid), paid_amount=Decimal(paid),
                         patient_responsibility=Decimal("0.00"),
                         adjustments=[Adjustment(group_code="CO", reason_code="45",
                                                 amount=claim.total_charge - Decimal(paid))],
                         outcome="paid", payment_date=date(2026, 11, 20))


async def redeliver(api, event, tenant: str, key) -> list[BatchApplier]:
    """The same record (one event id) consumed twice, in two batches, as after a rebalance."""
    rt = api.app.state.runtime
    env = new_envelope(event, service="test", tenant_id=tenant, key=str(key))
    appliers = []
    for offset in range(2):
        record = ConsumerRecord(topic="test.events", partition=0, offset=offset, timestamp=0, timestamp_type=0,
                                key=str(key).encode(), value=env.to_bytes(), checksum=None, serialized_key_size=0,
                                serialized_value_size=0, headers=())
        applier = BatchApplier(api.engine, rt.handlers, api.settings.service_name, rt.out_topic, clock=rt.clock)
        await applier.apply_with_fallback([decode_record(record)], max_retries=1, backoff_s=0)
        appliers.append(applier)
    return appliers


# ---------------------------------------------------------------- consumer handlers
async def test_a_clean_scrubbed_claim_is_queued_once_and_a_review_claim_is_not(api):
    clean, review = claims(2)
    await queue(api, clean)
    await queue(api, review, decision="review")
    row = (await api.client.get(f"/v1/claims/{clean.claim_id}", headers=api.headers())).json()
    assert row["status"] == "queued" and row["payer_id"] == "SBX01" and row["tenant_id"] == "tenant-a"
    assert row["patient_control_number"] == patient_control_number(clean.claim_id)
    assert datetime.fromisoformat(row["queued_at"]) == NOW  # the injected clock
    assert (await api.client.get(f"/v1/claims/{review.claim_id}", headers=api.headers())).status_code == 404
    first, again = await redeliver(api, ClaimScrubbed(claim=clean, decision="clean"), "tenant-a", clean.claim_id)
    assert (first.applied, again.applied, again.duplicates) == (1, 0, 1)
    assert await api.scalar("SELECT count(*) FROM submissions") == 1
    assert await api.outbox_events() == []  # queueing emits nothing


async def test_a_claim_already_sent_is_not_queued_again_by_a_later_scrub(api):
    [claim] = claims(1)
    await queue(api, claim)
    await api.submission.dispatch_once()
    await queue(api, claim)  # the scrubber's event again, under a new id
    assert await api.scalar("SELECT status FROM submissions") == "sent"
    assert await api.scalar("SELECT attempts FROM submissions") == 1


async def test_a_posted_payment_is_kept_once_for_the_secondary_claim(api):
    [claim] = claims(1)
    first, again = await redeliver(api, posted(claim), "tenant-a", claim.claim_id)
    assert (first.applied, again.duplicates) == (1, 1)
    assert await api.scalar("SELECT count(*) FROM primary_payments") == 1
    assert await api.scalar("SELECT payment->>'paid_amount' FROM primary_payments WHERE tenant_id = 'tenant-a'") == "60.00"


async def test_another_tenants_payment_for_the_same_claim_id_does_not_stand_in_for_this_tenants(api):
    """primary_payments is keyed by (tenant, claim): tenant b's payment naming tenant a's claim id, arriving first,
    is kept for tenant b only; tenant a's own payment is still kept and is what a's secondary claim carries."""
    claim = await accepted_claim(api, seed=23)
    await api.consume((posted(claim, paid="1.00"), "tenant-b", claim.claim_id))
    await api.consume((posted(claim, paid="60.00"), "tenant-a", claim.claim_id))
    assert await api.scalar("SELECT json_object_agg(tenant_id, payment->>'paid_amount') FROM primary_payments") == {
        "tenant-a": "60.00", "tenant-b": "1.00"}
    coverage = {"payer_id": "SBX02", "payer_name": "Sandbox Medicare Advantage", "member_id": "M55501234"}
    resp = await api.client.post(f"/v1/claims/{claim.claim_id}/secondary", json={"coverage": coverage},
                                 headers=headers(api))
    assert resp.status_code == 201
    row = (await api.client.get(f"/v1/claims/{resp.json()['claim_id']}", headers=api.headers())).json()
    assert row["claim"]["other_payers"][0]["paid_amount"] == "60.00"
    theirs = await api.client.post(f"/v1/claims/{claim.claim_id}/secondary", json={"coverage": coverage},
                                   headers=headers(api, "tenant-b"))
    assert theirs.status_code == 404  # tenant b has no such claim at submission: its payment alone bills nothing


async def test_another_tenants_claim_with_the_same_id_is_its_own_row_sent_and_acknowledged_for_its_tenant(api):
    """submissions is keyed by (tenant, claim): tenant b's clean claim carrying tenant a's claim id is queued as its
    own row (tenant a's stays as it was), each goes out in its own tenant's interchange, and each 277CA (both name
    the same CLM01) is applied to the tenant whose interchange it answers."""
    [ours] = claims(1, seed=24)
    await queue(api, ours)
    before = (await api.client.get(f"/v1/claims/{ours.claim_id}", headers=api.headers())).json()
    [theirs] = claims(1, seed=25)
    theirs = theirs.model_copy(update={"claim_id": ours.claim_id})
    await queue(api, theirs, tenant="tenant-b")
    assert (await api.client.get(f"/v1/claims/{ours.claim_id}", headers=api.headers())).json() == before
    their_row = (await api.client.get(f"/v1/claims/{ours.claim_id}", headers=api.headers("tenant-b"))).json()
    assert their_row["tenant_id"] == "tenant-b" and their_row["status"] == "queued"
    assert their_row["claim"]["source_encounter_id"] == theirs.source_encounter_id != ours.source_encounter_id

    await api.submission.dispatch_once()
    assert len(sent_files(api)) == 2  # one interchange per tenant
    await answer_from_clearinghouse(api)
    assert await api.submission.poll_acknowledgments() == 4  # two 999s, two 277CAs
    rows = {t: (await api.client.get(f"/v1/claims/{ours.claim_id}", headers=api.headers(t))).json()
            for t in ("tenant-a", "tenant-b")}
    assert {t: (r["status"], r["attempts"]) for t, r in rows.items()} == {"tenant-a": ("accepted", 1),
                                                                          "tenant-b": ("accepted", 1)}
    assert rows["tenant-a"]["interchange_control_number"] != rows["tenant-b"]["interchange_control_number"]
    acks = await api.outbox_events("claim-acknowledged")
    assert sorted((e["tenantid"], e["data"]["accepted"]) for e in acks) == [("tenant-a", True), ("tenant-b", True)]
    files = await api.scalar("SELECT json_agg(claims_updated ORDER BY id) FROM acknowledgment_files WHERE kind = '277CA'")
    assert files == [1, 1]


async def test_a_277ca_naming_a_clm01_two_tenants_share_is_applied_only_through_the_interchange_it_names(api):
    """CLM01 is derived from the claim id, so two tenants' claims with the same id share it. A 277CA whose batch
    (2200B TRN02, our BHT03 = the interchange control number) names neither interchange is applied to neither
    tenant (quarantined with the reason); the real one is applied to the tenant whose interchange it answers."""
    [ours] = claims(1, seed=26)
    [theirs] = claims(1, seed=27)
    await queue(api, ours)
    await queue(api, theirs.model_copy(update={"claim_id": ours.claim_id}), tenant="tenant-b")
    await api.submission.dispatch_once()
    await answer_from_clearinghouse(api)
    inbox = api.root / "box" / "from-clearinghouse"
    ca = next(p for p in sorted(inbox.iterdir()) if p.suffix == ".277")
    content = ca.read_text()
    segments = [seg.strip() for seg in content.split("~")]
    [batch] = [seg.split("*")[2] for before, seg in zip(segments, segments[1:])
               if before.startswith("NM1*41*") and seg.startswith("TRN*2*")]  # 2200B: the submitter's batch
    assert content.count(f"TRN*2*{batch}~") == 1
    tampered = content.replace(f"TRN*2*{batch}~", "TRN*2*NOSUCHBATCH~")

    def hand_in(text: str, name: str):
        return api.client.post("/v1/acknowledgments", params={"clearinghouse": "box", "name": name},
                               content=text.encode(), headers={"content-type": "application/edi-x12", **ops()})

    neither = await hand_in(tampered, "tampered.277")
    assert neither.status_code == 422 and neither.json()["code"] == "quarantined"
    assert neither.json()["errors"] == [{"kind": "277CA", "status": "quarantined", "claims_updated": 0, "reason":
                                         "the 277CA names a CLM01 that claims of several tenants share, and its "
                                         "batch (2200B TRN02) names none of their interchanges", "issues": []}]
    assert await api.scalar("SELECT json_agg(status) FROM submissions") == ["sent", "sent"]
    assert await api.outbox_events("claim-acknowledged") == []

    real = await hand_in(content, ca.name)
    assert real.json() == {"kind": "277CA", "status": "processed", "reason": None, "claims_updated": 1, "issues": []}
    statuses = await api.scalar("SELECT json_object_agg(tenant_id, status || '@' || interchange_control_number) "
                                "FROM submissions")
    answered = next(t for t, v in statuses.items() if v.endswith(f"@{batch}"))
    assert statuses == {answered: f"accepted@{batch}",
                        **{t: v for t, v in statuses.items() if t != answered and v.startswith("sent@")}}
    [ack] = await api.outbox_events("claim-acknowledged")
    assert ack["tenantid"] == answered and ack["partitionkey"] == str(ours.claim_id)


# ---------------------------------------------------------------- dispatch and acknowledgments (background use cases)
async def test_dispatch_writes_one_valid_837p_per_payer_and_marks_its_claims_sent(api):
    one, two = claims(2, seed=12)
    [other_payer] = claims(1, seed=13, payer_id="SBX02")
    await queue(api, one, two, other_payer)
    assert await api.submission.dispatch_once() == 3
    files = sent_files(api)
    assert len(files) == 2  # one interchange per (tenant, payer)
    texts = {f.name: f.read_text() for f in files}
    assert sorted(t.count("CLM*") for t in texts.values()) == [1, 2]
    assert all(t.startswith("ISA*") and "*005010X222A1~" in t for t in texts.values())
    for content in texts.values():  # the 837P the sandbox clearinghouse validates: accepted whole
        assert answer_837(content, payers=PAYERS, not_enrolled_npis=set(), control_number=1, now=NOW).accepted
    rows = {r["claim_id"]: r for r in (await api.client.get("/v1/submissions", headers=api.headers())).json()["items"]}
    assert {rows[str(c.claim_id)]["status"] for c in (one, two, other_payer)} == {"sent"}
    assert {rows[str(c.claim_id)]["clearinghouse"] for c in (one, two, other_payer)} == {"box"}
    icn = rows[str(one.claim_id)]["interchange_control_number"]
    assert f"{icn}.837" in texts and rows[str(two.claim_id)]["interchange_control_number"] == icn
    assert await api.scalar("SELECT count(*) FROM interchanges WHERE status = 'sent'") == 2
    submitted = await api.outbox_events("claim-submitted")
    assert sorted(e["data"]["claim_id"] for e in submitted) == sorted(str(c.claim_id) for c in (one, two, other_payer))
    assert {e["tenantid"] for e in submitted} == {"tenant-a"}
    assert {e["data"]["submitted_at"] for e in submitted} == {NOW.isoformat().replace("+00:00", "Z")}
    assert await api.submission.dispatch_once() == 0  # nothing left queued


async def test_an_interchange_not_handed_over_is_sent_again_after_the_resend_delay(api):
    [claim] = claims(1)
    await queue(api, claim)
    await api.submission.dispatch_once()
    [file] = sent_files(api)
    file.unlink()  # as if the process died after recording it
    await execute(api, "UPDATE interchanges SET status = 'sending'")
    assert await api.submission.resend_unconfirmed() == 0  # too early: the hand-over may still be under way
    api.clock.advance(timedelta(seconds=31))
    assert await api.submission.resend_unconfirmed() == 1
    assert [f.name for f in sent_files(api)] == [file.name]
    assert await api.scalar("SELECT status FROM interchanges") == "sent"


async def test_a_route_to_a_clearinghouse_without_a_connection_returns_the_claim_to_review(api):
    [claim] = claims(1)
    await execute(api, "INSERT INTO clearinghouse_routes (tenant_id, payer_id, clearinghouse, updated_by) "
                       "VALUES ('tenant-a', 'SBX01', 'gone', 'x')")
    await queue(api, claim)
    await api.submission.dispatch_once()
    assert sent_files(api) == [] and await api.scalar("SELECT status FROM submissions") == "returned"
    [returned] = await api.outbox_events("claim-returned")
    assert returned["data"]["stage"] == "build" and returned["data"]["findings"][0]["code"] == "ROUTE"


async def test_polled_999_and_277ca_accept_the_claims_and_feed_first_pass_acceptance(api):
    good, not_enrolled = claims(2, seed=14)
    not_enrolled = not_enrolled.model_copy(update={"billing_provider": not_enrolled.billing_provider.model_copy(
        update={"npi": "1346053105"})})
    await queue(api, good, not_enrolled)
    await api.submission.dispatch_once()
    names = await answer_from_clearinghouse(api, not_enrolled={"1346053105"})
    assert [n.rsplit(".", 1)[1] for n in names] == ["999", "277"]
    assert await api.submission.poll_acknowledgments() == 2
    assert sorted(p.name for p in (api.root / "box" / "archive").iterdir()) == sorted(names)
    row = (await api.client.get(f"/v1/claims/{good.claim_id}", headers=api.headers())).json()
    assert row["status"] == "accepted" and row["payer_claim_control_number"].startswith("SBX")
    assert row["first_pass_accepted"] is True
    rejected = (await api.client.get(f"/v1/claims/{not_enrolled.claim_id}", headers=api.headers())).json()
    assert rejected["status"] == "rejected" and rejected["ever_rejected"] is True
    acks = {e["data"]["claim_id"]: e for e in await api.outbox_events("claim-acknowledged")}
    assert acks[str(good.claim_id)]["data"]["accepted"] is True and acks[str(good.claim_id)]["tenantid"] == "tenant-a"
    assert acks[str(not_enrolled.claim_id)]["data"]["accepted"] is False
    [returned] = await api.outbox_events("claim-returned")
    assert returned["data"]["claim_id"] == str(not_enrolled.claim_id) and returned["data"]["stage"] == "277CA"
    icn = row["interchange_control_number"]
    assert await api.scalar("SELECT status FROM interchanges WHERE interchange_control_number = :i", i=icn) == "accepted"

    acceptance = (await api.client.get("/v1/acceptance", headers=api.headers())).json()
    assert acceptance == {"acknowledged": 2, "first_pass_accepted": 1, "first_pass_rate": 0.5, "payers": [
        {"payer_id": "SBX01", "acknowledged": 2, "first_pass_accepted": 1, "ever_rejected": 1,
         "first_pass_rate": 0.5}]}
    theirs = (await api.client.get("/v1/acceptance", headers=api.headers("tenant-b"))).json()
    assert theirs == {"acknowledged": 0, "first_pass_accepted": 0, "first_pass_rate": None, "payers": []}


# ---------------------------------------------------------------- reads
async def test_an_interchange_is_shown_as_sent_only_to_its_tenant(api):
    [claim] = claims(1)
    await queue(api, claim)
    await api.submission.dispatch_once()
    icn = await api.scalar("SELECT interchange_control_number FROM interchanges")
    mine = await api.client.get(f"/v1/interchanges/{icn}", headers=api.headers())
    assert mine.status_code == 200
    body = mine.json()
    assert body["content"] == sent_files(api)[0].read_text() and body["claim_count"] == 1
    assert body["status"] == "sent" and body["clearinghouse"] == "box"
    theirs = await api.client.get(f"/v1/interchanges/{icn}", headers=api.headers("tenant-b"))
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"
    assert (await api.client.get("/v1/interchanges/000000999", headers=api.headers())).status_code == 404


async def test_claims_and_the_queue_are_listed_only_to_their_tenant(api):
    [mine] = claims(1, seed=15)
    [theirs] = claims(1, seed=16)
    await queue(api, mine)
    await queue(api, theirs, tenant="tenant-b")
    listed = (await api.client.get("/v1/submissions", params={"status": "queued"}, headers=api.headers())).json()
    assert listed["total"] == 1 and listed["items"][0]["claim_id"] == str(mine.claim_id)
    assert (await api.client.get(f"/v1/claims/{theirs.claim_id}", headers=api.headers())).status_code == 404


# ---------------------------------------------------------------- acknowledgment files handed in by operators
async def test_an_acknowledgment_handed_in_applies_once_and_is_listed_for_operators(api):
    [claim] = claims(1, seed=17)
    await queue(api, claim)
    await api.submission.dispatch_once()
    await answer_from_clearinghouse(api)
    inbox = api.root / "box" / "from-clearinghouse"
    [ca] = [p for p in inbox.iterdir() if p.suffix == ".277"]
    handed = await api.client.post("/v1/acknowledgments", params={"clearinghouse": "box", "name": ca.name},
                                   content=ca.read_bytes(), headers={"content-type": "application/edi-x12", **ops()})
    assert handed.status_code == 200
    assert handed.json() == {"kind": "277CA", "status": "processed", "reason": None, "claims_updated": 1,
                             "issues": []}
    again = await api.client.post("/v1/acknowledgments", params={"clearinghouse": "box"}, content=ca.read_bytes(),
                                  headers=ops())
    assert again.json()["status"] == "duplicate"
    assert await api.scalar("SELECT status FROM submissions") == "accepted"
    [ack] = await api.outbox_events("claim-acknowledged")
    assert ack["tenantid"] == "tenant-a" and ack["data"]["accepted"] is True

    files = (await api.client.get("/v1/acknowledgments", headers=ops())).json()["files"]
    assert [(f["name"], f["kind"], f["status"], f["claims_updated"]) for f in files] == [(ca.name, "277CA", "processed", 1)]
    assert "content" not in files[0]


async def test_an_unreadable_or_unknown_acknowledgment_is_quarantined_and_changes_no_claim(api):
    [claim] = claims(1, seed=18)
    await queue(api, claim)
    garbage = await api.client.post("/v1/acknowledgments", params={"clearinghouse": "box", "name": "junk.txt"},
                                    content=b"this is not X12", headers=ops())
    assert garbage.status_code == 422 and garbage.json()["code"] == "quarantined"
    assert garbage.json()["errors"][0]["status"] == "quarantined"
    assert await api.submission.dispatch_once() == 1
    answer = answer_837(sent_files(api)[0].read_text(), payers=PAYERS, not_enrolled_npis=set(), control_number=5, now=NOW)
    [(name, ack_999), _] = answer.files
    unknown = await api.client.post("/v1/acknowledgments", params={"clearinghouse": "other", "name": name},
                                    content=ack_999.encode(), headers=ops())  # names a group 'other' never sent
    assert unknown.status_code == 422 and "did not send" in unknown.json()["description"]
    assert await api.scalar("SELECT status FROM submissions") == "sent"
    assert await api.outbox_events("claim-acknowledged") == []
    quarantined = (await api.client.get("/v1/acknowledgments", params={"status": "quarantined"}, headers=ops())).json()
    assert [f["name"] for f in quarantined["files"]] == [name, "junk.txt"]  # newest first


def other_delimiters(text: str) -> str:
    """The same interchange written with '|' elements, '{' repetitions, '>' components and '!' terminators."""
    return text.translate(str.maketrans({"*": "|", "^": "{", ":": ">", "~": "!"}))


async def test_acknowledgment_files_of_several_interchanges_are_read_whole_and_return_their_issues(api):
    """A 999 file and a 277CA file each holding the answers to two interchanges (the second with its own
    delimiters, after blank lines) apply to both; beside them, a 4010 interchange is refused and a group we never
    sent is ignored, each named in the response's issues, without quarantining what is ours."""
    batch = claims(1, seed=31, payer_id="SBX01") + claims(1, seed=32, payer_id="SBX02")
    await queue(api, *batch)
    await api.submission.dispatch_once()
    assert len(sent_files(api)) == 2  # one interchange per payer
    answers = [dict(answer_837(path.read_text(), payers=PAYERS, not_enrolled_npis=set(), control_number=700 + i,
                               now=NOW).files) for i, path in enumerate(sent_files(api))]
    acks_999 = [next(c for n, c in a.items() if n.endswith(".999")) for a in answers]
    acks_277 = [next(c for n, c in a.items() if n.endswith(".277")) for a in answers]
    [sent_group] = {seg.split("*")[2] for seg in acks_999[0].split("~") if seg.startswith("AK1*")}
    as_4010 = acks_999[0].replace("*^*00501*", "*U*00401*", 1).replace("005010X231A1", "004010X231")
    never_sent = acks_999[0].replace(f"AK1*HC*{sent_group}*", "AK1*HC*424242*")

    def hand_in(content: str, name: str):
        return api.client.post("/v1/acknowledgments", params={"clearinghouse": "box", "name": name},
                               content=content.encode(), headers={"content-type": "application/edi-x12", **ops()})

    file_999 = acks_999[0] + "\r\n\n" + other_delimiters(acks_999[1]) + "\n" + as_4010 + never_sent
    resp = await hand_in(file_999, "both.999")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["kind"], body["status"], body["reason"]) == ("999", "processed", None)
    assert [(i["interchange"], i["kind"], i["code"]) for i in body["issues"]] == [
        (3, "rejected_interchange", "other_version"), (4, "warning", "unknown_group")]
    assert "(GS08) is not 5010" in body["issues"][0]["reason"]
    assert await api.scalar("SELECT json_agg(status) FROM interchanges") == ["accepted", "accepted"]

    resp = await hand_in(acks_277[0] + "\n\n" + other_delimiters(acks_277[1]), "both.277")
    assert resp.json() == {"kind": "277CA", "status": "processed", "reason": None, "claims_updated": 2, "issues": []}
    assert await api.scalar("SELECT json_agg(status) FROM submissions") == ["accepted", "accepted"]
    acks = await api.outbox_events("claim-acknowledged")
    assert sorted(str(e["partitionkey"]) for e in acks) == sorted(str(c.claim_id) for c in batch)


async def test_acknowledgment_files_need_a_platform_operators_token(api):
    """They span tenants: a tenant's admin (or an `operator` role in a tenant's token) is refused, like no token."""
    admin = await api.client.post("/v1/acknowledgments", params={"clearinghouse": "box"}, content=b"ISA~",
                                  headers=api.headers())
    tenant_operator = await api.client.get("/v1/acknowledgments", headers=api.headers(roles=["operator"]))
    nobody = await api.client.get("/v1/acknowledgments", headers={"x-ops-key": "guess"})
    assert admin.status_code == 403 and tenant_operator.status_code == 403 and nobody.status_code == 401
    assert admin.json()["code"] == "forbidden" and nobody.json()["code"] == "unauthenticated"
    assert await api.scalar("SELECT count(*) FROM acknowledgment_files") == 0
    missing = await api.client.post("/v1/acknowledgments", content=b"ISA~", headers=ops())
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "query.clearinghouse"


async def test_acknowledgment_uploads_are_rate_limited_once_the_operator_is_checked(tmp_path):
    boxes = {"box": {"kind": "file", "root": str(tmp_path / "box")}}
    async with service_api(create_app, Settings, metadata, clock=FixedClock(NOW), clearinghouses=json.dumps(boxes),
                           default_clearinghouse="box", dispatch_enabled=False,
                           intake_rate_per_s=0.01, intake_burst=1) as api:
        def upload(headers):
            return api.client.post("/v1/acknowledgments", params={"clearinghouse": "box", "name": "junk.txt"},
                                   content=b"not x12", headers=headers)

        assert (await upload(ops())).status_code == 422  # read and quarantined
        limited = await upload(ops())
        assert limited.status_code == 429 and limited.headers["retry-after"] == "100"
        assert limited.json()["code"] == "rate_limited"
        assert (await upload({"x-ops-key": "guess"})).status_code == 401  # authentication comes first
        assert (await upload(api.headers())).status_code == 403  # then the operator role, before the limit
        assert await api.scalar("SELECT count(*) FROM acknowledgment_files") == 1


# ---------------------------------------------------------------- routes
async def test_routes_are_set_listed_and_removed_per_tenant_and_steer_dispatch(api):
    put = await api.client.put("/v1/routes/SBX01", json={"clearinghouse": "other"}, headers=headers(api))
    assert put.status_code == 200 and put.json() == {"payer_id": "SBX01", "clearinghouse": "other"}
    listed = (await api.client.get("/v1/routes", headers=api.headers())).json()
    assert listed["fallback"] == "*"
    assert [(r["payer_id"], r["clearinghouse"], r["updated_by"]) for r in listed["routes"]] == [("SBX01", "other", "pat.biller")]
    assert (await api.client.get("/v1/routes", headers=api.headers("tenant-b"))).json()["routes"] == []

    [claim] = claims(1, seed=19)
    await queue(api, claim)
    await api.submission.dispatch_once()
    assert len(sent_files(api, "other")) == 1 and sent_files(api, "box") == []

    theirs = await api.client.delete("/v1/routes/SBX01", headers=headers(api, "tenant-b"))
    assert theirs.status_code == 204
    assert len((await api.client.get("/v1/routes", headers=api.headers())).json()["routes"]) == 1  # untouched
    gone = await api.client.delete("/v1/routes/SBX01", headers=headers(api))
    assert gone.status_code == 204
    assert (await api.client.get("/v1/routes", headers=api.headers())).json()["routes"] == []


async def test_a_route_to_an_unknown_clearinghouse_is_refused_naming_the_configured_ones(api):
    resp = await api.client.put("/v1/routes/SBX01", json={"clearinghouse": "nowhere"}, headers=headers(api))
    assert resp.status_code == 422 and resp.json()["code"] == "unknown_clearinghouse"
    assert resp.json()["errors"] == [{"field": "clearinghouse", "reason": "configured: box, other"}]
    blank = await api.client.put("/v1/routes/SBX01", json={"clearinghouse": ""}, headers=headers(api))
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "body.clearinghouse"
    coder = await api.client.put("/v1/routes/SBX01", json={"clearinghouse": "box"},
                                 headers=api.headers(user="pat.biller", roles=["coder"]))
    assert coder.status_code == 403 and coder.json()["permission"] == "routes.write"
    named_only = await api.client.delete("/v1/routes/SBX01", headers={"X-User": "pat.biller"})
    assert named_only.status_code == 401
    assert await api.scalar("SELECT count(*) FROM clearinghouse_routes") == 0


async def test_changing_a_route_records_who_changed_it_and_when(api):
    await api.client.put("/v1/routes/*", json={"clearinghouse": "box"}, headers=headers(api, user="first.user"))
    api.clock.advance(timedelta(hours=2))
    await api.client.put("/v1/routes/*", json={"clearinghouse": "other"}, headers=headers(api, user="second.user"))
    [route] = (await api.client.get("/v1/routes", headers=api.headers())).json()["routes"]
    assert (route["payer_id"], route["clearinghouse"], route["updated_by"]) == ("*", "other", "second.user")
    assert datetime.fromisoformat(route["updated_at"]) == NOW + timedelta(hours=2)


# ---------------------------------------------------------------- corrections and secondary claims
async def test_an_accepted_claim_is_replaced_with_its_payer_claim_number_and_audited(api):
    claim = await accepted_claim(api)
    pccn = await api.scalar("SELECT payer_claim_control_number FROM submissions")
    resp = await api.client.post(f"/v1/claims/{claim.claim_id}/corrections", headers=headers(api),
                                 json={"frequency_code": "7", "changes": {"place_of_service": "22"}, "note": "POS"})
    assert resp.status_code == 200
    assert resp.json() == {"claim_id": str(claim.claim_id), "status": "queued", "frequency_code": "7",
                           "original_claim_number": pccn}
    row = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert row["status"] == "queued" and row["frequency_code"] == "7" and row["claim"]["place_of_service"] == "22"
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()
    assert [(a["action"], a["actor"], a["detail"]) for a in audit["actions"]] == [
        ("frequency_7", "pat.biller", {"note": "POS", "changed": ["place_of_service"]})]
    assert (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers("tenant-b"))).json()["actions"] == []
    await api.submission.dispatch_once()
    [replacement] = sent_files(api)
    assert f"REF*F8*{pccn}~" in replacement.read_text() and "*11:B:7*" not in replacement.read_text()
    assert "*22:B:7*" in replacement.read_text()


async def test_a_replacement_from_denial_work_is_sent_again_once_per_request(api):
    """The scrubber's ClaimScrubbed for a corrected claim (frequency 7, resubmission_id) re-queues the accepted
    claim; the same request again (a new event id, as after a scrubber restart) or a plain later scrub does not."""
    claim = await accepted_claim(api)
    pccn = await api.scalar("SELECT payer_claim_control_number FROM submissions")
    request_id = uuid.uuid4()
    replacement = claim.model_copy(update={"frequency_code": "7", "original_claim_number": pccn,
                                           "prior_authorization": "AUTH-7781"})
    await api.consume((ClaimScrubbed(claim=replacement, decision="clean", resubmission_id=request_id), "tenant-a",
                       claim.claim_id))
    row = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert (row["status"], row["frequency_code"], row["resubmission_id"]) == ("queued", "7", str(request_id))
    await api.submission.dispatch_once()
    [sent] = sent_files(api)
    text_837 = sent.read_text()
    assert f"REF*F8*{pccn}~" in text_837 and "REF*G1*AUTH-7781~" in text_837 and ":B:7*" in text_837
    await answer_from_clearinghouse(api)
    await api.submission.poll_acknowledgments()
    assert await api.scalar("SELECT status FROM submissions") == "accepted"
    assert await api.scalar("SELECT attempts FROM submissions") == 2
    await api.consume((ClaimScrubbed(claim=replacement, decision="clean", resubmission_id=request_id), "tenant-a",
                       claim.claim_id))
    await api.consume((ClaimScrubbed(claim=claim, decision="clean"), "tenant-a", claim.claim_id))
    assert await api.scalar("SELECT status FROM submissions") == "accepted"
    await api.submission.dispatch_once()
    assert sent_files(api) == []
    submitted = [e["data"] for e in await api.outbox_events("claim-submitted")]
    assert [(e["frequency_code"], e["attempt"]) for e in submitted] == [("1", 1), ("7", 2)]


async def test_corrections_refuse_unknown_unaccepted_other_tenants_and_invalid_claims(api):
    [queued] = claims(1, seed=20)
    await queue(api, queued)
    not_accepted = await api.client.post(f"/v1/claims/{queued.claim_id}/corrections", headers=headers(api),
                                         json={"frequency_code": "8"})
    assert not_accepted.status_code == 409 and not_accepted.json()["code"] == "not_accepted"
    unknown = await api.client.post(f"/v1/claims/{uuid.uuid4()}/corrections", headers=headers(api),
                                    json={"frequency_code": "7"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    claim = await accepted_claim(api, seed=21)
    theirs = await api.client.post(f"/v1/claims/{claim.claim_id}/corrections", headers=headers(api, "tenant-b"),
                                   json={"frequency_code": "8"})
    assert theirs.status_code == 404
    bad_frequency = await api.client.post(f"/v1/claims/{claim.claim_id}/corrections", headers=headers(api),
                                          json={"frequency_code": "1"})
    assert bad_frequency.status_code == 422 and bad_frequency.json()["errors"][0]["field"] == "body.frequency_code"
    secret_name = "Zebediah-Secret"
    invalid = await api.client.post(f"/v1/claims/{claim.claim_id}/corrections", headers=headers(api),
                                    json={"frequency_code": "7", "changes": {"patient": {"last_name": secret_name}}})
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_claim"
    assert secret_name not in invalid.text and "patient" in invalid.json()["description"]
    analyst = await api.client.post(f"/v1/claims/{claim.claim_id}/corrections",
                                    headers=api.headers(user="pat.biller", roles=["analyst"]), json={"frequency_code": "8"})
    assert analyst.status_code == 403 and analyst.json()["permission"] == "claims.correct"
    assert await api.scalar("SELECT status FROM submissions WHERE claim_id = :c", c=claim.claim_id) == "accepted"
    assert await api.scalar("SELECT count(*) FROM submission_audit") == 0


async def test_a_secondary_claim_carries_the_primary_payment_and_is_audited(api):
    claim = await accepted_claim(api, seed=22)
    coverage = {"payer_id": "SBX02", "payer_name": "Sandbox Medicare Advantage", "member_id": "M55501234"}
    early = await api.client.post(f"/v1/claims/{claim.claim_id}/secondary", json={"coverage": coverage},
                                  headers=headers(api))
    assert early.status_code == 409 and early.json()["code"] == "not_accepted"
    await api.consume((posted(claim), "tenant-a", claim.claim_id))
    resp = await api.client.post(f"/v1/claims/{claim.claim_id}/secondary", json={"coverage": coverage},
                                 headers=headers(api))
    secondary_id = secondary_claim_id(claim.claim_id)
    assert resp.status_code == 201 and resp.json() == {"claim_id": str(secondary_id),
                                                       "primary_claim_id": str(claim.claim_id),
                                                       "status": "queued", "payer_id": "SBX02"}
    row = (await api.client.get(f"/v1/claims/{secondary_id}", headers=api.headers())).json()
    assert row["status"] == "queued" and row["claim"]["payer_responsibility"] == "S"
    assert row["claim"]["other_payers"][0]["paid_amount"] == "60.00"
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert [(a["action"], a["actor"], a["detail"]) for a in audit] == [
        ("secondary", "pat.biller", {"secondary_claim_id": str(secondary_id)})]
    await api.submission.dispatch_once()
    [file] = sent_files(api)
    assert "SBR*S*" in file.read_text() and "AMT*D*60~" in file.read_text()


async def test_a_secondary_claim_refuses_other_tenants_unknown_claims_and_bad_coverage(api):
    claim = await accepted_claim(api, seed=23)
    await api.consume((posted(claim), "tenant-a", claim.claim_id))
    coverage = {"payer_id": "SBX02", "payer_name": "Sandbox Medicare Advantage", "member_id": "M55501234"}
    theirs = await api.client.post(f"/v1/claims/{claim.claim_id}/secondary", json={"coverage": coverage},
                                   headers=headers(api, "tenant-b"))
    assert theirs.status_code == 404
    unknown = await api.client.post(f"/v1/claims/{uuid.uuid4()}/secondary", json={"coverage": coverage},
                                    headers=headers(api))
    assert unknown.status_code == 404
    bad = await api.client.post(f"/v1/claims/{claim.claim_id}/secondary", headers=headers(api),
                                json={"coverage": {"payer_id": "SBX02", "member_id": "M555-SECRET-1"}})
    assert bad.status_code == 422 and any(e["field"].startswith("body.coverage") for e in bad.json()["errors"])
    assert "M555-SECRET-1" not in bad.text
    assert await api.scalar("SELECT count(*) FROM submissions") == 1
    assert await api.scalar("SELECT count(*) FROM submission_audit") == 0


async def test_without_a_token_every_tenant_route_answers_401(api):
    cid = uuid.uuid4()
    for method, path, body in [("GET", "/v1/submissions", None), ("GET", f"/v1/claims/{cid}", None),
                               ("GET", "/v1/interchanges/000000001", None), ("GET", "/v1/acceptance", None),
                               ("GET", "/v1/routes", None), ("PUT", "/v1/routes/SBX01", {"clearinghouse": "box"}),
                               ("DELETE", "/v1/routes/SBX01", None), ("GET", f"/v1/claims/{cid}/audit", None),
                               ("POST", f"/v1/claims/{cid}/corrections", {"frequency_code": "8"}),
                               ("POST", f"/v1/claims/{cid}/secondary", {"coverage": {}})]:
        resp = await api.client.request(method, path, json=body, headers={"x-user": "pat.biller"})
        assert resp.status_code == 401, (method, path, resp.status_code)


# ---------------------------------------------------------------- coordination of benefits (automatic secondary)
SECONDARY = {"payer_id": "SBX02", "payer_name": "Sandbox Medigap", "member_id": "M55501234"}


def with_patient_share(claim, *, status: str = "1", share: str = "20.00", paid: str = "60.00") -> PaymentPosted:
    return posted(claim, paid=paid).model_copy(update={
        "remittance_id": uuid.uuid4(), "claim_status_code": status, "patient_responsibility": Decimal(share),
        "patient_responsibility_total": Decimal(share), "outcome": "partially_paid" if Decimal(share) else "paid",
        "adjustments": [Adjustment(group_code="CO", reason_code="45",
                                   amount=claim.total_charge - Decimal(paid) - Decimal(share)),
                        Adjustment(group_code="PR", reason_code="2", amount=Decimal(share))]})


async def accepted_claim_with_secondary(api, seed: int):
    [claim] = claims(1, seed=seed)
    claim = claim.model_copy(update={"secondary_coverage": claim.coverage.model_validate(SECONDARY)})
    await queue(api, claim)
    await api.submission.dispatch_once()
    await answer_from_clearinghouse(api)
    await api.submission.poll_acknowledgments()
    return claim


async def test_a_primary_payment_leaving_a_patient_share_sends_the_claim_on_to_the_secondary_coverage(api):
    claim = await accepted_claim_with_secondary(api, seed=31)
    [submitted] = await api.outbox_events("claim-submitted")
    assert submitted["data"]["next_payer_id"] == "SBX02" and submitted["data"]["payer_responsibility"] == "P"
    assert submitted["data"].get("primary_claim_id") is None

    payment = with_patient_share(claim)
    await api.consume((payment, "tenant-a", claim.claim_id))
    secondary_id = secondary_claim_id(claim.claim_id)
    row = (await api.client.get(f"/v1/claims/{secondary_id}", headers=api.headers())).json()
    assert row["status"] == "queued" and row["payer_id"] == "SBX02"
    assert row["claim"]["payer_responsibility"] == "S" and row["claim"]["secondary_coverage"] is None
    assert row["claim"]["other_payers"][0]["paid_amount"] == "60.00"
    assert {(a["group_code"], a["reason_code"], a["amount"]) for a in row["claim"]["other_payers"][0]["adjustments"]} \
        == {("CO", "45", str(claim.total_charge - Decimal("80.00"))), ("PR", "2", "20.00")}
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert [(a["action"], a["detail"]["automatic"], a["detail"]["primary_remittance_id"]) for a in audit] == [
        ("secondary", True, str(payment.remittance_id))]

    # the same payment again, and a later payment (a correction), queue nothing more; by hand it is a 409
    await api.consume((with_patient_share(claim, share="15.00"), "tenant-a", claim.claim_id))
    assert await api.scalar("SELECT count(*) FROM submissions WHERE primary_claim_id IS NOT NULL") == 1
    again = await api.client.post(f"/v1/claims/{claim.claim_id}/secondary", json={"coverage": SECONDARY},
                                  headers=headers(api))
    assert again.status_code == 409 and again.json()["code"] == "secondary_queued"

    # out it goes as an 837 with SBR*S and the primary's 2320; its events are keyed by the primary claim
    await api.submission.dispatch_once()
    text_ = next(p for p in sent_files(api) if "SBR*S*" in p.read_text()).read_text()
    assert "AMT*D*60~" in text_
    second = (await api.outbox_events("claim-submitted"))[-1]
    assert second["data"]["claim_id"] == str(secondary_id) and second["partitionkey"] == str(claim.claim_id)
    assert second["data"]["primary_claim_id"] == str(claim.claim_id)
    assert second["data"]["payer_responsibility"] == "S" and second["data"].get("next_payer_id") is None
    await answer_from_clearinghouse(api)
    await api.submission.poll_acknowledgments()
    acks = [e for e in await api.outbox_events("claim-acknowledged") if e["data"]["claim_id"] == str(secondary_id)]
    assert acks and {e["partitionkey"] for e in acks} == {str(claim.claim_id)}


@pytest.mark.parametrize("status,share", [("19", "20.00"), ("1", "0.00"), ("4", "20.00"), ("2", "20.00")])
async def test_no_secondary_claim_for_a_crossover_no_patient_share_a_denial_or_a_later_payer(api, status, share):
    """19: the payer forwarded the claim itself; nothing left to the patient; 4/2: not a primary payment."""
    claim = await accepted_claim_with_secondary(api, seed=32)
    await api.consume((with_patient_share(claim, status=status, share=share), "tenant-a", claim.claim_id))
    assert await api.scalar("SELECT count(*) FROM submissions WHERE primary_claim_id IS NOT NULL") == 0


async def test_no_secondary_claim_without_secondary_coverage_or_for_another_tenants_claim(api):
    plain = await accepted_claim(api, seed=33)
    await api.consume((with_patient_share(plain), "tenant-a", plain.claim_id))
    covered = await accepted_claim_with_secondary(api, seed=34)
    await api.consume((with_patient_share(covered), "tenant-b", covered.claim_id))  # b has no such claim
    assert await api.scalar("SELECT count(*) FROM submissions WHERE primary_claim_id IS NOT NULL") == 0
