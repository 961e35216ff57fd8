"""Self-pay balances in-process against the real PostgreSQL: charges' SelfPayEncounterCaptured, consumed through the
app's own handlers, opens the claim's balance at its full charge, itemized per line (less the tenant's self-pay
discount), once per claim; statements, payments and plans work on it as on any balance; a remittance that comes for
the same claim later replaces its amount due like any posting."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import EncounterCaptured, PaymentPosted, SelfPayEncounterCaptured
from rcm_patient_billing.app import create_app
from rcm_patient_billing.db import metadata
from rcm_patient_billing.settings import Settings
from rcm_runtime.clock import FixedClock
from tests.support import claims as factory
from tests.support.api import bearer, service_api

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
DUE = date(2026, 12, 20)  # 30 days after the day the balance opened (the clock), written by hand


def self_pay_claim(**overrides):
    lines = [factory.make_line(1, "99203", "180.00"),
             factory.make_line(2, "81002", "12.35", units="1", service_date=date(2026, 3, 15)),
             factory.make_line(3, "36415", "20.00", units="2")]
    return factory.make_claim(coverage=None, diagnoses=[], lines=lines, **overrides)


def captured(claim, channel: str = "json") -> SelfPayEncounterCaptured:
    return SelfPayEncounterCaptured(claim=claim, intake_channel=channel)


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata, clock=FixedClock(NOW)) as api:
        yield api


async def test_a_self_pay_encounter_opens_the_claims_balance_at_its_full_charge_itemized(api):
    claim = self_pay_claim()
    applied = await api.consume((captured(claim), "tenant-a", claim.claim_id))

    assert applied.applied == 1 and applied.dead_lettered == 0
    [opened] = await api.outbox_events("balance-opened")
    assert opened["tenantid"] == "tenant-a" and opened["partitionkey"] == str(claim.claim_id)
    assert Decimal(opened["data"]["amount_due"]) == Decimal("212.35") and opened["data"]["due_date"] == DUE.isoformat()
    read = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert read["origin"] == "self_pay" and read["status"] == "open" and read["remittance_id"] is None
    assert Decimal(read["amount_due"]) == Decimal("212.35") and read["statement_id"] == opened["data"]["statement_id"]
    assert [(x["procedure_code"], x["service_date"], x["charge"], x["discount"], x["amount"]) for x in read["lines"]] == [
        ("99203", "2026-03-14", "180.00", "0.00", "180.00"),
        ("81002", "2026-03-15", "12.35", "0.00", "12.35"),
        ("36415", "2026-03-14", "20.00", "0.00", "20.00")]
    theirs = await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers("tenant-b"))
    assert theirs.status_code == 404


async def test_the_same_self_pay_claim_again_changes_nothing_redelivered_or_emitted_anew(api):
    claim = self_pay_claim()
    env = new_envelope(captured(claim), service="charges", tenant_id="tenant-a", key=str(claim.claim_id))
    first = await api.consume(env, env)  # the same record twice in one poll
    redelivered = await api.consume(env)
    anew = await api.consume((captured(claim, "kafka"), "tenant-a", claim.claim_id))  # a new event id, same claim

    assert (first.applied, first.duplicates, redelivered.applied) == (1, 1, 0)
    assert anew.applied == 1 and anew.dead_lettered == 0  # applied, and it opened nothing more
    assert len(await api.outbox_events("balance-opened")) == 1
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 1
    assert await api.scalar("SELECT amount_due FROM patient_balances") == Decimal("212.35")


async def test_the_tenants_self_pay_discount_comes_off_every_line(api):
    refused = await api.client.put("/v1/settings/self-pay-discount", json={"discount_percent": "15"},
                                   headers=api.headers(roles=["patient_billing_agent"]))
    too_much = await api.client.put("/v1/settings/self-pay-discount", json={"discount_percent": "100.5"},
                                    headers=api.headers())
    put = await api.client.put("/v1/settings/self-pay-discount", json={"discount_percent": "15"},
                               headers=api.headers(user="owner-1"))
    assert refused.status_code == 403 and too_much.status_code == 422
    assert put.status_code == 200 and Decimal(put.json()["discount_percent"]) == Decimal("15")
    assert put.json()["updated_by"] == "owner-1"
    read_b = await api.client.get("/v1/settings/self-pay-discount", headers=api.headers("tenant-b", roles=["biller"]))
    assert read_b.status_code == 200 and Decimal(read_b.json()["discount_percent"]) == 0

    a, b = self_pay_claim(), self_pay_claim()
    await api.consume((captured(a), "tenant-a", a.claim_id), (captured(b), "tenant-b", b.claim_id))

    read = (await api.client.get(f"/v1/claims/{a.claim_id}", headers=api.headers())).json()
    # by hand: 180.00 - 27.00; 12.35 - 1.85 (1.8525 rounded); 20.00 - 3.00
    assert [(x["discount"], x["amount"]) for x in read["lines"]] == [
        ("27.00", "153.00"), ("1.85", "10.50"), ("3.00", "17.00")]
    assert Decimal(read["amount_due"]) == Decimal("180.50")
    theirs = (await api.client.get(f"/v1/claims/{b.claim_id}", headers=api.headers("tenant-b"))).json()
    assert Decimal(theirs["amount_due"]) == Decimal("212.35")  # tenant-b set no discount


async def test_a_self_pay_statement_is_paid_and_planned_like_any_balance(api):
    claim = self_pay_claim()
    await api.consume((captured(claim), "tenant-a", claim.claim_id))
    link = await api.client.put(f"/v1/claims/{claim.claim_id}/patient-account", json={"patient_account": "ACC-SP1"},
                                headers=api.headers(roles=["front_desk"]))
    statement = link.json()["statement_id"]
    patient = bearer("tenant-a", user="portal:sp1", roles=["patient"], rcm_patient="ACC-SP1")
    paid = await api.client.post(f"/v1/patient/balances/{statement}/payments",
                                 json={"amount": "12.35", "reference": "sp-1"}, headers=patient)
    plan = await api.client.put("/v1/patient-accounts/ACC-SP1/payment-plan",
                                json={"installment": "50.00", "day_of_month": 5, "starts_on": "2026-12-01"},
                                headers=api.headers(roles=["patient_billing_agent"]))
    mine = await api.client.get(f"/v1/patient/balances/{statement}", headers=patient)

    assert link.status_code == 200 and paid.status_code == 201 and plan.status_code == 200
    assert Decimal(mine.json()["outstanding"]) == Decimal("200.00")
    assert plan.json()["installments_left"] == 4  # 50 + 50 + 50 + 50
    overpay = await api.client.post(f"/v1/patient/balances/{statement}/payments",
                                    json={"amount": "200.01", "reference": "sp-2"}, headers=patient)
    assert overpay.status_code == 422


async def test_a_remittance_for_a_self_pay_claim_later_replaces_its_amount_due_and_breaks_nothing(api):
    """The patient supplied coverage after all and the claim was billed: the payer's running patient responsibility
    replaces the self-pay amount due (the ledger's figure wins), as for any balance."""
    claim = self_pay_claim()
    await api.consume((captured(claim), "tenant-a", claim.claim_id))
    posted = PaymentPosted(claim_id=claim.claim_id, remittance_id=uuid.uuid4(), payer_id="SBX01",
                           payer_claim_control_number="PCCN-SP", total_charge=Decimal("212.35"),
                           allowed_amount=Decimal("150.00"), paid_amount=Decimal("120.00"),
                           patient_responsibility=Decimal("30.00"), patient_responsibility_total=Decimal("30.00"),
                           outcome="paid", payment_date=date(2026, 12, 1))
    applied = await api.consume((posted, "tenant-a", claim.claim_id))

    assert applied.applied == 1 and applied.dead_lettered == 0
    [changed] = await api.outbox_events("balance-changed")
    assert (Decimal(changed["data"]["previous_amount_due"]), Decimal(changed["data"]["amount_due"])) == (
        Decimal("212.35"), Decimal("30.00"))
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 1
    assert await api.scalar("SELECT origin FROM patient_balances") == "self_pay"


async def test_a_self_pay_event_for_a_claim_a_remittance_already_billed_opens_nothing(api):
    claim = self_pay_claim()
    posted = PaymentPosted(claim_id=claim.claim_id, remittance_id=uuid.uuid4(), payer_id="SBX01",
                           payer_claim_control_number="PCCN-SP", total_charge=Decimal("212.35"),
                           allowed_amount=Decimal("150.00"), paid_amount=Decimal("130.00"),
                           patient_responsibility=Decimal("20.00"), outcome="paid", payment_date=date(2026, 12, 1))
    await api.consume((posted, "tenant-a", claim.claim_id), (captured(claim), "tenant-a", claim.claim_id))

    assert len(await api.outbox_events("balance-opened")) == 1
    assert await api.scalar("SELECT amount_due FROM patient_balances") == Decimal("20.00")
    assert await api.scalar("SELECT origin FROM patient_balances") == "remittance"


async def test_the_other_charges_events_are_skipped_not_dead_lettered(api):
    claim = factory.make_claim()
    applied = await api.consume((EncounterCaptured(claim=claim, intake_channel="json"), "tenant-a", claim.claim_id))

    assert (applied.applied, applied.dead_lettered) == (0, 0)
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 0


async def test_a_self_pay_claim_charging_nothing_opens_no_balance(api):
    claim = factory.make_claim(coverage=None, lines=[factory.make_line(1, "99211", "0.00")])
    applied = await api.consume((captured(claim), "tenant-a", claim.claim_id))

    assert applied.applied == 1 and await api.outbox_events() == []
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 0
