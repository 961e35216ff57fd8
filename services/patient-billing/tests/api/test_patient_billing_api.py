"""patient-billing in-process: its consumer handler (PaymentPosted -> patient balance) through the app's own
handlers against the real PostgreSQL, and its read routers (one claim's balance, the balance list)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

import pytest

from rcm_contracts.claim import Adjustment
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import PaymentPosted
from rcm_patient_billing.app import create_app
from rcm_patient_billing.db import metadata
from rcm_patient_billing.settings import Settings
from tests.support.api import service_api

pytestmark = pytest.mark.integration

PAID_ON = date(2026, 11, 2)


def payment(claim_id: uuid.UUID, *, patient: str = "20.00", remittance_id: uuid.UUID | None = None) -> PaymentPosted:
    pr = Decimal(patient)
    return PaymentPosted(claim_id=claim_id, remittance_id=remittance_id or uuid.uuid4(), payer_id="SANDBOX1",
                         payer_claim_control_number="PCCN-1", total_charge=Decimal("100.00"),
                         allowed_amount=Decimal("100.00"), paid_amount=Decimal("100.00") - pr,
                         patient_responsibility=pr, outcome="paid", payment_date=PAID_ON,
                         adjustments=[Adjustment(group_code="PR", reason_code="2", amount=pr)] if pr else [])


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def test_a_payment_with_patient_responsibility_opens_one_balance_and_emits_it_for_the_payments_tenant(api):
    claim_id = uuid.uuid4()
    ev = payment(claim_id, patient="20.00")
    envelope = new_envelope(ev, service="remittance", tenant_id="tenant-a", key=str(claim_id))
    applier = await api.consume(envelope)
    assert applier.applied == 1 and applier.dead_lettered == 0
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 1
    assert await api.scalar("SELECT tenant_id FROM patient_balances WHERE claim_id = :c", c=claim_id) == "tenant-a"
    assert await api.scalar("SELECT amount_due FROM patient_balances") == Decimal("20.00")
    [opened] = await api.outbox_events("balance-opened")
    assert opened["tenantid"] == "tenant-a" and opened["partitionkey"] == str(claim_id)
    assert opened["causationid"] == str(envelope.id)  # the payment caused it
    assert opened["data"]["amount_due"] == "20.00"
    assert opened["data"]["due_date"] == (PAID_ON + timedelta(days=30)).isoformat()  # first statement: 30 days
    statement_id = await api.scalar("SELECT statement_id FROM patient_balances")
    assert opened["data"]["statement_id"] == str(statement_id)


async def test_a_redelivered_payment_opens_nothing_new(api):
    claim_id = uuid.uuid4()
    envelope = new_envelope(payment(claim_id), service="remittance", tenant_id="tenant-a", key=str(claim_id))
    await api.consume(envelope)
    again = await api.consume(envelope)
    assert again.applied == 0 and again.duplicates == 1
    both_in_one_batch = await api.consume(*(2 * [new_envelope(payment(uuid.uuid4()), service="remittance",
                                                                   tenant_id="tenant-a", key=str(claim_id))]))
    assert both_in_one_batch.applied == 1 and both_in_one_batch.duplicates == 1
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 2
    assert len(await api.outbox_events("balance-opened")) == 2


async def test_a_remittance_posted_again_as_a_new_event_opens_no_second_balance(api):
    claim_id, remittance_id = uuid.uuid4(), uuid.uuid4()
    first = await api.consume((payment(claim_id, remittance_id=remittance_id), "tenant-a", claim_id))
    second = await api.consume((payment(claim_id, remittance_id=remittance_id), "tenant-a", claim_id))
    assert first.applied == 1 and second.applied == 1  # two distinct events, the same remittance
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 1
    assert len(await api.outbox_events("balance-opened")) == 1


async def test_two_tenants_may_each_open_a_balance_for_a_remittance_with_the_same_id(api):
    """The remittance id is unique per tenant: tenant b's payment carrying the id tenant a already billed opens
    tenant b's balance (not skipped as a repost); a repost within tenant b still opens one."""
    remittance_id, a, b = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await api.consume((payment(a, patient="20.00", remittance_id=remittance_id), "tenant-a", a))
    theirs = await api.consume((payment(b, patient="35.50", remittance_id=remittance_id), "tenant-b", b),
                               (payment(b, patient="35.50", remittance_id=remittance_id), "tenant-b", b))
    assert theirs.applied == 2 and theirs.dead_lettered == 0
    assert [(e["tenantid"], e["partitionkey"], e["data"]["amount_due"]) for e in
            await api.outbox_events("balance-opened")] == [("tenant-a", str(a), "20.00"), ("tenant-b", str(b), "35.50")]
    rows = (await api.client.get("/v1/balances", headers=api.headers("tenant-b"))).json()
    assert rows["total"] == 1 and rows["items"][0]["claim_id"] == str(b) and rows["items"][0]["amount_due"] == "35.50"
    assert await api.scalar("SELECT count(*) FROM patient_balances WHERE remittance_id = :r", r=remittance_id) == 2


