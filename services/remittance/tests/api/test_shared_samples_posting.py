"""Every 835 sample under ../shared/samples/x12/835 is posted against claims made for it: a file that posts
leaves, for every claim, a ledger whose payer_paid equals the sum of that claim's CLP04 as an independent parser
(pyx12's X12Reader, segment by segment) reads it, to the cent; a file that is held or rejected says why.
Locally the samples may be absent (skip); under CI=true their absence fails (tests/support/shared.py)."""

from __future__ import annotations

import io
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from rcm_contracts.events import ClaimSubmitted
from rcm_remittance.app import create_app
from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings
from tests.support.api import service_api
from tests.support.shared import sample_params

pytestmark = pytest.mark.integration
X12 = {"content-type": "application/edi-x12"}


def independent_clp04(text: str) -> dict[str, Decimal]:
    """CLP01 -> sum of its CLP04 (reversals carry negative amounts), read by pyx12, not by our reader."""
    from pyx12.x12file import X12Reader

    from tests.support.pyx12_oracle import _quiet_pyx12

    totals: dict[str, Decimal] = defaultdict(Decimal)
    with _quiet_pyx12():
        for seg in X12Reader(io.StringIO(text)):
            if seg.get_seg_id() == "CLP":
                totals[seg.get_value("CLP01")] += Decimal(seg.get_value("CLP04") or "0")
    return dict(totals)


@pytest.mark.parametrize("path", sample_params("x12", "835", pattern="*.835"))
async def test_a_shared_835_posts_to_the_cent_or_says_why_not(path: Path):
    text = path.read_text(encoding="latin-1")
    expected = independent_clp04(text)
    async with service_api(create_app, Settings, metadata) as api:
        claims = {}
        for pcn in expected:
            claim_id = uuid.uuid4()
            applier = await api.consume((ClaimSubmitted(
                claim_id=claim_id, payer_id="SAMPLE", clearinghouse="sample", interchange_control_number="000000001",
                total_charge="1.00", submitted_at=datetime(2026, 1, 2, tzinfo=timezone.utc),
                patient_control_number=pcn), "tenant-a", claim_id))
            assert applier.applied == 1
            claims[pcn] = claim_id
        resp = await api.client.post("/v1/remittances/x12", content=text.encode("latin-1"), headers=api.headers(**X12))
        assert resp.status_code in (200, 422), resp.text
        body = resp.json()
        if resp.status_code == 422 or body["status"] in ("rejected", "held"):
            file_id = body.get("file_id")
            assert file_id, body
            stored = (await api.client.get(f"/v1/remittances/{file_id}", headers=api.headers())).json()
            findings = stored.get("findings") or {}
            assert stored["status"] in ("rejected", "held") and (body.get("description") or any(findings.values())), stored
            return
        assert body["status"] == "posted", body  # every claim of the file was made for it: nothing unmatched
        for pcn, claim_id in claims.items():
            ledger = (await api.client.get(f"/v1/claims/{claim_id}/ledger", headers=api.headers())).json()
            assert Decimal(ledger["totals"]["payer_paid"]) == expected[pcn], (pcn, ledger["totals"])
