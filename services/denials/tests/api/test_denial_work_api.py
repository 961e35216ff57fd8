"""The denial work queue and its actions in-process against the real PostgreSQL: classification from CARC + RARC
+ group as posted payments arrive, deadlines and priority by the tenant's payer deadlines (an injected clock),
assign / appeal / answer / corrected / rebill / write-off with approval, recovery by a later payment, expiry,
another tenant's item (404) and actions not allowed now (409, nothing changed)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rcm_contracts.claim import Adjustment
from rcm_contracts.events import PaymentPosted, PaymentUnderpaid, UnderpaidLine
from rcm_denials.app import create_app
from rcm_denials.db import metadata
from rcm_denials.settings import Settings
from rcm_denials.work import DenialWork
from rcm_runtime.clock import FixedClock
from tests.support.api import service_api

pytestmark = pytest.mark.integration

REMITTED = date(2026, 11, 2)
SPECIALIST = {"user": "sam.specialist", "roles": ("denial_specialist",)}


def other_payer(payer_id: str = "OTHER-PAYER") -> dict:
    """A rebill's body: the coverage with the payer that should pay first."""
    return {"coverage": {"payer_id": payer_id, "payer_name": "Other Health Plan", "member_id": "OHP-1001"}}


def payment(claim_id: uuid.UUID, *adjustments: tuple[str, str, str], remarks: tuple[str, ...] = (),
            paid: str = "0.00", payer: str = "SANDBOX1", on: date = REMITTED) -> PaymentPosted:
    adj = [Adjustment(group_code=g, reason_code=c, amount=Decimal(a)) for g, c, a in adjustments]
    return PaymentPosted(claim_id=claim_id, remittance_id=uuid.uuid4(), payer_id=payer,
                         payer_claim_control_number="PCCN-1", total_charge=Decimal("500.00"),
                         allowed_amount=Decimal("500.00"), paid_amount=Decimal(paid),
                         patient_responsibility=Decimal("0.00"), adjustments=adj,
                         outcome="denied" if Decimal(paid) == 0 else "paid", payment_date=on,
                         remark_codes=list(remarks))


@pytest.fixture
async def clock():
    return FixedClock(datetime(2026, 11, 10, 12, tzinfo=timezone.utc))


@pytest.fixture
async def api(clock):
    async with service_api(create_app, Settings, metadata, clock=clock, expiry_sweep_s=0) as api:
        yield api


async def denied(api, *adjustments, tenant="tenant-a", remarks=(), payer="SANDBOX1") -> tuple[uuid.UUID, str]:
    claim_id = uuid.uuid4()
    applied = await api.consume((payment(claim_id, *adjustments, remarks=remarks, payer=payer), tenant, claim_id))
    assert applied.applied == 1 and applied.dead_lettered == 0
    denial_id = await api.scalar("SELECT denial_id FROM denials WHERE claim_id = :c AND tenant_id = :t",
                                 c=claim_id, t=tenant)
    return claim_id, str(denial_id)


async def get(api, denial_id, tenant="tenant-a", **who):
    return await api.client.get(f"/v1/denials/{denial_id}", headers=api.headers(tenant, **who))


async def post(api, denial_id, action, json=None, tenant="tenant-a", **who):
    return await api.client.post(f"/v1/denials/{denial_id}/{action}", json=json,
                                 headers=api.headers(tenant, **(who or SPECIALIST)))


async def snapshot(api, denial_id):
    """The item's row and its history, straight from the tables."""
    row = await api.scalar("SELECT row_to_json(d)::text FROM denials d WHERE denial_id = :d", d=uuid.UUID(denial_id))
    history = await api.scalar("SELECT count(*) FROM denial_actions WHERE denial_id = :d", d=uuid.UUID(denial_id))
    return row, history


# ---------------------------------------------------------------- classification as payments arrive
async def test_a_remark_refines_the_root_cause_and_the_item_explains_it(api):
    _, denial_id = await denied(api, ("CO", "16", "120.00"), ("CO", "45", "30.00"), remarks=("MA130",))
    item = (await get(api, denial_id)).json()
    assert item["root_cause"] == "registration" and item["work_queue"] == "front-desk"
    assert item["reason_codes"] == ["CO-16"] and item["remark_codes"] == ["MA130"]
    assert "remark MA130" in item["explanation"] and item["follow_up"].startswith("Correct the patient")
    assert item["status"] == "open" and item["owner"] is None and item["actions"] == []
    _, bundled = await denied(api, ("CO", "97", "80.00"), remarks=("N362",))
    assert (await get(api, bundled)).json()["root_cause"] == "bundling"
    [event] = [e for e in await api.outbox_events("denial-recorded") if e["data"]["denial_id"] == denial_id]
    assert event["data"]["category"] == "registration"


