"""From an 835 to a classified denial without Kafka: remittance posts a shared 835 sample (pyx12_mult-loops: a
claim denied CO-16 with remark LQ*HE*N14), its PaymentPosted carries the remark codes read from LQ and MOA/MIA,
and denials, consuming that event, records the item with its root cause, the remark and the words for both."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from rcm_contracts.events import ClaimSubmitted, PaymentPosted
from rcm_denials.app import create_app as denials_app
from rcm_denials.db import metadata as denials_metadata
from rcm_denials.settings import Settings as DenialsSettings
from rcm_remittance.app import create_app as remittance_app
from rcm_remittance.db import metadata as remittance_metadata
from rcm_remittance.settings import Settings as RemittanceSettings
from tests.support.api import service_api
from tests.support.shared import sample_file

pytestmark = pytest.mark.integration
PCN = "2005555A"  # the sample's CLP01 of the CO-16 claim


async def test_an_835s_lq_remark_travels_in_payment_posted_and_refines_nothing_it_should_not():
    text = sample_file("x12", "835", "pyx12_mult-loops.835").read_text(encoding="latin-1")
    async with service_api(remittance_app, RemittanceSettings, remittance_metadata) as remittance:
        pcns = sorted({seg.split("*")[1] for seg in text.replace("\n", "").split("~") if seg.startswith("CLP*")})
        for pcn in pcns:
            claim_id = uuid.uuid4()
            await remittance.consume((ClaimSubmitted(
                claim_id=claim_id, payer_id="SAMPLE", clearinghouse="sample", interchange_control_number="000000001",
                total_charge="1.00", submitted_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
                patient_control_number=pcn), "tenant-a", claim_id))
        posted = await remittance.client.post("/v1/remittances/x12", content=text.encode("latin-1"),
                                              headers=remittance.headers(**{"content-type": "application/edi-x12"}))
        assert posted.status_code == 200 and posted.json()["status"] == "posted", posted.text
        events = [PaymentPosted.model_validate(e["data"]) for e in await remittance.outbox_events("payment-posted")]
    [denied] = [e for e in events if any(a.reason_code == "16" for a in e.adjustments)]
    assert "N14" in denied.remark_codes

    async with service_api(denials_app, DenialsSettings, denials_metadata, expiry_sweep_s=0) as denials:
        applied = await denials.consume(*[(e, "tenant-a", e.claim_id) for e in events])
        assert applied.dead_lettered == 0
        item = (await denials.client.get(f"/v1/claims/{denied.claim_id}", headers=denials.headers())).json()
    assert item["category"] == "documentation" and "CO-16" in item["reason_codes"]
    assert "N14" in item["remark_codes"] and item["unknown_codes"] == []
    assert "remark N14: Payment based on a contractual amount" in item["explanation"]
