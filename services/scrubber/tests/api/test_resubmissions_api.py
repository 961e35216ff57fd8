"""Claims denial work sends again (ClaimResubmissionRequested), through the scrubber's own handlers against the real
PostgreSQL: a corrected claim replaces the denied one (frequency 7, REF*F8) and goes on when clean, carrying the
request's id; without a correction (or with review) it waits in the review queue (stage `denial`) until a person
releases it; a correction that makes no valid claim waits there too, with why; a rebill is a new claim to the other
payer with the denying payer as secondary; each request acts once; another tenant's claim or an unknown one is
refused with the reason (GET /v1/resubmissions)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from rcm_contracts.claim import Claim
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import ClaimCoded, ClaimCorrection, ClaimResubmissionRequested
from rcm_runtime.clock import FixedClock
from rcm_scrubber.app import create_app
from rcm_scrubber.db import metadata
from rcm_scrubber.settings import Settings
from tests.support import claims as factory
from tests.support.api import service_api

from .test_scrubber_api import make_claim  # a claim the built-in rule set finds nothing on

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 20, 15, 0, tzinfo=timezone.utc)
PCCN = "SBX4F1E2D3C4B5A6978"


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata, clock=FixedClock(NOW)) as api:
        yield api


async def sent_on(api, claim: Claim, tenant: str = "tenant-a") -> None:
    applied = await api.consume((ClaimCoded(claim=claim, status="coded"), tenant, claim.claim_id))
    assert applied.applied == 1


def corrected(claim: Claim, correction: dict | None = None, *, review: bool = False) -> ClaimResubmissionRequested:
    return ClaimResubmissionRequested(
        request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=claim.claim_id, kind="corrected",
        original_claim_number=PCCN, review=review,
        correction=ClaimCorrection.model_validate(correction) if correction is not None else None)


async def request(api, event: ClaimResubmissionRequested, tenant: str = "tenant-a"):
    envelope = new_envelope(event, service="denials", tenant_id=tenant, key=str(event.claim_id))
    applied = await api.consume(envelope)
    assert applied.applied == 1 and applied.dead_lettered == 0
    return envelope


async def scrubbed_events(api, claim_id) -> list[dict]:
    return [e["data"] for e in await api.outbox_events("claim-scrubbed") if e["data"]["claim"]["claim_id"] == str(claim_id)]


async def resubmissions(api, tenant: str = "tenant-a", **query) -> list[dict]:
    resp = await api.client.get("/v1/resubmissions", params=query, headers=api.headers(tenant))
    assert resp.status_code == 200, resp.text
    return resp.json()["resubmissions"]


async def test_a_corrected_claim_replaces_the_denied_one_and_goes_on_once(api):
    claim = make_claim()
    await sent_on(api, claim)
    event = corrected(claim, {"prior_authorization": "AUTH-7781"})
    await request(api, event)
    [first, replacement] = await scrubbed_events(api, claim.claim_id)
    assert first["claim"]["frequency_code"] == "1" and "resubmission_id" not in first
    sent = replacement["claim"]
    assert replacement["decision"] == "clean" and replacement["resubmission_id"] == str(event.request_id)
    assert (sent["frequency_code"], sent["original_claim_number"], sent["prior_authorization"]) == (
        "7", PCCN, "AUTH-7781")
    assert sent["lines"] == first["claim"]["lines"] and sent["patient"] == first["claim"]["patient"]
    row = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert (row["decision"], row["stage"], row["resubmission_id"]) == ("clean", "denial", str(event.request_id))
    [done] = await resubmissions(api, claim_id=str(claim.claim_id))
    assert (done["outcome"], done["kind"], done["resubmitted_claim_id"]) == ("clean", "corrected", str(claim.claim_id))
    # the same request again (a new envelope: not an inbox duplicate) sends nothing more
    await request(api, event)
    assert len(await scrubbed_events(api, claim.claim_id)) == 2
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert audit[-1]["action"] == "resubmission_corrected"


async def test_corrected_lines_set_the_total_and_errors_stop_it_in_review(api):
    claim = make_claim()
    await sent_on(api, claim)
    lines = [factory.make_line(1, "99213", "150.00", modifiers=["25"]).model_dump(mode="json"),
             factory.make_line(2, "36415", "20.00", pointers=[2]).model_dump(mode="json")]
    await request(api, corrected(claim, {"lines": lines}))
    [_, replacement] = await scrubbed_events(api, claim.claim_id)
    assert replacement["claim"]["total_charge"] == "170.00" and replacement["claim"]["lines"][0]["procedure_code"] == "99213"
    # a rendering provider whose NPI fails the check digit: the replacement waits for a person
    other = make_claim()
    await sent_on(api, other)
    await request(api, corrected(other, {"rendering_provider": {"npi": "1234567890", "name": "Bad Npi"}}))
    assert len(await scrubbed_events(api, other.claim_id)) == 1
    row = (await api.client.get(f"/v1/claims/{other.claim_id}", headers=api.headers())).json()
    assert (row["decision"], row["stage"], row["claim"]["frequency_code"]) == ("review", "denial", "7")
    queue = (await api.client.get("/v1/review-queue", params={"stage": "denial"}, headers=api.headers())).json()
    assert [c["claim_id"] for c in queue["items"]] == [str(other.claim_id)]


async def test_without_a_correction_it_waits_in_review_and_goes_on_as_the_replacement_once_corrected(api):
    claim = make_claim()
    await sent_on(api, claim)
    event = corrected(claim)
    await request(api, event)
    row = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert row["decision"] == "review" and [e["code"] for e in row["edits"]] == ["DNL-CORRECT"]
    assert len(await scrubbed_events(api, claim.claim_id)) == 1
    fixed = await api.client.patch(f"/v1/claims/{claim.claim_id}", json={"prior_authorization": "AUTH-1"},
                                   headers=api.headers(user="dana.reviewer"))
    # corrected clean, it goes on at once (as any correction in review does)
    assert fixed.status_code == 200 and fixed.json()["decision"] == "clean", fixed.text
    [_, replacement] = await scrubbed_events(api, claim.claim_id)
    assert replacement["resubmission_id"] == str(event.request_id)
    assert (replacement["claim"]["frequency_code"], replacement["claim"]["prior_authorization"]) == ("7", "AUTH-1")


async def test_a_correction_that_makes_no_valid_claim_waits_in_review_with_the_reason(api):
    claim = make_claim()
    await sent_on(api, claim)
    await request(api, corrected(claim, {"diagnoses": ["E119"]}))  # line 2 points at diagnosis 2
    row = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert row["decision"] == "review" and row["claim"]["diagnoses"] == ["E119", "I10"]
    [invalid] = [e for e in row["edits"] if e["code"] == "DNL-INVALID"]
    assert invalid["severity"] == "error" and "diagnosis pointer 2" in invalid["message"]
    assert "Quarrington" not in invalid["message"]
    [done] = await resubmissions(api, claim_id=str(claim.claim_id))
    assert done["outcome"] == "review"


async def test_a_rebill_is_a_new_claim_to_the_other_payer_with_the_denying_payer_secondary(api):
    claim = make_claim()
    await sent_on(api, claim)
    new_claim_id = uuid.uuid4()
    coverage = factory.make_coverage(payer_id="SBX02", payer_name="Sandbox Commercial", member_id="COM2001")
    event = ClaimResubmissionRequested(request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=claim.claim_id,
                                       kind="rebill", new_claim_id=new_claim_id, coverage=coverage,
                                       original_payer_as_secondary=True)
    await request(api, event)
    [rebilled] = await scrubbed_events(api, new_claim_id)
    sent = rebilled["claim"]
    assert rebilled["decision"] == "clean" and rebilled["resubmission_id"] == str(event.request_id)
    assert (sent["coverage"]["payer_id"], sent["secondary_coverage"]["payer_id"], sent["frequency_code"]) == (
        "SBX02", "SBX01", "1")
    assert sent["encounter_id"] == str(claim.encounter_id)
    assert [(ln["procedure_code"], ln["charge"]) for ln in sent["lines"]] == [("99214", "210.00"), ("36415", "20.00")]
    original = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert original["decision"] == "clean" and original["claim"]["coverage"]["payer_id"] == "SBX01"


async def test_another_tenants_claim_or_an_unknown_one_is_refused_with_the_reason(api):
    claim = make_claim()
    await sent_on(api, claim, tenant="tenant-a")
    event = corrected(claim, {"prior_authorization": "B-AUTH"})
    await request(api, event, tenant="tenant-b")
    [refused] = await resubmissions(api, "tenant-b")
    assert refused["outcome"] == "refused" and "no such claim" in refused["reason"]
    assert await resubmissions(api, "tenant-a") == []
    row = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers("tenant-a"))).json()
    assert row["claim"]["frequency_code"] == "1" and row["claim"].get("prior_authorization") is None
    assert len(await scrubbed_events(api, claim.claim_id)) == 1