async def test_unknown_codes_are_unclassified_and_counted_in_the_summary(api):
    _, unknown = await denied(api, ("CO", "Z99", "40.00"))
    _, known_with_odd_remark = await denied(api, ("CO", "197", "40.00"), remarks=("N9999",))
    item = (await get(api, unknown)).json()
    assert item["root_cause"] == "unclassified" and item["unknown_codes"] == ["CO-Z99"]
    queue = (await api.client.get("/v1/denials", headers=api.headers())).json()
    assert queue["summary"]["unclassified"] == 1 and queue["summary"]["with_unknown_codes"] == 2
    assert queue["summary"]["by_root_cause"] == {"authorization": 1, "unclassified": 1}
    only = (await api.client.get("/v1/denials", params={"root_cause": "unclassified"}, headers=api.headers())).json()
    assert [i["denial_id"] for i in only["items"]] == [unknown]


# ---------------------------------------------------------------- deadlines and priority
async def test_items_carry_deadline_days_left_and_priority_and_sort_by_priority(api):
    _, small = await denied(api, ("CO", "29", "20.00"))  # timely filing: unlikely, little money
    _, large = await denied(api, ("CO", "16", "400.00"), remarks=("MA130",))
    queue = (await api.client.get("/v1/denials", headers=api.headers())).json()
    assert [i["denial_id"] for i in queue["items"]] == [large, small]
    top = queue["items"][0]
    assert top["deadline"] == "2027-01-31" and top["days_left"] == 82 and top["amount"] == "400.00"
    assert top["priority"] > queue["items"][1]["priority"] > 0
    by_deadline = await api.client.get("/v1/denials", params={"sort": "deadline"}, headers=api.headers())
    assert by_deadline.status_code == 200


async def test_payer_deadlines_and_tenant_defaults_change_the_items_deadline(api):
    _, denial_id = await denied(api, ("CO", "197", "100.00"), payer="PAYER-X")
    default = await api.client.get("/v1/payer-deadlines/PAYER-X", headers=api.headers())
    assert default.json() == {"payer_id": "PAYER-X", "appeal_days": 90, "timely_filing_days": 365,
                              "source": "tenant_default"}
    put = await api.client.put("/v1/payer-deadlines/PAYER-X", json={"appeal_days": 30, "timely_filing_days": 180},
                               headers=api.headers())
    assert put.status_code == 200 and put.json()["source"] == "payer"
    item = (await get(api, denial_id)).json()
    assert item["deadline"] == "2026-12-02" and item["days_left"] == 22
    # tenant b's deadlines are its own
    assert (await api.client.get("/v1/payer-deadlines/PAYER-X", headers=api.headers("tenant-b"))).json()[
        "appeal_days"] == 90
    settings = await api.client.put("/v1/denial-settings", json={"appeal_days": 60, "timely_filing_days": 365,
                                                                 "write_off_approval_above": "250.00"},
                                    headers=api.headers())
    assert settings.json() == {"appeal_days": 60, "timely_filing_days": 365, "write_off_approval_above": "250.00"}
    bad = await api.client.put("/v1/denial-settings", json={"appeal_days": 0, "timely_filing_days": 365,
                                                            "write_off_approval_above": "1"}, headers=api.headers())
    assert bad.status_code == 422
    # a biller sets payer deadlines but not the tenant's settings
    biller = api.headers(user="bo.biller", roles=["biller"])
    assert (await api.client.put("/v1/payer-deadlines/P2", json={"appeal_days": 5, "timely_filing_days": 5},
                                 headers=biller)).status_code == 200
    assert (await api.client.put("/v1/denial-settings", json={"appeal_days": 5, "timely_filing_days": 5,
                                                              "write_off_approval_above": "1"},
                                 headers=biller)).status_code == 403


