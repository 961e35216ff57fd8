"""scrubber rule proposals in-process against the real PostgreSQL: DenialRuleRecommended (denials) -> a proposed
custom rule in GET /v1/rule-proposals; approved, it joins the payer's rule set as its next version and the next
claim of that payer with that procedure code is stopped for review with the rule's edit code and message;
dismissed, nothing runs. Redeliveries, other tenants and repeated decisions change nothing."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import DenialRuleRecommended, SuggestedRule
from rcm_runtime.clock import FixedClock
from rcm_scrubber.app import create_app
from rcm_scrubber.db import metadata
from rcm_scrubber.settings import Settings
from tests.support import claims as factory
from tests.support.api import service_api

from .test_scrubber_api import NOW, coded, make_claim, rule_set

pytestmark = pytest.mark.integration
MESSAGE = ("denial pattern: payer SBX01 denied 97810 with CO-96 on 6 claims from 2026-10-13 to 2026-11-11 "
           "(more than 5 in 30 days); check the payer's policy and coverage before sending")
RULE_ID = "DNL-SBX01-97810-CO-96"


def recommended(payer: str = "SBX01") -> DenialRuleRecommended:
    return DenialRuleRecommended(
        recommendation_id=uuid.uuid4(), payer_id=payer, procedure_code="97810", carc="CO-96", count=6, threshold=5,
        window_start=date(2026, 10, 13), window_end=date(2026, 11, 11), denied_amount=Decimal("510.00"),
        suggested_rule=SuggestedRule(id=f"DNL-{payer}-97810-CO-96", procedure_codes=["97810"], message=MESSAGE))


def acupuncture(payer: str = "SBX01"):
    """A claim the built-in rules pass, with 97810 (the sandbox's non-covered code) on line 2."""
    return make_claim(coverage=factory.make_coverage(payer_id=payer),
                      lines=[factory.make_line(1, "99214", "210.00"), factory.make_line(2, "97810", "85.00")],
                      total_charge=Decimal("295.00"))


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata, clock=FixedClock(NOW)) as api:
        yield api


async def propose(api, event: DenialRuleRecommended, tenant: str = "tenant-a") -> dict:
    envelope = new_envelope(event, service="denials", tenant_id=tenant, key=str(event.recommendation_id),
                            subject=f"denial-pattern/{event.recommendation_id}")
    applier = await api.consume(envelope)
    assert applier.dead_lettered == 0
    return envelope


async def proposals(api, tenant: str = "tenant-a", **query) -> dict:
    resp = await api.client.get("/v1/rule-proposals", params=query, headers=api.headers(tenant))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def scrubbed(api, claim, tenant: str = "tenant-a") -> tuple[str, list[dict]]:
    await api.consume((coded(claim), tenant, claim.claim_id))
    resp = await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers(tenant))
    assert resp.status_code == 200, resp.text
    return resp.json()["decision"], resp.json()["edits"]


async def test_a_recommendation_is_proposed_once_and_only_to_its_tenant(api):
    event = recommended()
    envelope = await propose(api, event)
    assert (await api.consume(envelope)).duplicates == 1  # the same event redelivered
    await propose(api, event)  # the same recommendation in a new envelope (denials replayed): its id dedupes
    body = await proposals(api)
    assert body["total"] == 1
    [item] = body["items"]
    assert item["proposal_id"] == str(event.recommendation_id) and item["status"] == "proposed"
    assert (item["payer_id"], item["procedure_code"], item["carc"], item["count"], item["threshold"]) == (
        "SBX01", "97810", "CO-96", 6, 5)
    assert item["denied_amount"] == "510.00" and item["window_end"] == "2026-11-11"
    assert item["rule"] == {"id": RULE_ID, "severity": "error", "message": MESSAGE, "field": "procedure_code",
                            "when": {"payer_id": ["SBX01"], "procedure_codes": ["97810"]}}
    assert (await proposals(api, "tenant-b"))["total"] == 0
    resp = await api.client.post(f"/v1/rule-proposals/{event.recommendation_id}/approve", json={},
                                 headers=api.headers("tenant-b"))
    assert resp.status_code == 404
    assert (await proposals(api))["items"][0]["status"] == "proposed"


