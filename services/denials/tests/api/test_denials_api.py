"""denials in-process: its consumer handler (PaymentPosted -> denial with root cause and work queue) through
the app's own handlers against the real PostgreSQL, and its read routers (one claim's denial, the work queue).
Categories come from ../shared/reference/carc.md (CO-197 authorization, CO-97 coding, CO-50 medical
necessity, CO-16 documentation; CO-45, PR-1/2/3, OA-23 and CO-253 are not denials)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from rcm_contracts.claim import Adjustment
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import PaymentPosted, PaymentUnderpaid
from rcm_denials.app import create_app
from rcm_denials.db import metadata
from rcm_denials.settings import Settings
from tests.support.api import service_api

pytestmark = pytest.mark.integration


def payment(claim_id: uuid.UUID, *adjustments: tuple[str, str, str], outcome: str = "denied",
            remittance_id: uuid.UUID | None = None) -> PaymentPosted:
    adj = [Adjustment(group_code=g, reason_code=c, amount=Decimal(a)) for g, c, a in adjustments]
    total = Decimal("100.00")
    patient = sum((a.amount for a in adj if a.group_code == "PR"), Decimal("0.00"))
    return PaymentPosted(claim_id=claim_id, remittance_id=remittance_id or uuid.uuid4(), payer_id="SANDBOX1",
                         payer_claim_control_number="PCCN-1", total_charge=total, allowed_amount=total,
                         paid_amount=total - sum((a.amount for a in adj), Decimal("0.00")),
                         patient_responsibility=patient, adjustments=adj, outcome=outcome,
                         payment_date=date(2026, 11, 2))


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def test_a_denied_payment_records_one_denial_and_emits_denial_recorded_for_its_tenant(api):
    claim_id = uuid.uuid4()
    envelope = new_envelope(payment(claim_id, ("CO", "197", "100.00")), service="remittance", tenant_id="tenant-a",
                            key=str(claim_id))
    applier = await api.consume(envelope)
    assert applier.applied == 1 and applier.dead_lettered == 0
    assert await api.scalar("SELECT count(*) FROM denials") == 1
    assert await api.scalar("SELECT tenant_id FROM denials") == "tenant-a"
    [recorded] = await api.outbox_events("denial-recorded")
    assert recorded["tenantid"] == "tenant-a" and recorded["partitionkey"] == str(claim_id)
    assert recorded["causationid"] == str(envelope.id)
    data = recorded["data"]
    assert data["category"] == "authorization" and data["work_queue"] == "authorizations"
    assert data["reason_codes"] == ["CO-197"] and data["denied_amount"] == "100.00"
    assert data["denial_id"] == str(await api.scalar("SELECT denial_id FROM denials"))


async def test_routine_adjustments_are_not_denials(api):
    claim_id = uuid.uuid4()
    routine = payment(claim_id, ("CO", "45", "30.00"), ("PR", "1", "10.00"), ("PR", "2", "5.00"), ("PR", "3", "5.00"),
                      ("OA", "23", "4.00"), ("CO", "253", "1.00"), outcome="paid")
    no_adjustments = payment(uuid.uuid4(), outcome="paid")
    applier = await api.consume((routine, "tenant-a", claim_id), (no_adjustments, "tenant-a", no_adjustments.claim_id))
    assert applier.applied == 2 and applier.dead_lettered == 0
    assert await api.scalar("SELECT count(*) FROM denials") == 0
    assert await api.outbox_events() == []


async def test_a_partial_denial_counts_only_the_denied_adjustments_largest_reason_first(api):
    claim_id = uuid.uuid4()
    await api.consume((payment(claim_id, ("CO", "45", "20.00"), ("CO", "16", "10.00"), ("CO", "50", "40.00"),
                               ("PR", "2", "5.00"), outcome="partially_paid"), "tenant-a", claim_id))
    [recorded] = await api.outbox_events("denial-recorded")
    data = recorded["data"]
    assert data["reason_codes"] == ["CO-50", "CO-16"]  # 40.00 then 10.00; CO-45 and PR-2 are not denials
    assert data["denied_amount"] == "50.00"
    assert data["category"] == "medical_necessity" and data["work_queue"] == "coding"


async def test_a_redelivered_or_reposted_payment_records_the_denial_once(api):
    claim_id, remittance_id = uuid.uuid4(), uuid.uuid4()
    envelope = new_envelope(payment(claim_id, ("CO", "97", "100.00"), remittance_id=remittance_id),
                            service="remittance", tenant_id="tenant-a", key=str(claim_id))
    await api.consume(envelope)
    redelivered = await api.consume(envelope)
    assert redelivered.applied == 0 and redelivered.duplicates == 1
    reposted = await api.consume((payment(claim_id, ("CO", "97", "100.00"), remittance_id=remittance_id),
                                  "tenant-a", claim_id))
    assert reposted.applied == 1  # a new event for the same remittance: handled, but nothing new recorded
    assert await api.scalar("SELECT count(*) FROM denials") == 1
    assert len(await api.outbox_events("denial-recorded")) == 1


async def test_two_tenants_may_each_record_a_remittance_with_the_same_id(api):
    """The remittance id is unique per tenant: tenant b's payment carrying the id tenant a already recorded is
    recorded for tenant b, not skipped as a repost, and a repost within one tenant is still recorded once."""
    remittance_id, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await api.consume((payment(a, ("CO", "97", "100.00"), remittance_id=remittance_id), "tenant-a", a))
    theirs = await api.consume((payment(b, ("CO", "27", "100.00"), remittance_id=remittance_id), "tenant-b", b),
                               (payment(b, ("CO", "27", "100.00"), remittance_id=remittance_id), "tenant-b", b))
    assert theirs.applied == 2 and theirs.dead_lettered == 0
    rows = (await api.client.get("/v1/denials", headers=api.headers("tenant-b"))).json()
    assert rows["total"] == 1 and rows["items"][0]["claim_id"] == str(b) and rows["items"][0]["category"] == "eligibility"
    assert [(e["tenantid"], e["partitionkey"]) for e in await api.outbox_events("denial-recorded")] == [
        ("tenant-a", str(a)), ("tenant-b", str(b))]
    assert await api.scalar("SELECT count(*) FROM denials WHERE remittance_id = :r", r=remittance_id) == 2


async def test_another_tenants_payment_for_the_same_claim_id_changes_nothing_of_this_tenants(api):
    claim_id = uuid.uuid4()
    await api.consume((payment(claim_id, ("CO", "97", "100.00")), "tenant-a", claim_id))
    before = (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-a"))).json()
    queue_before = (await api.client.get("/v1/denials", headers=api.headers("tenant-a"))).json()
    await api.consume((payment(claim_id, ("CO", "197", "100.00")), "tenant-b", claim_id))
    assert (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-a"))).json() == before
    assert (await api.client.get("/v1/denials", headers=api.headers("tenant-a"))).json() == queue_before
    assert before["category"] == "coding" and before["tenant_id"] == "tenant-a"
    theirs = (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-b"))).json()
    assert theirs["tenant_id"] == "tenant-b" and theirs["category"] == "authorization"


async def test_the_work_queue_and_claim_reads_are_isolated_by_tenant(api):
    a, b = uuid.uuid4(), uuid.uuid4()
    await api.consume((payment(a, ("CO", "97", "100.00")), "tenant-a", a),
                      (payment(b, ("CO", "27", "100.00")), "tenant-b", b))
    mine = await api.client.get("/v1/denials", headers=api.headers("tenant-a"))
    assert mine.status_code == 200 and mine.json()["total"] == 1
    [item] = mine.json()["items"]
    assert item["claim_id"] == str(a) and item["category"] == "coding" and item["work_queue"] == "coding"
    assert item["reason_codes"] == ["CO-97"] and item["denied_amount"] == "100.00" and item["status"] == "open"
    theirs = await api.client.get("/v1/denials", headers=api.headers("tenant-b"))
    assert [i["claim_id"] for i in theirs.json()["items"]] == [str(b)]
    assert theirs.json()["items"][0]["category"] == "eligibility"
    assert (await api.client.get(f"/v1/claims/{a}", headers=api.headers("tenant-a"))).json()["claim_id"] == str(a)
    other = await api.client.get(f"/v1/claims/{a}", headers=api.headers("tenant-b"))
    assert other.status_code == 404 and other.json()["code"] == "not_found"


async def test_the_work_queue_filters_by_queue_and_pages(api):
    ids = [uuid.uuid4() for _ in range(3)]
    await api.consume((payment(ids[0], ("CO", "197", "100.00")), "tenant-a", ids[0]),
                      (payment(ids[1], ("CO", "15", "100.00")), "tenant-a", ids[1]),
                      (payment(ids[2], ("CO", "29", "100.00")), "tenant-a", ids[2]))
    auth = await api.client.get("/v1/denials", params={"work_queue": "authorizations"}, headers=api.headers())
    assert auth.json()["total"] == 2 and {i["claim_id"] for i in auth.json()["items"]} == {str(ids[0]), str(ids[1])}
    billing = await api.client.get("/v1/denials", params={"work_queue": "billing"}, headers=api.headers())
    assert [i["category"] for i in billing.json()["items"]] == ["timely_filing"]
    page = await api.client.get("/v1/denials", params={"limit": 1, "offset": 1}, headers=api.headers())
    assert page.json()["total"] == 3 and len(page.json()["items"]) == 1


async def test_bad_query_and_path_values_answer_422_naming_the_field(api):
    resp = await api.client.get("/v1/denials", params={"offset": -1}, headers=api.headers())
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["query.offset"]
    resp = await api.client.get("/v1/claims/Jane-Doe-1970", headers=api.headers())
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["path.claim_id"]
    assert "Jane-Doe" not in resp.text


async def test_without_an_api_key_the_answer_is_401(api):
    assert (await api.client.get("/v1/denials")).status_code == 401
    assert (await api.client.get(f"/v1/claims/{uuid.uuid4()}")).status_code == 401


# ---------------------------------------------------------------- underpayments (PaymentUnderpaid)


def underpaid(claim_id: uuid.UUID, remittance_id: uuid.UUID, *, expected: str = "250.00",
              actual: str = "180.00") -> "PaymentUnderpaid":
    from rcm_contracts.events import PaymentUnderpaid, UnderpaidLine
    short = Decimal(expected) - Decimal(actual)
    return PaymentUnderpaid(claim_id=claim_id, remittance_id=remittance_id, payer_id="SANDBOX1", claim_status_code="1",
                            payment_date=date(2026, 11, 2), expected_allowed=Decimal(expected),
                            actual_allowed=Decimal(actual), underpaid_amount=short,
                            lines=[UnderpaidLine(line_number=1, procedure_code="22222", units=Decimal(1),
                                                 date_of_service=date(2026, 10, 1), expected_allowed=Decimal(expected),
                                                 actual_allowed=Decimal(actual), underpaid_amount=short)])


async def test_an_underpaid_payment_is_an_underpaid_item_with_expected_and_actual_amounts_once(api):
    claim_id, remittance_id = uuid.uuid4(), uuid.uuid4()
    envelope = new_envelope(underpaid(claim_id, remittance_id), service="remittance", tenant_id="tenant-a",
                            key=str(claim_id))
    applier = await api.consume(envelope)
    assert applier.applied == 1 and applier.dead_lettered == 0
    again = await api.consume(envelope)  # redelivered: the inbox skips it
    assert again.applied == 0 and again.dead_lettered == 0
    # the same finding under a new event id (a replay): still one item per (tenant, remittance)
    replay = await api.consume((underpaid(claim_id, remittance_id), "tenant-a", claim_id))
    assert replay.applied == 1 and replay.dead_lettered == 0
    queue = (await api.client.get("/v1/denials", params={"work_queue": "underpayments"}, headers=api.headers())).json()
    [item] = queue["items"]
    assert (item["claim_id"], item["remittance_id"], item["category"], item["kind"]) == (
        str(claim_id), str(remittance_id), "underpaid", "underpayment")
    assert (item["expected_amount"], item["actual_amount"], item["denied_amount"]) == ("250.00", "180.00", "70.00")
    assert item["lines"][0]["procedure_code"] == "22222" and item["lines"][0]["underpaid_amount"] == "70.00"
    assert await api.outbox_events() == []  # an underpayment is not a denial: no DenialRecorded
    assert (await api.client.get("/v1/denials", headers=api.headers("tenant-b"))).json()["items"] == []


async def test_a_payment_both_partly_denied_and_underpaid_keeps_both_items(api):
    claim_id, remittance_id = uuid.uuid4(), uuid.uuid4()
    await api.consume((payment(claim_id, ("CO", "197", "40.00"), outcome="partially_paid", remittance_id=remittance_id),
                       "tenant-a", claim_id),
                      (underpaid(claim_id, remittance_id), "tenant-a", claim_id))
    kinds = await api.scalar("SELECT string_agg(kind || ':' || category, ',' ORDER BY kind) FROM denials "
                             "WHERE tenant_id = 'tenant-a' AND remittance_id = :r", r=remittance_id)
    assert kinds == "denial:authorization,underpayment:underpaid"
    [recorded] = await api.outbox_events("denial-recorded")
    assert recorded["data"]["category"] == "authorization"
    # tenant b's underpayment with the same remittance id is its own
    other = await api.consume((underpaid(claim_id, remittance_id), "tenant-b", claim_id))
    assert other.applied == 1
    assert await api.scalar("SELECT count(*) FROM denials WHERE kind = 'underpayment'") == 2