async def test_past_the_deadline_items_show_expired_and_the_sweep_writes_it(api, clock):
    _, denial_id = await denied(api, ("CO", "197", "100.00"))
    clock.at = datetime(2027, 2, 1, 9, tzinfo=timezone.utc)  # deadline 2027-01-31 passed
    item = (await get(api, denial_id)).json()
    assert item["status"] == "expired" and item["days_left"] == -1 and item["priority"] == 0
    assert await api.scalar("SELECT status FROM denials") == "open"  # shown on read, not written yet
    expired = (await api.client.get("/v1/denials", params={"status": "expired"}, headers=api.headers())).json()
    assert [i["denial_id"] for i in expired["items"]] == [denial_id]
    assert await api.app.state.runtime.services[DenialWork].expire_due() == 1
    assert await api.app.state.runtime.services[DenialWork].expire_due() == 0
    assert await api.scalar("SELECT status FROM denials") == "expired"
    [history] = (await get(api, denial_id)).json()["actions"]
    assert (history["action"], history["actor"], history["from_status"], history["to_status"]) == (
        "expired", "system:deadline", "open", "expired")
    refused = await post(api, denial_id, "appeal", {"sent_on": "2027-02-01", "method": "mail"})
    assert refused.status_code == 409 and "status expired" in refused.json()["description"]
    written = await post(api, denial_id, "write-off", {"reason_code": "TF", "amount": "100.00"})
    assert written.status_code == 200 and written.json()["status"] == "written_off"


async def test_the_sweep_uses_the_payer_deadline_and_leaves_items_in_time(api, clock):
    _, short = await denied(api, ("CO", "197", "100.00"), payer="QUICK")
    _, normal = await denied(api, ("CO", "197", "100.00"))
    await api.client.put("/v1/payer-deadlines/QUICK", json={"appeal_days": 10, "timely_filing_days": 365},
                         headers=api.headers())
    clock.at = datetime(2026, 11, 13, tzinfo=timezone.utc)
    assert await api.app.state.runtime.services[DenialWork].expire_due() == 1
    assert (await get(api, short)).json()["status"] == "expired"
    assert (await get(api, normal)).json()["status"] == "open"


# ---------------------------------------------------------------- actions
async def test_assign_then_appeal_then_upheld_each_in_the_history_and_the_audit_trail(api):
    _, denial_id = await denied(api, ("CO", "50", "300.00"))
    assigned = await post(api, denial_id, "assign", {"owner": "sam.specialist"})
    assert assigned.status_code == 200 and assigned.json()["status"] == "in_progress"
    assert assigned.json()["owner"] == "sam.specialist"
    mine = (await api.client.get("/v1/denials", params={"owner": "sam.specialist", "status": "in_progress"},
                                 headers=api.headers())).json()
    assert [i["denial_id"] for i in mine["items"]] == [denial_id]
    appealed = await post(api, denial_id, "appeal", {"sent_on": "2026-11-10", "method": "portal"})
    assert appealed.json()["status"] == "appealed" and appealed.json()["appeal_method"] == "portal"
    upheld = await post(api, denial_id, "appeal/answer", {"answer": "upheld"})
    assert upheld.json()["status"] == "upheld"
    history = upheld.json()["actions"]
    assert [(h["action"], h["from_status"], h["to_status"], h["actor"]) for h in history] == [
        ("assign", "open", "in_progress", "sam.specialist"), ("appeal", "in_progress", "appealed", "sam.specialist"),
        ("appeal_answer", "appealed", "upheld", "sam.specialist")]
    assert history[1]["detail"] == {"sent_on": "2026-11-10", "method": "portal"}
    audit = await api.scalar("SELECT string_agg(action || ':' || actor || ':' || outcome, ',' ORDER BY seq) "
                             "FROM audit_log WHERE category = 'money' AND :d = ANY(resource_ids)", d=denial_id)
    assert audit == ("denial.assign:sam.specialist:allowed,denial.appeal:sam.specialist:allowed,"
                     "denial.appeal_answer:sam.specialist:allowed")
    details = await api.scalar("SELECT json_agg(detail ORDER BY seq)::text FROM audit_log WHERE category = 'money' "
                               "AND :d = ANY(resource_ids)", d=denial_id)
    assert json.loads(details) == [
        {"action": "assign", "before": "open", "after": "in_progress",
         "recorded": {"owner": "sam.specialist", "previous_owner": None}},
        {"action": "appeal", "before": "in_progress", "after": "appealed",
         "recorded": {"sent_on": "2026-11-10", "method": "portal"}},
        {"action": "appeal_answer", "before": "appealed", "after": "upheld",
         "recorded": {"answer": "upheld", "answered_on": None}}]


