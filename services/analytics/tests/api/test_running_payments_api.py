"""analytics keeps every payment of a claim: paid and patient responsibility are the running figures over every
PaymentPosted minus PaymentReversed (patient responsibility: the latest running total remittance gave), not the
last payment's, and the KPIs follow; reposts and redeliveries count once; tenants never mix."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from rcm_analytics.app import create_app
from rcm_analytics.db import metadata
from rcm_analytics.settings import Settings
from rcm_contracts.base import Event
from rcm_contracts.envelope import Envelope, new_envelope
from rcm_contracts.events import PatientBalanceOpened, PaymentPosted, PaymentReversed
from tests.support.api import service_api

T0 = datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc)


def env(event: Event, tenant: str, claim_id: uuid.UUID, minutes: int) -> Envelope:
    return new_envelope(event, service=event.SERVICE, tenant_id=tenant, key=str(claim_id),
                        time=T0 + timedelta(minutes=minutes))

pytestmark = pytest.mark.integration


def posted(cid, *, outcome="paid", allowed="90.00", paid: str, patient: str, total: str, status="1") -> PaymentPosted:
    return PaymentPosted(claim_id=cid, remittance_id=uuid.uuid4(), payer_id="SBX01", payer_claim_control_number="PCCN",
                         total_charge=D("100.00"), allowed_amount=D(allowed), paid_amount=D(paid),
                         patient_responsibility=D(patient), outcome=outcome, payment_date=date(2026, 3, 20),
                         claim_status_code=status, patient_responsibility_total=D(total))


def reversal(cid, original: PaymentPosted, *, total: str) -> PaymentReversed:
    return PaymentReversed(claim_id=cid, remittance_id=uuid.uuid4(), reversed_remittance_id=original.remittance_id,
                           payer_id="SBX01", payer_claim_control_number="PCCN", paid_amount=original.paid_amount,
                           patient_responsibility=original.patient_responsibility,
                           patient_responsibility_total=D(total), payment_date=date(2026, 3, 30))


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def figures(api, cid, tenant="tenant-a"):
    claim = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers(tenant))).json()
    kpis = (await api.client.get("/v1/kpis", headers=api.headers(tenant))).json()
    return claim, kpis


async def test_primary_then_secondary_adds_the_payers_and_keeps_the_secondarys_patient_share(api):
    cid = uuid.uuid4()
    # the primary paid 60.00 of 90.00 allowed, patient 20.00 (a 1.0 event: no running total)
    primary = PaymentPosted(claim_id=cid, remittance_id=uuid.uuid4(), payer_id="SBX01", payer_claim_control_number="PCCN",
                            total_charge=D("100.00"), allowed_amount=D("90.00"), paid_amount=D("60.00"),
                            patient_responsibility=D("20.00"), outcome="paid", payment_date=date(2026, 3, 20))
    await api.consume(env(primary, "tenant-a", cid, 4),
                      env(PatientBalanceOpened(claim_id=cid, statement_id=uuid.uuid4(), amount_due=D("20.00"),
                                               due_date=date(2026, 4, 19)), "tenant-a", cid, 5))
    claim, kpis = await figures(api, cid)
    assert (claim["paid_amount"], claim["patient_responsibility"], kpis["payer_paid"]) == ("60.00", "20.00", "60.00")
    secondary = posted(cid, paid="15.00", patient="5.00", total="5.00", status="2")
    await api.consume(env(secondary, "tenant-a", cid, 10))
    claim, kpis = await figures(api, cid)
    assert (claim["paid_amount"], claim["patient_responsibility"], claim["allowed_amount"]) == ("75.00", "5.00", "90.00")
    assert claim["final_state"] == "patient_balance"
    assert (kpis["payer_paid"], kpis["patient_responsibility"]) == ("75.00", "5.00")
    assert kpis["payer_net_collection_rate"] == round(75 / (90 - 5), 4)
    assert await api.scalar("SELECT count(*) FROM claim_payments") == 2


async def test_payment_then_reversal_then_correction_has_the_right_figures_and_kpis_at_each_step(api):
    cid = uuid.uuid4()
    denied = posted(cid, outcome="denied", allowed="0.00", paid="0.00", patient="0.00", total="0.00")
    await api.consume(env(denied, "tenant-a", cid, 0))
    claim, kpis = await figures(api, cid)
    assert claim["payment_outcome"] == "denied" and kpis["denial_rate"] == 1.0
    await api.consume(env(reversal(cid, denied, total="0.00"), "tenant-a", cid, 1))
    claim, kpis = await figures(api, cid)
    assert (claim["paid_amount"], claim["payment_outcome"], claim["final_state"]) == ("0.00", "reversed", None)
    assert kpis["denial_rate"] == 0.0  # the denied payment was taken back: nothing of this claim counts as denied
    correction = posted(cid, paid="65.00", patient="25.00", total="25.00")
    await api.consume(env(correction, "tenant-a", cid, 2))
    claim, kpis = await figures(api, cid)
    assert (claim["paid_amount"], claim["patient_responsibility"], claim["payment_outcome"]) == ("65.00", "25.00", "paid")
    assert kpis["payer_paid"] == "65.00" and kpis["patient_responsibility"] == "25.00" and kpis["denial_rate"] == 0.0
    # a reversal of a paid payment subtracts what it took back
    await api.consume(env(reversal(cid, correction, total="0.00"), "tenant-a", cid, 3))
    claim, kpis = await figures(api, cid)
    assert (claim["paid_amount"], claim["patient_responsibility"], claim["payment_outcome"]) == ("0.00", "0.00", "reversed")
    assert D(kpis["payer_paid"]) == 0 and D(kpis["patient_responsibility"]) == 0


async def test_redeliveries_and_reposts_count_once(api):
    cid = uuid.uuid4()
    primary = posted(cid, paid="70.00", patient="20.00", total="20.00")
    envelope = env(primary, "tenant-a", cid, 0)
    await api.consume(envelope)
    again = await api.consume(envelope)
    assert again.applied == 0 and again.duplicates == 1
    repost = await api.consume(env(primary, "tenant-a", cid, 1))  # the same remittance as a new event
    assert repost.applied == 1 and repost.dead_lettered == 0
    claim, kpis = await figures(api, cid)
    assert (claim["paid_amount"], kpis["payer_paid"]) == ("70.00", "70.00")


async def test_another_tenants_payments_and_reversals_for_the_same_claim_id_never_count_here(api):
    cid = uuid.uuid4()
    mine = posted(cid, paid="70.00", patient="20.00", total="20.00")
    await api.consume(env(mine, "tenant-a", cid, 0))
    theirs_paid = posted(cid, paid="40.00", patient="10.00", total="10.00")
    await api.consume(env(theirs_paid, "tenant-b", cid, 1), env(reversal(cid, theirs_paid, total="0.00"), "tenant-b", cid, 2),
                      env(posted(cid, paid="35.00", patient="5.00", total="5.00"), "tenant-b", cid, 3))
    claim, kpis = await figures(api, cid)
    assert (claim["paid_amount"], claim["patient_responsibility"], kpis["payer_paid"]) == ("70.00", "20.00", "70.00")
    theirs, their_kpis = await figures(api, cid, "tenant-b")
    assert (theirs["paid_amount"], theirs["patient_responsibility"], their_kpis["payer_paid"]) == ("35.00", "5.00", "35.00")
