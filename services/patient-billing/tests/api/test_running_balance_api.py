"""patient-billing keeps one balance per (tenant, claim) at the claim's running patient responsibility: a
secondary payment or a reversal replaces the amount due (PatientBalanceChanged), never adds to it; redeliveries
and reposts change nothing; another tenant's events never touch this tenant's balance."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import PaymentPosted, PaymentReversed
from rcm_patient_billing.app import create_app
from rcm_patient_billing.db import metadata
from rcm_patient_billing.settings import Settings
from tests.support.api import service_api

pytestmark = pytest.mark.integration

PAID_ON = date(2026, 11, 2)


def posted(claim_id, *, paid: str, share: str, total: str | None, status: str = "1", remittance_id=None) -> PaymentPosted:
    return PaymentPosted(claim_id=claim_id, remittance_id=remittance_id or uuid.uuid4(), payer_id="SANDBOX1",
                         payer_claim_control_number="PCCN-1", total_charge=Decimal("100.00"),
                         allowed_amount=Decimal("100.00"), paid_amount=Decimal(paid),
                         patient_responsibility=Decimal(share), outcome="paid", payment_date=PAID_ON,
                         claim_status_code=status,
                         patient_responsibility_total=None if total is None else Decimal(total))


def reversed_(claim_id, original: PaymentPosted, *, total: str) -> PaymentReversed:
    return PaymentReversed(claim_id=claim_id, remittance_id=uuid.uuid4(), reversed_remittance_id=original.remittance_id,
                           payer_id="SANDBOX1", payer_claim_control_number="PCCN-1", paid_amount=original.paid_amount,
                           patient_responsibility=original.patient_responsibility,
                           patient_responsibility_total=Decimal(total), payment_date=date(2026, 11, 20))


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def balance(api, claim_id, tenant="tenant-a") -> dict:
    resp = await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers(tenant))
    assert resp.status_code == 200
    return resp.json()


async def test_after_a_secondary_payment_the_patient_owes_the_secondarys_running_share_not_both(api):
    claim_id = uuid.uuid4()
    primary = posted(claim_id, paid="70.00", share="30.00", total="30.00", status="1")
    # the secondary pays 20 of the 30 and leaves 10: the ledger's running patient share is 10, not 30 + 10
    secondary = posted(claim_id, paid="20.00", share="10.00", total="10.00", status="2")
    await api.consume((primary, "tenant-a", claim_id))
    assert (await balance(api, claim_id))["amount_due"] == "30.00"
    applied = await api.consume((secondary, "tenant-a", claim_id))
    assert applied.applied == 1 and applied.dead_lettered == 0
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"]) == ("10.00", "open")
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 1
    [opened] = await api.outbox_events("balance-opened")
    [changed] = await api.outbox_events("balance-changed")
    assert opened["data"]["amount_due"] == "30.00"
    assert changed["data"] == {"claim_id": str(claim_id), "statement_id": opened["data"]["statement_id"],
                               "previous_amount_due": "30.00", "amount_due": "10.00", "status": "open",
                               "remittance_id": str(secondary.remittance_id), "reason": "payment"}
    assert changed["tenantid"] == "tenant-a" and changed["partitionkey"] == str(claim_id)


async def test_primary_and_secondary_in_one_batch_leave_one_balance_at_the_secondarys_share(api):
    claim_id = uuid.uuid4()
    await api.consume((posted(claim_id, paid="70.00", share="30.00", total="30.00"), "tenant-a", claim_id),
                      (posted(claim_id, paid="30.00", share="0.00", total="0.00", status="2"), "tenant-a", claim_id))
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"]) == ("0.00", "closed")  # the secondary paid the patient's share
    assert [e["data"]["amount_due"] for e in await api.outbox_events("balance-opened")] == ["30.00"]
    assert [(e["data"]["amount_due"], e["data"]["status"]) for e in await api.outbox_events("balance-changed")] == [
        ("0.00", "closed")]


async def test_payment_then_reversal_then_correction_leaves_the_right_balance_at_each_step(api):
    claim_id = uuid.uuid4()
    payment = posted(claim_id, paid="75.00", share="25.00", total="25.00")
    await api.consume((payment, "tenant-a", claim_id))
    assert (await balance(api, claim_id))["amount_due"] == "25.00"
    await api.consume((reversed_(claim_id, payment, total="0.00"), "tenant-a", claim_id))
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"]) == ("0.00", "closed")
    correction = posted(claim_id, paid="60.00", share="40.00", total="40.00")
    await api.consume((correction, "tenant-a", claim_id))
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"]) == ("40.00", "open")  # reopened by the correction
    changes = [(e["data"]["previous_amount_due"], e["data"]["amount_due"], e["data"]["status"], e["data"]["reason"])
               for e in await api.outbox_events("balance-changed")]
    assert changes == [("25.00", "0.00", "closed", "reversal"), ("0.00", "40.00", "open", "payment")]
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 1
    assert await api.scalar("SELECT last_remittance_id FROM patient_balances") == correction.remittance_id


async def test_redelivered_and_reposted_events_change_nothing(api):
    claim_id = uuid.uuid4()
    primary = posted(claim_id, paid="70.00", share="30.00", total="30.00")
    secondary = posted(claim_id, paid="20.00", share="10.00", total="10.00", status="2")
    envelopes = [new_envelope(e, service="remittance", tenant_id="tenant-a", key=str(claim_id)) for e in (primary, secondary)]
    await api.consume(*envelopes)
    again = await api.consume(*envelopes)
    assert again.applied == 0 and again.duplicates == 2
    # the primary's remittance posted again as a new event (a repost) must not put its 30.00 back
    repost = await api.consume((primary, "tenant-a", claim_id))
    assert repost.applied == 1 and repost.dead_lettered == 0
    assert (await balance(api, claim_id))["amount_due"] == "10.00"
    assert len(await api.outbox_events("balance-opened")) == 1 and len(await api.outbox_events("balance-changed")) == 1
    assert await api.scalar("SELECT count(*) FROM balance_postings") == 2


async def test_an_unchanged_running_share_emits_nothing(api):
    claim_id = uuid.uuid4()
    await api.consume((posted(claim_id, paid="70.00", share="30.00", total="30.00"), "tenant-a", claim_id),
                      (posted(claim_id, paid="0.00", share="30.00", total="30.00", status="2"), "tenant-a", claim_id))
    assert (await balance(api, claim_id))["amount_due"] == "30.00"
    assert await api.outbox_events("balance-changed") == []


async def test_a_payment_without_a_running_total_falls_back_to_its_own_share_replacing_not_adding(api):
    claim_id = uuid.uuid4()
    await api.consume((posted(claim_id, paid="70.00", share="30.00", total=None), "tenant-a", claim_id),
                      (posted(claim_id, paid="20.00", share="10.00", total=None, status="2"), "tenant-a", claim_id))
    assert (await balance(api, claim_id))["amount_due"] == "10.00"


async def test_a_reversal_of_a_payment_never_seen_applies_the_ledgers_total_and_the_late_payment_is_superseded(api):
    claim_id = uuid.uuid4()
    unseen = posted(claim_id, paid="80.00", share="20.00", total="20.00")
    # the reversal arrives first (e.g. the payment is replayed later from a dead letter): its total is the ledger's
    await api.consume((reversed_(claim_id, unseen, total="0.00"), "tenant-a", claim_id))
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 0  # the patient owes nothing: none opened
    late = await api.consume((unseen, "tenant-a", claim_id))
    assert late.applied == 1 and late.dead_lettered == 0
    assert await api.scalar("SELECT count(*) FROM patient_balances") == 0
    assert await api.scalar("SELECT effect FROM balance_postings WHERE remittance_id = :r", r=unseen.remittance_id) == "superseded"
    assert await api.outbox_events() == []
    # a reversal that leaves the patient a share on a claim without a balance opens one at the ledger's figure
    other = uuid.uuid4()
    await api.consume((reversed_(other, posted(other, paid="50.00", share="0.00", total="0.00"), total="15.00"),
                       "tenant-a", other))
    row = await balance(api, other)
    assert (row["amount_due"], row["status"]) == ("15.00", "open")


async def test_another_tenants_secondary_and_reversal_for_the_same_claim_id_change_nothing_here(api):
    claim_id = uuid.uuid4()
    mine = posted(claim_id, paid="70.00", share="30.00", total="30.00")
    await api.consume((mine, "tenant-a", claim_id))
    theirs = posted(claim_id, paid="70.00", share="30.00", total="30.00", remittance_id=mine.remittance_id)
    await api.consume((theirs, "tenant-b", claim_id),
                      (posted(claim_id, paid="20.00", share="10.00", total="10.00", status="2"), "tenant-b", claim_id),
                      (reversed_(claim_id, mine, total="0.00"), "tenant-b", claim_id))
    assert (await balance(api, claim_id, "tenant-a"))["amount_due"] == "30.00"
    theirs_row = await balance(api, claim_id, "tenant-b")
    assert (theirs_row["amount_due"], theirs_row["status"]) == ("0.00", "closed")
    assert {e["tenantid"] for e in await api.outbox_events("balance-changed")} == {"tenant-b"}


# ---------------------------------------------------------------- coordination of benefits: waiting for the secondary
def awaiting(claim_id, *, share: str, status: str = "1") -> PaymentPosted:
    return posted(claim_id, paid="70.00", share=share, total=share, status=status).model_copy(
        update={"awaiting_payer_id": "SECOND1"})


async def test_the_patient_is_not_billed_while_the_secondary_payer_has_the_claim_then_owes_what_it_leaves(api):
    claim_id = uuid.uuid4()
    await api.consume((awaiting(claim_id, share="30.00"), "tenant-a", claim_id))
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"], row["due_date"]) == ("30.00", "awaiting_insurance", None)
    assert await api.outbox_events("balance-opened") == [] and await api.outbox_events("balance-changed") == []
    secondary = posted(claim_id, paid="20.00", share="10.00", total="10.00", status="2")
    await api.consume((secondary, "tenant-a", claim_id))
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"], row["due_date"]) == ("10.00", "open", "2026-12-02")
    [opened] = await api.outbox_events("balance-opened")
    assert (opened["data"]["amount_due"], opened["data"]["statement_id"]) == ("10.00", row["statement_id"])
    assert await api.outbox_events("balance-changed") == []


async def test_a_secondary_that_pays_the_whole_share_settles_the_balance_without_billing_the_patient(api):
    claim_id = uuid.uuid4()
    await api.consume((awaiting(claim_id, share="30.00"), "tenant-a", claim_id),
                      (posted(claim_id, paid="30.00", share="0.00", total="0.00", status="2"), "tenant-a", claim_id))
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"]) == ("0.00", "closed")
    assert await api.outbox_events("balance-opened") == []


async def test_a_balance_already_billed_is_not_taken_back_into_waiting(api):
    claim_id = uuid.uuid4()
    await api.consume((posted(claim_id, paid="70.00", share="30.00", total="30.00"), "tenant-a", claim_id))
    await api.consume((awaiting(claim_id, share="25.00"), "tenant-a", claim_id))
    row = await balance(api, claim_id)
    assert (row["amount_due"], row["status"]) == ("25.00", "open")
    [changed] = await api.outbox_events("balance-changed")
    assert changed["data"]["amount_due"] == "25.00"