async def test_approved_the_rule_stops_the_next_claim_of_that_payer_with_that_code(api):
    before, _ = await scrubbed(api, acupuncture())
    assert before == "clean"  # nothing stops 97810 yet
    await api.client.post("/v1/rule-sets", json=rule_set(1), headers=api.headers())  # the payer's own v1 rule
    event = recommended()
    await propose(api, event)
    refused = await api.client.post(f"/v1/rule-proposals/{event.recommendation_id}/approve", json={},
                                    headers=api.headers(roles=["coder"]))
    assert refused.status_code == 403
    resp = await api.client.post(f"/v1/rule-proposals/{event.recommendation_id}/approve",
                                 json={"note": "payer policy confirmed"},
                                 headers=api.headers(user="dana.denials", roles=["denial_specialist"]))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["status"] == "approved" and body["decided_by"] == "dana.denials" and body["rule_set_version"] == 2
    # v2 of SBX01's rule set: v1's custom rule kept, the proposed one added
    effective = await api.client.get("/v1/rule-sets/effective", params={"payer_id": "SBX01", "on": "2026-03-14"},
                                     headers=api.headers())
    assert effective.json()["sources"] == [{"payer_id": "SBX01", "version": 2}]
    assert effective.json()["custom_rules"] == ["DNL-CO-4-99214", RULE_ID]

    decision, edits = await scrubbed(api, acupuncture())
    assert decision == "review"
    [edit] = [e for e in edits if e["code"] == RULE_ID]
    assert edit["severity"] == "error" and edit["message"] == f"line 2: {MESSAGE}"  # the 97810 line
    assert (await scrubbed(api, acupuncture(payer="SBX02")))[0] == "clean"  # another payer's claim
    again = await api.client.post(f"/v1/rule-proposals/{event.recommendation_id}/dismiss", json={},
                                  headers=api.headers())
    assert again.status_code == 409 and again.json()["code"] == "not_proposed"
    assert (await proposals(api, status="approved"))["total"] == 1 and (await proposals(api))["total"] == 0


async def test_a_payer_without_a_rule_set_gets_its_first_version_and_a_dismissed_rule_runs_nowhere(api):
    kept, dropped = recommended(), recommended(payer="SBX02")
    await propose(api, kept)
    await propose(api, dropped)
    resp = await api.client.post(f"/v1/rule-proposals/{dropped.recommendation_id}/dismiss",
                                 json={"note": "one-off batch"}, headers=api.headers())
    assert resp.status_code == 200 and resp.json()["status"] == "dismissed" and resp.json()["note"] == "one-off batch"
    assert (await scrubbed(api, acupuncture(payer="SBX02")))[0] == "clean"
    resp = await api.client.post(f"/v1/rule-proposals/{kept.recommendation_id}/approve", json={},
                                 headers=api.headers())
    assert resp.status_code == 200 and resp.json()["rule_set_version"] == 1
    assert (await scrubbed(api, acupuncture()))[0] == "review"
    unknown = await api.client.post(f"/v1/rule-proposals/{uuid.uuid4()}/approve", json={}, headers=api.headers())
    assert unknown.status_code == 404
    assert (await api.client.get("/v1/rule-proposals", params={"status": "maybe"},
                                 headers=api.headers())).status_code == 422


async def test_two_approvals_at_once_for_a_payer_without_a_rule_set_make_versions_1_and_2_never_a_500(api):
    """Both used to read "no version yet" (there is no row to lock): the second insert of version 1 collided (a
    500). Serialised per tenant and payer, the second waits for the first and builds on it: version 2 carries both
    rules. The first approval is held open until the second is seen waiting on a lock."""
    import asyncio

    from rcm_scrubber.proposals import Proposals, approve

    first, second = recommended("SBX07"), recommended("SBX07")
    second = second.model_copy(update={"procedure_code": "97811", "suggested_rule": second.suggested_rule.model_copy(
        update={"id": "DNL-SBX07-97811-CO-96", "procedure_codes": ["97811"]})})
    for event in (first, second):
        await propose(api, event)
    proposals = api.app.state.runtime.services[Proposals]
    async with proposals.units.begin(tenant_id="tenant-a", actor="ann.first") as uow:
        assert (await approve(uow, first.recommendation_id, None))["rule_set_version"] == 1
        later = asyncio.create_task(proposals.approve(tenant_id="tenant-a", proposal_id=second.recommendation_id,
                                                      actor="bob.second", note=None))
        for _ in range(500):  # until the second approval waits on a lock (the advisory lock, or the colliding row)
            waiting = await api.scalar("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                       "AND (query LIKE '%pg_advisory_xact_lock%' OR query LIKE '%INSERT INTO rule_sets%')")
            if waiting or later.done():
                break
            await asyncio.sleep(0.01)
    decided = await later
    assert decided["rule_set_version"] == 2 and decided["decided_by"] == "bob.second"
    effective = await api.client.get("/v1/rule-sets/effective", params={"payer_id": "SBX07", "on": "2026-03-14"},
                                     headers=api.headers())
    assert sorted(effective.json()["custom_rules"]) == ["DNL-SBX07-97810-CO-96", "DNL-SBX07-97811-CO-96"]