async def test_a_later_payment_on_the_claim_closes_an_appealed_item_as_recovered(api):
    claim_id, denial_id = await denied(api, ("CO", "197", "300.00"))
    await post(api, denial_id, "appeal", {"sent_on": "2026-11-10", "method": "mail"})
    overturned = await post(api, denial_id, "appeal/answer", {"answer": "overturned"})
    assert overturned.json()["status"] == "appealed" and overturned.json()["appeal_answer"] == "overturned"
    again = await post(api, denial_id, "appeal/answer", {"answer": "upheld"})
    assert again.status_code == 409 and "already answered" in again.json()["description"]
    # tenant b's payment for the same claim id recovers nothing of tenant a's
    await api.consume((payment(claim_id, paid="300.00"), "tenant-b", claim_id))
    assert (await get(api, denial_id)).json()["status"] == "appealed"
    await api.consume((payment(claim_id, paid="300.00"), "tenant-a", claim_id))
    item = (await get(api, denial_id)).json()
    assert item["status"] == "recovered"
    assert (item["actions"][-1]["action"], item["actions"][-1]["actor"]) == ("recovered", "system:payment-posted")


async def test_corrected_and_rebilled_items_are_recovered_by_payment_but_open_ones_are_not(api):
    c1, corrected = await denied(api, ("CO", "16", "90.00"), remarks=("M51",))
    c2, rebilled = await denied(api, ("CO", "22", "90.00"))
    c3, untouched = await denied(api, ("CO", "16", "90.00"))
    assert (await post(api, corrected, "corrected")).json()["status"] == "corrected"
    rebill = await post(api, rebilled, "rebill", other_payer())
    assert rebill.json()["status"] == "rebilled" and rebill.json()["rebill_payer_id"] == "OTHER-PAYER"
    await api.consume(*[(payment(c, paid="90.00"), "tenant-a", c) for c in (c1, c2, c3)])
    assert [(await get(api, d)).json()["status"] for d in (corrected, rebilled, untouched)] == [
        "recovered", "recovered", "open"]


async def test_a_write_off_above_the_amount_needs_another_persons_approval(api):
    _, small = await denied(api, ("CO", "29", "60.00"))
    _, large = await denied(api, ("CO", "29", "450.00"))
    at_once = await post(api, small, "write-off", {"reason_code": "TFL", "amount": "60.00"})
    assert at_once.json()["status"] == "written_off" and at_once.json()["write_off_amount"] == "60.00"
    pending = await post(api, large, "write-off", {"reason_code": "TFL", "amount": "450.00"})
    assert pending.json()["status"] == "write_off_pending"
    assert pending.json()["write_off_requested_by"] == "sam.specialist"
    # a specialist may not approve; a person who asked for it may not approve their own, admin or not
    assert (await post(api, large, "write-off/approve")).status_code == 403
    same = await post(api, large, "write-off/approve", user="sam.specialist", roles=("admin",))
    assert same.status_code == 409 and "another person" in same.json()["description"]
    # a billing manager (the office's supervisor) approves; a biller may not
    assert (await post(api, large, "write-off/approve", user="bo.biller", roles=("biller",))).status_code == 403
    approved = await post(api, large, "write-off/approve", user="mia.manager", roles=("billing_manager",))
    assert approved.status_code == 200 and approved.json()["status"] == "written_off"
    assert approved.json()["actions"][-1]["actor"] == "mia.manager"
    assert approved.json()["actions"][-1]["detail"] == {"requested_by": "sam.specialist", "amount": "450.00"}
    too_much = await post(api, (await denied(api, ("CO", "29", "10.00")))[1], "write-off",
                          {"reason_code": "X", "amount": "11.00"})
    assert too_much.status_code == 409 and "above the amount at stake" in too_much.json()["description"]