async def test_another_tenants_payment_for_the_same_claim_id_changes_nothing_of_this_tenants(api):
    claim_id = uuid.uuid4()
    await api.consume((payment(claim_id, patient="20.00"), "tenant-a", claim_id))
    before = (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-a"))).json()
    listing_before = (await api.client.get("/v1/balances", headers=api.headers("tenant-a"))).json()
    await api.consume((payment(claim_id, patient="99.00"), "tenant-b", claim_id))
    assert (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-a"))).json() == before
    assert (await api.client.get("/v1/balances", headers=api.headers("tenant-a"))).json() == listing_before
    assert before["amount_due"] == "20.00" and before["tenant_id"] == "tenant-a"
    theirs = (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-b"))).json()
    assert theirs["tenant_id"] == "tenant-b" and theirs["amount_due"] == "99.00"


async def test_zero_patient_responsibility_opens_nothing(api):
    claim_id = uuid.uuid4()
    applier = await api.consume((payment(claim_id, patient="0.00"), "tenant-a", claim_id))
    assert applier.applied == 1 and applier.dead_lettered == 0
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 0
    assert await api.outbox_events() == []


async def test_one_batch_of_several_tenants_opens_each_balance_for_its_own_tenant(api):
    a, b, zero = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await api.consume((payment(a, patient="15.00"), "tenant-a", a), (payment(zero, patient="0.00"), "tenant-a", zero),
                      (payment(b, patient="35.50"), "tenant-b", b))
    events = {e["partitionkey"]: e for e in await api.outbox_events("balance-opened")}
    assert set(events) == {str(a), str(b)}
    assert events[str(a)]["tenantid"] == "tenant-a" and events[str(a)]["data"]["amount_due"] == "15.00"
    assert events[str(b)]["tenantid"] == "tenant-b" and events[str(b)]["data"]["amount_due"] == "35.50"
    assert await api.scalar("SELECT tenant_id FROM patient_balances WHERE claim_id = :c", c=b) == "tenant-b"


async def test_balances_are_read_only_by_their_tenant(api):
    claim_id = uuid.uuid4()
    await api.consume((payment(claim_id, patient="20.00"), "tenant-a", claim_id))
    mine = await api.client.get("/v1/balances", headers=api.headers("tenant-a"))
    theirs = await api.client.get("/v1/balances", headers=api.headers("tenant-b"))
    assert mine.status_code == 200 and mine.json()["total"] == 1
    [item] = mine.json()["items"]
    assert item["claim_id"] == str(claim_id) and item["amount_due"] == "20.00" and item["status"] == "open"
    assert theirs.status_code == 200 and theirs.json() == {"total": 0, "items": []}
    one = await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-a"))
    assert one.status_code == 200 and one.json()["amount_due"] == "20.00"
    other = await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers("tenant-b"))
    assert other.status_code == 404 and other.json()["code"] == "not_found"


async def test_the_balance_list_filters_by_status_and_pages(api):
    ids = [uuid.uuid4() for _ in range(3)]
    await api.consume(*[(payment(c), "tenant-a", c) for c in ids])
    page = await api.client.get("/v1/balances", params={"limit": 2, "offset": 0}, headers=api.headers())
    rest = await api.client.get("/v1/balances", params={"limit": 2, "offset": 2}, headers=api.headers())
    assert page.json()["total"] == 3 and len(page.json()["items"]) == 2 and len(rest.json()["items"]) == 1
    seen = {i["claim_id"] for i in page.json()["items"] + rest.json()["items"]}
    assert seen == {str(c) for c in ids}
    closed = await api.client.get("/v1/balances", params={"status": "paid"}, headers=api.headers())
    assert closed.json() == {"total": 0, "items": []}


async def test_bad_query_and_path_values_answer_422_naming_the_field(api):
    resp = await api.client.get("/v1/balances", params={"limit": 0}, headers=api.headers())
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["query.limit"]
    resp = await api.client.get("/v1/claims/not-a-uuid", headers=api.headers())
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["path.claim_id"]
    assert "not-a-uuid" not in resp.text


async def test_without_an_api_key_the_answer_is_401(api):
    assert (await api.client.get("/v1/balances")).status_code == 401
    assert (await api.client.get(f"/v1/claims/{uuid.uuid4()}")).status_code == 401
    assert (await api.client.get("/v1/balances", headers={"x-api-key": "nope"})).status_code == 401
