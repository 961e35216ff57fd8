"""denials follows reversals: a PaymentReversed voids the denial recorded for the remittance it takes back (by
(tenant, remittance id)), the correction's PaymentPosted records anew; a redelivery changes nothing and another
tenant's reversal never voids this tenant's denial."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from rcm_contracts.envelope import new_envelope
from rcm_contracts.claim import Adjustment
from rcm_contracts.events import PaymentPosted, PaymentReversed
from rcm_denials.app import create_app
from rcm_denials.db import metadata
from rcm_denials.settings import Settings
from tests.support.api import service_api



def payment(claim_id: uuid.UUID, *adjustments: tuple[str, str, str], outcome: str = "denied",
            remittance_id: uuid.UUID | None = None) -> PaymentPosted:
    adj = [Adjustment(group_code=g, reason_code=c, amount=Decimal(a)) for g, c, a in adjustments]
    total = Decimal("100.00")
    return PaymentPosted(claim_id=claim_id, remittance_id=remittance_id or uuid.uuid4(), payer_id="SANDBOX1",
                         payer_claim_control_number="PCCN-1", total_charge=total, allowed_amount=total,
                         paid_amount=total - sum((a.amount for a in adj), Decimal("0.00")),
                         patient_responsibility=Decimal("0.00"), adjustments=adj, outcome=outcome,
                         payment_date=date(2026, 11, 2))

pytestmark = pytest.mark.integration


def reversal(claim_id: uuid.UUID, reversed_remittance_id: uuid.UUID) -> PaymentReversed:
    return PaymentReversed(claim_id=claim_id, remittance_id=uuid.uuid4(), reversed_remittance_id=reversed_remittance_id,
                           payer_id="SANDBOX1", payer_claim_control_number="PCCN-1", paid_amount=Decimal("0.00"),
                           patient_responsibility=Decimal("0.00"), patient_responsibility_total=Decimal("0.00"),
                           payment_date=date(2026, 11, 20))


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def statuses(api, tenant="tenant-a") -> list[tuple[str, str]]:
    rows = (await api.client.get("/v1/denials", headers=api.headers(tenant))).json()
    return sorted((i["remittance_id"], i["status"]) for i in rows["items"])


async def test_payment_then_reversal_then_correction_voids_the_first_denial_and_records_the_correction(api):
    claim_id = uuid.uuid4()
    denied = payment(claim_id, ("CO", "197", "100.00"))
    await api.consume((denied, "tenant-a", claim_id))
    back = reversal(claim_id, denied.remittance_id)
    applied = await api.consume((back, "tenant-a", claim_id))
    assert applied.applied == 1 and applied.dead_lettered == 0
    assert await api.scalar("SELECT status FROM denials WHERE remittance_id = :r", r=denied.remittance_id) == "voided"
    assert await api.scalar("SELECT voided_by_remittance_id FROM denials") == back.remittance_id
    correction = payment(claim_id, ("CO", "50", "40.00"), outcome="partially_paid")
    await api.consume((correction, "tenant-a", claim_id))
    assert await api.scalar("SELECT status FROM denials WHERE remittance_id = :r", r=correction.remittance_id) == "open"
    assert await api.scalar("SELECT count(*) FROM denials") == 2
    assert [e["data"]["category"] for e in await api.outbox_events("denial-recorded")] == ["authorization",
                                                                                           "medical_necessity"]


async def test_a_redelivered_reversal_changes_nothing(api):
    claim_id = uuid.uuid4()
    denied = payment(claim_id, ("CO", "197", "100.00"))
    await api.consume((denied, "tenant-a", claim_id))
    envelope = new_envelope(reversal(claim_id, denied.remittance_id), service="remittance", tenant_id="tenant-a",
                            key=str(claim_id))
    await api.consume(envelope)
    voided_at = await api.scalar("SELECT voided_at FROM denials")
    again = await api.consume(envelope)
    assert again.applied == 0 and again.duplicates == 1
    assert await api.scalar("SELECT voided_at FROM denials") == voided_at and voided_at is not None


async def test_a_reversal_of_another_tenants_remittance_id_voids_nothing_here(api):
    claim_id, remittance_id = uuid.uuid4(), uuid.uuid4()
    await api.consume((payment(claim_id, ("CO", "197", "100.00"), remittance_id=remittance_id), "tenant-a", claim_id),
                      (payment(claim_id, ("CO", "197", "100.00"), remittance_id=remittance_id), "tenant-b", claim_id))
    applied = await api.consume((reversal(claim_id, remittance_id), "tenant-b", claim_id))
    assert applied.applied == 1 and applied.dead_lettered == 0
    assert await statuses(api, "tenant-a") == [(str(remittance_id), "open")]
    assert await statuses(api, "tenant-b") == [(str(remittance_id), "voided")]


async def test_a_reversal_of_a_paid_remittance_voids_nothing(api):
    claim_id = uuid.uuid4()
    denied = payment(claim_id, ("CO", "197", "100.00"))
    await api.consume((denied, "tenant-a", claim_id))
    applied = await api.consume((reversal(claim_id, uuid.uuid4()), "tenant-a", claim_id))
    assert applied.applied == 1 and applied.dead_lettered == 0
    assert await api.scalar("SELECT status FROM denials") == "open"
