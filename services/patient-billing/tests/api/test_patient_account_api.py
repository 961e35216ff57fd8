"""A patient's own account in patient-billing, in-process against the real PostgreSQL: staff link claims' balances
to patients' accounts; a token with role `patient` and the `rcm_patient` claim reads and pays only its own
statements (another patient's, in the same tenant or not, is 404), once per payment reference."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from rcm_contracts.claim import Adjustment
from rcm_contracts.events import PaymentPosted
from rcm_patient_billing.app import create_app
from rcm_patient_billing.db import metadata
from rcm_patient_billing.settings import Settings
from tests.support.api import bearer, service_api

pytestmark = pytest.mark.integration

AGENT = {"user": "pat.agent", "roles": ["patient_billing_agent"]}
PLAN = {"installment": "25.00", "day_of_month": 10, "starts_on": "2026-01-01"}


def payment(claim_id: uuid.UUID, *, patient: str = "20.00") -> PaymentPosted:
    """The payer paid the claim and left the patient `patient` to pay (PR-2)."""
    pr = Decimal(patient)
    return PaymentPosted(claim_id=claim_id, remittance_id=uuid.uuid4(), payer_id="SANDBOX1",
                         payer_claim_control_number="PCCN-1", total_charge=Decimal("100.00"),
                         allowed_amount=Decimal("100.00"), paid_amount=Decimal("100.00") - pr,
                         patient_responsibility=pr, outcome="paid", payment_date=date(2026, 11, 2),
                         adjustments=[Adjustment(group_code="PR", reason_code="2", amount=pr)])


def patient(account: str, tenant: str = "tenant-a", user: str | None = None) -> dict[str, str]:
    return bearer(tenant, user=user or f"portal:{account}", roles=["patient"], rcm_patient=account)


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def balance_of(api, account: str, tenant: str = "tenant-a", owed: str = "20.00") -> str:
    """A claim with a patient share (a posted payment), linked by staff to `account`; its statement id."""
    claim_id = uuid.uuid4()
    assert (await api.consume((payment(claim_id, patient=owed), tenant, claim_id))).applied == 1
    linked = await api.client.put(f"/v1/claims/{claim_id}/patient-account", json={"patient_account": account},
                                  headers=api.headers(tenant, **AGENT))
    assert linked.status_code == 200, linked.text
    assert await api.scalar("SELECT account_linked_by FROM patient_balances WHERE claim_id = :c", c=claim_id) == \
        "pat.agent"
    return linked.json()["statement_id"]


async def test_a_patient_reads_only_their_own_statements(api):
    mine = [await balance_of(api, "ACC-1"), await balance_of(api, "ACC-1", owed="35.50")]
    theirs = await balance_of(api, "ACC-2")
    other_tenant = await balance_of(api, "ACC-1", tenant="tenant-b")  # the same account id elsewhere
    unlinked = uuid.uuid4()
    await api.consume((payment(unlinked), "tenant-a", unlinked))

    listed = await api.client.get("/v1/patient/balances", headers=patient("ACC-1"))
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [i["statement_id"] for i in items] == mine
    assert [(i["amount_due"], i["paid_by_patient"], i["outstanding"]) for i in items] == [
        ("20.00", "0.00", "20.00"), ("35.50", "0.00", "35.50")]
    assert "remittance_id" not in items[0] and "tenant_id" not in items[0]
    one = await api.client.get(f"/v1/patient/balances/{mine[1]}", headers=patient("ACC-1"))
    assert one.status_code == 200 and one.json()["amount_due"] == "35.50"
    for stranger in (theirs, other_tenant, uuid.uuid4()):
        resp = await api.client.get(f"/v1/patient/balances/{stranger}", headers=patient("ACC-1"))
        assert resp.status_code == 404 and resp.json()["code"] == "not_found", stranger
    assert [i["statement_id"] for i in (await api.client.get(
        "/v1/patient/balances", headers=patient("ACC-1", tenant="tenant-b"))).json()["items"]] == [other_tenant]
    assert (await api.client.get("/v1/patient/balances", headers=patient("ACC-9"))).json() == {"items": []}


async def test_a_patient_pays_their_own_statement_once_per_reference(api):
    statement = await balance_of(api, "ACC-1", owed="50.00")
    pay = f"/v1/patient/balances/{statement}/payments"
    first = await api.client.post(pay, json={"amount": "30.00", "reference": "web-1"}, headers=patient("ACC-1"))
    again = await api.client.post(pay, json={"amount": "30.00", "reference": "web-1"}, headers=patient("ACC-1"))
    assert first.status_code == 201 and again.status_code == 200, (first.text, again.text)
    assert again.json()["payment_id"] == first.json()["payment_id"] and first.json()["paid_by"] == "portal:ACC-1"
    reused = await api.client.post(pay, json={"amount": "10.00", "reference": "web-1"}, headers=patient("ACC-1"))
    too_much = await api.client.post(pay, json={"amount": "20.01", "reference": "web-2"}, headers=patient("ACC-1"))
    assert reused.status_code == 409 and too_much.status_code == 422, (reused.text, too_much.text)
    view = (await api.client.get(f"/v1/patient/balances/{statement}", headers=patient("ACC-1"))).json()
    assert (view["amount_due"], view["paid_by_patient"], view["outstanding"]) == ("50.00", "30.00", "20.00")
    rest = await api.client.post(pay, json={"amount": "20.00", "reference": "web-2"}, headers=patient("ACC-1"))
    assert rest.status_code == 201
    assert await api.scalar("SELECT sum(amount) FROM patient_payments") == Decimal("50.00")


async def test_another_patient_or_a_token_without_an_account_changes_nothing(api):
    statement = await balance_of(api, "ACC-1")
    pay = f"/v1/patient/balances/{statement}/payments"
    body = {"amount": "5.00", "reference": "x"}
    assert (await api.client.post(pay, json=body, headers=patient("ACC-2"))).status_code == 404
    assert (await api.client.post(pay, json=body, headers=patient("ACC-1", tenant="tenant-b"))).status_code == 404
    for headers in (api.headers("tenant-a"), api.headers("tenant-a", roles=["auditor"]),
                    bearer("tenant-a", roles=["patient"])):  # no rcm_patient claim: nobody's account
        resp = await api.client.get("/v1/patient/balances", headers=headers)
        assert resp.status_code == 403 and resp.json()["code"] == "forbidden", resp.text
        assert (await api.client.post(pay, json=body, headers=headers)).status_code == 403
    assert await api.scalar("SELECT count(*) FROM patient_payments") == 0


async def test_the_patient_role_reaches_no_staff_route_and_staff_no_patient_route(api):
    statement = await balance_of(api, "ACC-1")
    claim = await api.scalar("SELECT claim_id FROM patient_balances WHERE statement_id = :s",
                             s=uuid.UUID(statement))
    for method, path, body in (("GET", "/v1/balances", None), ("GET", f"/v1/claims/{claim}", None),
                               ("PUT", f"/v1/claims/{claim}/patient-account", {"patient_account": "ACC-1"}),
                               ("PUT", "/v1/patient-accounts/ACC-1/payment-plan", PLAN)):
        resp = await api.client.request(method, path, json=body, headers=patient("ACC-1"))
        assert resp.status_code == 403, (method, path, resp.text)
    agent = api.headers("tenant-a", **AGENT)
    assert (await api.client.get("/v1/patient/balances", headers=agent)).status_code == 403
    unknown = await api.client.put(f"/v1/claims/{uuid.uuid4()}/patient-account", json={"patient_account": "A"},
                                   headers=agent)
    assert unknown.status_code == 404


async def test_staff_set_a_plan_and_the_patient_reads_only_their_own(api):
    await balance_of(api, "ACC-1", owed="60.00")
    await balance_of(api, "ACC-1", owed="15.00")
    assert (await api.client.get("/v1/patient/payment-plan", headers=patient("ACC-1"))).status_code == 404
    put = await api.client.put("/v1/patient-accounts/ACC-1/payment-plan", json=PLAN,
                               headers=api.headers("tenant-a", **AGENT))
    assert put.status_code == 200, put.text
    assert await api.scalar("SELECT set_by FROM payment_plans") == "pat.agent"
    mine = (await api.client.get("/v1/patient/payment-plan", headers=patient("ACC-1"))).json()
    assert (mine["installment"], mine["outstanding"], mine["installments_left"]) == ("25.00", "75.00", 3)
    assert [i["amount"] for i in mine["next_installments"]] == ["25.00", "25.00", "25.00"]
    assert all(i["due_on"].endswith("-10") for i in mine["next_installments"])
    for stranger in (patient("ACC-2"), patient("ACC-1", tenant="tenant-b")):
        assert (await api.client.get("/v1/patient/payment-plan", headers=stranger)).status_code == 404
    bad = await api.client.put("/v1/patient-accounts/ACC-1/payment-plan", json={**PLAN, "day_of_month": 31},
                               headers=api.headers("tenant-a", **AGENT))
    assert bad.status_code == 422