async def test_actions_not_allowed_now_answer_409_and_change_nothing(api):
    _, denial_id = await denied(api, ("CO", "197", "100.00"))
    before = await snapshot(api, denial_id)
    for action, body in (("appeal/answer", {"answer": "upheld"}), ("write-off/approve", None)):
        resp = await post(api, denial_id, action, body, user="ada.admin", roles=("admin",))
        assert resp.status_code == 409 and "status open" in resp.json()["description"], action
    assert await snapshot(api, denial_id) == before
    await post(api, denial_id, "corrected")
    before = await snapshot(api, denial_id)
    for action, body in (("appeal", {"sent_on": "2026-11-10", "method": "fax"}), ("rebill", other_payer("P")),
                         ("corrected", None), ("write-off", {"reason_code": "X", "amount": "1.00"})):
        resp = await post(api, denial_id, action, body)
        assert resp.status_code == 409 and resp.json()["code"] == "conflict", action
    assert await snapshot(api, denial_id) == before
    failed = await api.scalar("SELECT count(*) FROM audit_log WHERE outcome = 'failed' AND status = 409")
    assert failed == 6  # each refused attempt is on record


async def test_another_tenants_item_is_404_for_reads_and_actions_and_stays_unchanged(api):
    _, denial_id = await denied(api, ("CO", "197", "100.00"))
    before = await snapshot(api, denial_id)
    other = {"tenant": "tenant-b", "user": "eve", "roles": ("admin",)}
    assert (await get(api, denial_id, "tenant-b")).status_code == 404
    for action, body in (("assign", {"owner": "eve"}), ("appeal", {"sent_on": "2026-11-10", "method": "fax"}),
                         ("appeal/answer", {"answer": "upheld"}), ("corrected", None), ("rebill", other_payer("P")),
                         ("write-off", {"reason_code": "X", "amount": "1.00"}), ("write-off/approve", None)):
        resp = await post(api, denial_id, action, body, **other)
        assert resp.status_code == 404 and resp.json()["code"] == "not_found", action
    assert await snapshot(api, denial_id) == before
    assert (await api.client.get("/v1/denials", headers=api.headers("tenant-b"))).json()["total"] == 0


async def test_a_biller_reads_the_queue_but_does_not_act_and_bad_input_is_422(api):
    _, denial_id = await denied(api, ("CO", "197", "100.00"))
    biller = {"user": "bo.biller", "roles": ("biller",)}
    assert (await get(api, denial_id, **biller)).status_code == 200
    assert (await post(api, denial_id, "assign", {"owner": "bo"}, **biller)).status_code == 403
    assert (await post(api, denial_id, "appeal", {"sent_on": "soon", "method": "pigeon"})).status_code == 422
    assert (await post(api, denial_id, "write-off", {"reason_code": "X", "amount": "-1"})).status_code == 422
    assert (await api.client.get("/v1/denials", params={"root_cause": "bogus"}, headers=api.headers())).status_code == 422
    assert (await get(api, "not-a-uuid")).status_code == 422
    assert (await get(api, uuid.uuid4())).status_code == 404


async def test_an_underpayment_is_an_underpaid_item_with_its_amounts_and_the_filing_limit(api):
    claim_id = uuid.uuid4()
    ev = PaymentUnderpaid(claim_id=claim_id, remittance_id=uuid.uuid4(), payer_id="SANDBOX1", claim_status_code="1",
                          payment_date=REMITTED, expected_allowed=Decimal("250.00"), actual_allowed=Decimal("180.00"),
                          underpaid_amount=Decimal("70.00"),
                          lines=[UnderpaidLine(line_number=1, procedure_code="99213", units=Decimal(1),
                                               date_of_service=date(2025, 12, 1), expected_allowed=Decimal("250.00"),
                                               actual_allowed=Decimal("180.00"), underpaid_amount=Decimal("70.00"))])
    await api.consume((ev, "tenant-a", claim_id))
    [item] = (await api.client.get("/v1/denials", params={"root_cause": "underpaid"}, headers=api.headers())).json()["items"]
    assert (item["expected_amount"], item["actual_amount"], item["amount"]) == ("250.00", "180.00", "70.00")
    assert item["deadline"] == (date(2025, 12, 1) + timedelta(days=365)).isoformat()  # before the appeal window's end
    assert "short" in item["explanation"] and item["follow_up"].startswith("Compare the payment")
