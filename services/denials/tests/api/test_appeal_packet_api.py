"""The appeal packet through denials' API in-process against the real PostgreSQL: a denied payment's item made into
the appeal letter's PDF (rendered to an image and its text read back), the tenant's own argument used, a template
with an unknown placeholder refused, another tenant's item 404."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pypdfium2
import pytest

from rcm_contracts.claim import patient_control_number
from rcm_denials.app import create_app
from rcm_denials.db import metadata
from rcm_denials.settings import Settings
from rcm_runtime.clock import FixedClock
from tests.support.api import service_api

from .test_denial_work_api import SPECIALIST, denied

pytestmark = pytest.mark.integration

PRACTICE = {"name": "Demo Family Practice", "npi": "1234567893", "phone": "217-555-0100", "signer_name": "Dana Demo",
            "address": {"lines": ["100 Main St"], "city": "Springfield", "state": "IL", "postal_code": "62701"}}


@pytest.fixture
async def api():
    clock = FixedClock(datetime(2026, 11, 10, 12, tzinfo=timezone.utc))
    async with service_api(create_app, Settings, metadata, clock=clock, expiry_sweep_s=0) as api:
        yield api


def pdf_text(data: bytes) -> tuple[str, list]:
    doc = pypdfium2.PdfDocument(io.BytesIO(data))
    pages = [doc[i] for i in range(len(doc))]
    text = "\n".join(page.get_textpage().get_text_range() for page in pages)
    images = [page.render(scale=1).to_pil() for page in pages]
    return text, images


async def test_an_items_appeal_letter_states_the_claim_the_codes_and_the_tenants_argument(api):
    claim_id, denial_id = await denied(api, ("CO", "197", "300.00"), remarks=("N54",))
    own = await api.client.put("/v1/appeal-templates", headers=api.headers(), json={
        "arguments": {"authorization": "Our records show {payer_name} authorized this service by phone."}})
    assert own.status_code == 200, own.text

    resp = await api.client.post(f"/v1/denials/{denial_id}/appeal-packet", headers=api.headers(**SPECIALIST), json={
        "practice": PRACTICE, "payer_name": "Sandbox Health Plan", "attachments": ["Authorization call log"]})

    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "application/pdf" and resp.content.startswith(b"%PDF")
    text, images = pdf_text(resp.content)
    flat = " ".join(text.split())
    assert patient_control_number(claim_id) in flat and "Demo Family Practice" in flat
    assert "197" in flat and "authorization" in flat.lower()
    assert "Our records show Sandbox Health Plan authorized this service by phone." in flat
    assert "Authorization call log" in flat
    assert images[0].size == (612, 792)  # US Letter at 72 dpi
    assert images[0].convert("L").getextrema()[0] < 128  # something is printed on it


async def test_a_template_with_an_unknown_placeholder_is_refused_and_another_tenants_item_is_404(api):
    _, denial_id = await denied(api, ("CO", "50", "120.00"))
    bad = await api.client.put("/v1/appeal-templates", headers=api.headers(),
                               json={"arguments": {"medical_necessity": "See {patient_ssn}."}})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_template"
    assert (await api.client.get("/v1/appeal-templates", headers=api.headers())).json()["arguments"] == {}

    other = await api.client.post(f"/v1/denials/{denial_id}/appeal-packet", json={"practice": PRACTICE},
                                  headers=api.headers("tenant-b", **SPECIALIST))
    assert other.status_code == 404
