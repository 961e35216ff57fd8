"""scrubber in-process: its consumer handlers (ClaimCoded -> scrub, ClaimReturned -> back to review) through
the app's own handlers, and every router (review queue, correct, re-scrub, hold, release, audit, rule sets,
effective rule set, edit catalog, one claim), against the real PostgreSQL with a fixed clock."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from rcm_contracts.claim import Claim
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import ClaimCoded, ClaimReturned, Edit
from rcm_runtime.clock import FixedClock
from rcm_scrubber.app import create_app
from rcm_scrubber.db import metadata
from rcm_scrubber.domain.catalog import CATALOG
from rcm_scrubber.settings import Settings
from tests.support import claims as factory
from tests.support.api import service_api

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 20, 15, 0, tzinfo=timezone.utc)
DOS = date(2026, 3, 14)
BAD_NPI = "1234567890"  # fails the NPI check digit (SCR001)
GOOD_NPI = "1234567893"
PAYER = "SBX01"
PEOPLE = {"user": "dana.reviewer"}  # api.headers(**PEOPLE): a token with this subject


def make_claim(**updates: Any) -> Claim:
    """A claim the built-in rule set finds nothing on (the values of the engine's unit tests)."""
    practice = factory.make_address(line1="100 Harbor Way", postal_code="021101234")
    fields: dict[str, Any] = dict(
        service_date=DOS,
        patient=factory.make_patient(first_name="Zelphine", last_name="Quarrington", birth_date=date(1971, 8, 23),
                                     sex="F", address=factory.make_address(line1="42 Wren Lane", city="Quincy",
                                                                           postal_code="02169")),
        coverage=factory.make_coverage(payer_id=PAYER, payer_name="Sandbox Health Plan", member_id="MBR7734521"),
        billing_provider=factory.make_provider(GOOD_NPI, name="Harbor Family Medicine", tax_id="987654321",
                                               address=practice, taxonomy="207Q00000X"),
        rendering_provider=factory.make_provider("1245319599", name="Dana Demo", taxonomy="207Q00000X"),
        diagnoses=["E119", "I10"],
        lines=[factory.make_line(1, "99214", "210.00"), factory.make_line(2, "36415", "20.00", pointers=[2])],
        total_charge=Decimal("230.00"))
    fields.update(updates)
    return factory.make_claim(**fields)


def with_bad_npi() -> Claim:
    c = make_claim()
    return c.model_copy(update={"billing_provider": c.billing_provider.model_copy(update={"npi": BAD_NPI})})


def coded(claim: Claim, status: str = "coded") -> ClaimCoded:
    return ClaimCoded(claim=claim, status=status)


CUSTOM_RULE = {"id": "DNL-CO-4-99214", "severity": "error",
               "when": {"procedure_codes": ["99214"], "missing_modifier_any": ["25"]},
               "message": "this payer denies 99214 without modifier 25 (CO-4)", "field": "modifiers"}


def rule_set(version: int, *, custom: bool = True, payer: str | None = PAYER, effective_from: str = "2026-01-01") -> dict:
    return {"payer_id": payer, "version": version, "effective_from": effective_from,
            "custom_rules": [CUSTOM_RULE] if custom else []}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
async def api(clock):
    async with service_api(create_app, Settings, metadata, clock=clock) as api:
        yield api


async def in_review(api, tenant: str = "tenant-a") -> Claim:
    claim = with_bad_npi()
    await api.consume((coded(claim), tenant, claim.claim_id))
    return claim


async def decision_of(api, claim_id: uuid.UUID) -> str | None:
    return await api.scalar("SELECT decision FROM scrubbed_claims WHERE claim_id = :c", c=claim_id)


# ---------------------------------------------------------------- consumer: coded claims
async def test_a_clean_coded_claim_is_scrubbed_clean_and_sent_on_once(api):
    claim = make_claim()
    envelope = new_envelope(coded(claim), service="coding", tenant_id="tenant-a", key=str(claim.claim_id))
    applier = await api.consume(envelope)
    assert applier.applied == 1 and applier.dead_lettered == 0
    assert await decision_of(api, claim.claim_id) == "clean"
    assert await api.scalar("SELECT count(*) FROM claim_fingerprints WHERE claim_id = :c", c=claim.claim_id) == 1
    [scrubbed] = await api.outbox_events("claim-scrubbed")
    assert scrubbed["tenantid"] == "tenant-a" and scrubbed["partitionkey"] == str(claim.claim_id)
    assert scrubbed["causationid"] == str(envelope.id)
    assert scrubbed["data"]["decision"] == "clean" and scrubbed["data"]["edits"] == []
    redelivered = await api.consume(envelope)
    assert redelivered.applied == 0 and redelivered.duplicates == 1
    assert len(await api.outbox_events("claim-scrubbed")) == 1
    assert await api.scalar("SELECT version FROM scrubbed_claims WHERE claim_id = :c", c=claim.claim_id) == 1


async def test_a_claim_with_an_error_edit_waits_in_review_and_one_needing_a_coder_is_skipped(api):
    bad, needs_coder = with_bad_npi(), make_claim()
    await api.consume((coded(bad), "tenant-a", bad.claim_id), (coded(needs_coder, "needs_coder"), "tenant-b",
                                                                needs_coder.claim_id))
    assert await decision_of(api, bad.claim_id) == "review"
    assert await decision_of(api, needs_coder.claim_id) is None
    [scrubbed] = await api.outbox_events("claim-scrubbed")
    assert scrubbed["partitionkey"] == str(bad.claim_id) and scrubbed["data"]["decision"] == "review"
    assert [e["code"] for e in scrubbed["data"]["edits"]] == ["SCR001"]
    assert BAD_NPI not in str(scrubbed["data"]["edits"])  # edit messages never quote the value
    assert await api.scalar("SELECT count(*) FROM claim_fingerprints") == 0  # nothing sent on


async def test_one_batch_scrubs_each_claim_under_its_own_tenants_rule_sets(api):
    created = await api.client.post("/v1/rule-sets", json=rule_set(1), headers=api.headers("tenant-b", **PEOPLE))
    assert created.status_code == 201
    a, b = make_claim(), make_claim()
    await api.consume((coded(a), "tenant-a", a.claim_id), (coded(b), "tenant-b", b.claim_id))
    events = {e["partitionkey"]: e for e in await api.outbox_events("claim-scrubbed")}
    assert events[str(a.claim_id)]["tenantid"] == "tenant-a" and events[str(a.claim_id)]["data"]["decision"] == "clean"
    assert events[str(b.claim_id)]["tenantid"] == "tenant-b" and events[str(b.claim_id)]["data"]["decision"] == "review"
    assert [e["code"] for e in events[str(b.claim_id)]["data"]["edits"]] == ["DNL-CO-4-99214"]
    assert await api.scalar("SELECT rule_sets::text FROM scrubbed_claims WHERE claim_id = :c", c=b.claim_id) == \
        '[{"version": 1, "payer_id": "SBX01"}]'


async def test_the_date_of_service_is_judged_by_the_injected_clock(api, clock):
    claim = make_claim(service_date=NOW.date() + timedelta(days=2))  # in the future, by the clock
    await api.consume((coded(claim), "tenant-a", claim.claim_id))
    [first] = await api.outbox_events("claim-scrubbed")
    assert first["data"]["decision"] == "review" and {e["code"] for e in first["data"]["edits"]} == {"SCR004"}
    clock.advance(timedelta(days=3))  # the date of service has passed: re-scrub finds nothing
    resp = await api.client.post(f"/v1/claims/{claim.claim_id}/rescrub", headers=api.headers(**PEOPLE))
    assert resp.status_code == 200 and resp.json() == {"claim_id": str(claim.claim_id), "decision": "clean",
                                                       "edits": []}
    assert [e["data"]["decision"] for e in await api.outbox_events("claim-scrubbed")] == ["review", "clean"]


# ---------------------------------------------------------------- consumer: returned claims
async def test_a_claim_the_clearinghouse_rejected_goes_back_to_review_with_its_findings(api):
    claim = make_claim()
    await api.consume((coded(claim), "tenant-a", claim.claim_id))
    finding = Edit(code="277CA-A7:562", severity="error", message="entity's NPI rejected", field="billing_provider")
    returned = ClaimReturned(claim_id=claim.claim_id, stage="277CA", findings=[finding])
    await api.consume((returned, "tenant-a", claim.claim_id))
    queue = (await api.client.get("/v1/review-queue", params={"stage": "277CA"}, headers=api.headers())).json()
    assert queue["total"] == 1
    [item] = queue["items"]
    assert item["claim_id"] == str(claim.claim_id) and item["decision"] == "review" and item["stage"] == "277CA"
    assert item["edit_codes"] == ["277CA-A7:562"] and item["edits"] == [finding.model_dump(mode="json")]
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert [(a["action"], a["actor"]) for a in audit] == [("returned", "submission")]
    assert audit[0]["after"]["stage"] == "277CA"
    assert len(await api.outbox_events("claim-scrubbed")) == 1  # taking back emits nothing


async def test_a_return_naming_another_tenants_claim_changes_nothing(api):
    claim = make_claim()
    await api.consume((coded(claim), "tenant-a", claim.claim_id))
    returned = ClaimReturned(claim_id=claim.claim_id, stage="999",
                             findings=[Edit(code="999-R", severity="error", message="rejected")])
    unknown = returned.model_copy(update={"claim_id": uuid.uuid4()})
    applier = await api.consume((returned, "tenant-b", claim.claim_id), (unknown, "tenant-a", unknown.claim_id))
    assert applier.applied == 2 and applier.dead_lettered == 0
    assert await decision_of(api, claim.claim_id) == "clean"
    assert await api.scalar("SELECT count(*) FROM review_audit") == 0


# ---------------------------------------------------------------- review queue and reads
async def test_the_review_queue_filters_and_is_isolated_by_tenant(api):
    first, second, clean = await in_review(api), await in_review(api), make_claim()
    other = await in_review(api, tenant="tenant-b")
    await api.consume((coded(clean), "tenant-a", clean.claim_id))
    queue = (await api.client.get("/v1/review-queue", headers=api.headers())).json()
    assert queue["total"] == 2 and [i["claim_id"] for i in queue["items"]] == [str(first.claim_id), str(second.claim_id)]
    by_edit = await api.client.get("/v1/review-queue", params={"edit": "SCR001", "payer_id": PAYER, "stage": "scrub"},
                                   headers=api.headers())
    assert by_edit.json()["total"] == 2
    assert (await api.client.get("/v1/review-queue", params={"edit": "SCR004"}, headers=api.headers())).json()["total"] == 0
    assert (await api.client.get("/v1/review-queue", params={"payer_id": "OTHER"},
                                 headers=api.headers())).json()["total"] == 0
    cleaned = (await api.client.get("/v1/review-queue", params={"decision": "clean"}, headers=api.headers())).json()
    assert [i["claim_id"] for i in cleaned["items"]] == [str(clean.claim_id)]
    page = (await api.client.get("/v1/review-queue", params={"limit": 1, "offset": 1}, headers=api.headers())).json()
    assert page["total"] == 2 and [i["claim_id"] for i in page["items"]] == [str(second.claim_id)]
    theirs = (await api.client.get("/v1/review-queue", headers=api.headers("tenant-b"))).json()
    assert [i["claim_id"] for i in theirs["items"]] == [str(other.claim_id)]
    bad = await api.client.get("/v1/review-queue", params={"limit": 1001}, headers=api.headers())
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["query.limit"]


async def test_one_claim_at_the_scrubber_stage_is_read_only_by_its_tenant(api):
    claim = await in_review(api)
    mine = await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())
    assert mine.status_code == 200 and mine.json()["decision"] == "review" and mine.json()["edit_codes"] == ["SCR001"]
    theirs = await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers("tenant-b"))
    assert theirs.status_code == 404 and theirs.json()["code"] == "not_found"


# ---------------------------------------------------------------- correct
async def test_a_correction_that_scrubs_clean_sends_the_claim_on_and_is_audited(api):
    claim = await in_review(api)
    fixed = claim.billing_provider.model_copy(update={"npi": GOOD_NPI}).model_dump(mode="json")
    resp = await api.client.patch(f"/v1/claims/{claim.claim_id}", params={"note": "NPI typo"},
                                  json={"billing_provider": fixed, "claim_id": str(uuid.uuid4())},  # id is protected
                                  headers=api.headers(**PEOPLE))
    assert resp.status_code == 200 and resp.json() == {"claim_id": str(claim.claim_id), "decision": "clean",
                                                       "edits": []}
    assert await decision_of(api, claim.claim_id) == "clean"
    assert await api.scalar("SELECT version FROM scrubbed_claims WHERE claim_id = :c", c=claim.claim_id) == 2
    sent = (await api.outbox_events("claim-scrubbed"))[-1]
    assert sent["tenantid"] == "tenant-a" and sent["data"]["decision"] == "clean"
    assert sent["data"]["claim"]["billing_provider"]["npi"] == GOOD_NPI
    assert sent["data"]["claim"]["claim_id"] == str(claim.claim_id)
    [action] = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert (action["action"], action["actor"], action["note"]) == ("corrected", "dana.reviewer", "NPI typo")
    assert action["before"]["edit_codes"] == ["SCR001"] and action["after"]["decision"] == "clean"


async def test_a_correction_that_still_fails_stays_in_review_and_emits_nothing(api):
    claim = await in_review(api)
    resp = await api.client.patch(f"/v1/claims/{claim.claim_id}", json={"place_of_service": "11"},
                                  headers=api.headers(**PEOPLE))
    assert resp.status_code == 200 and resp.json()["decision"] == "review"
    assert [e["code"] for e in resp.json()["edits"]] == ["SCR001"]
    assert len(await api.outbox_events("claim-scrubbed")) == 1  # only the first scrub
    assert await api.scalar("SELECT count(*) FROM review_audit WHERE action = 'corrected'") == 1


async def test_an_invalid_correction_answers_422_naming_the_field_and_changes_nothing(api):
    claim = await in_review(api)
    patient = claim.patient.model_dump(mode="json") | {"last_name": "", "first_name": "Q" * 40}
    resp = await api.client.patch(f"/v1/claims/{claim.claim_id}", json={"patient": patient},
                                  headers=api.headers(**PEOPLE))
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_claim"
    assert "patient.first_name" in resp.json()["description"] and "patient.last_name" in resp.json()["description"]
    assert "Q" * 40 not in resp.text and "Quincy" not in resp.text
    assert await api.scalar("SELECT version FROM scrubbed_claims WHERE claim_id = :c", c=claim.claim_id) == 1
    assert await api.scalar("SELECT count(*) FROM review_audit") == 0
    not_json = await api.client.patch(f"/v1/claims/{claim.claim_id}", content=b"[1,2",
                                      headers=api.headers(**PEOPLE, **{"content-type": "application/json"}))
    assert not_json.status_code == 422 and not_json.json()["errors"][0]["field"].startswith("body")


async def test_correcting_a_claim_not_in_review_unknown_or_of_another_tenant(api):
    clean, claim = make_claim(), await in_review(api)
    await api.consume((coded(clean), "tenant-a", clean.claim_id))
    body = {"place_of_service": "11"}
    conflict = await api.client.patch(f"/v1/claims/{clean.claim_id}", json=body, headers=api.headers(**PEOPLE))
    assert conflict.status_code == 409 and conflict.json()["code"] == "not_in_review"
    unknown = await api.client.patch(f"/v1/claims/{uuid.uuid4()}", json=body, headers=api.headers(**PEOPLE))
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    theirs = await api.client.patch(f"/v1/claims/{claim.claim_id}", json={"billing_provider": make_claim()
                                    .billing_provider.model_dump(mode="json")},
                                    headers=api.headers("tenant-b", **PEOPLE))
    assert theirs.status_code == 404
    assert await decision_of(api, claim.claim_id) == "review"
    assert await api.scalar("SELECT count(*) FROM review_audit") == 0
    assert len(await api.outbox_events("claim-scrubbed")) == 2


# ---------------------------------------------------------------- rescrub, hold, release
async def test_rescrub_after_a_rule_set_change_applies_the_new_version(api):
    assert (await api.client.post("/v1/rule-sets", json=rule_set(1), headers=api.headers(**PEOPLE))).status_code == 201
    claim = make_claim()
    await api.consume((coded(claim), "tenant-a", claim.claim_id))
    assert await decision_of(api, claim.claim_id) == "review"
    still = await api.client.post(f"/v1/claims/{claim.claim_id}/rescrub", headers=api.headers(**PEOPLE))
    assert still.json()["decision"] == "review" and [e["code"] for e in still.json()["edits"]] == ["DNL-CO-4-99214"]
    await api.client.post("/v1/rule-sets", json=rule_set(2, custom=False), headers=api.headers(**PEOPLE))
    resp = await api.client.post(f"/v1/claims/{claim.claim_id}/rescrub", headers=api.headers(**PEOPLE))
    assert resp.status_code == 200 and resp.json()["decision"] == "clean"
    assert [e["data"]["decision"] for e in await api.outbox_events("claim-scrubbed")] == ["review", "clean"]
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert [(a["action"], a["actor"]) for a in audit] == [("rescrubbed", "dana.reviewer")] * 2
    again = await api.client.post(f"/v1/claims/{claim.claim_id}/rescrub", headers=api.headers(**PEOPLE))
    assert again.status_code == 409 and again.json()["code"] == "not_in_review"


async def test_hold_then_release_while_errors_remain_is_refused_with_the_edits(api):
    claim = await in_review(api)
    held = await api.client.post(f"/v1/claims/{claim.claim_id}/hold", json={"note": "asking the practice"},
                                 headers=api.headers(**PEOPLE))
    assert held.status_code == 200 and held.json() == {"claim_id": str(claim.claim_id), "decision": "held"}
    assert await decision_of(api, claim.claim_id) == "held"
    twice = await api.client.post(f"/v1/claims/{claim.claim_id}/hold", json={}, headers=api.headers(**PEOPLE))
    assert twice.status_code == 409 and twice.json()["code"] == "not_in_review"
    rescrub_held = await api.client.post(f"/v1/claims/{claim.claim_id}/rescrub", headers=api.headers(**PEOPLE))
    assert rescrub_held.status_code == 409
    refused = await api.client.post(f"/v1/claims/{claim.claim_id}/release", json={}, headers=api.headers(**PEOPLE))
    assert refused.status_code == 409 and refused.json()["code"] == "edits_remain"
    assert [e["code"] for e in refused.json()["edits"]] == ["SCR001"]
    assert await decision_of(api, claim.claim_id) == "held"  # nothing changed, nothing sent
    assert len(await api.outbox_events("claim-scrubbed")) == 1
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert [(a["action"], a["actor"], a["note"]) for a in audit] == [("held", "dana.reviewer", "asking the practice")]
    assert audit[0]["before"]["decision"] == "review" and audit[0]["after"] == {"decision": "held"}


async def test_a_held_claim_that_scrubs_clean_is_released_to_submission(api):
    claim = make_claim()
    await api.consume((coded(claim), "tenant-a", claim.claim_id))
    await api.consume((ClaimReturned(claim_id=claim.claim_id, stage="999", findings=[
        Edit(code="999-IK4", severity="error", message="data element too long")]), "tenant-a", claim.claim_id))
    await api.client.post(f"/v1/claims/{claim.claim_id}/hold", headers=api.headers(**PEOPLE))
    resp = await api.client.post(f"/v1/claims/{claim.claim_id}/release", json={"note": "payer fixed its edit"},
                                 headers=api.headers(**PEOPLE))
    assert resp.status_code == 200 and resp.json()["decision"] == "clean"
    assert await decision_of(api, claim.claim_id) == "clean"
    assert await api.scalar("SELECT stage FROM scrubbed_claims WHERE claim_id = :c", c=claim.claim_id) == "scrub"
    events = await api.outbox_events("claim-scrubbed")
    assert [e["data"]["decision"] for e in events] == ["clean", "clean"] and events[-1]["tenantid"] == "tenant-a"
    audit = (await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert [a["action"] for a in audit] == ["returned", "held", "released"]
    assert audit[-1]["note"] == "payer fixed its edit" and audit[-1]["actor"] == "dana.reviewer"


async def test_review_actions_on_another_tenants_claim_answer_404_and_change_nothing(api):
    claim = await in_review(api)
    b = api.headers("tenant-b", **PEOPLE)
    for path in ("rescrub", "hold", "release"):
        resp = await api.client.post(f"/v1/claims/{claim.claim_id}/{path}", json={}, headers=b)
        assert resp.status_code == 404 and resp.json()["code"] == "not_found", path
    assert (await api.client.post(f"/v1/claims/{uuid.uuid4()}/hold", json={}, headers=api.headers(**PEOPLE))
            ).status_code == 404
    audit = await api.client.get(f"/v1/claims/{claim.claim_id}/audit", headers=api.headers("tenant-b"))
    assert audit.status_code == 200 and audit.json() == {"claim_id": str(claim.claim_id), "actions": []}
    assert await decision_of(api, claim.claim_id) == "review"
    assert await api.scalar("SELECT count(*) FROM review_audit") == 0


async def test_audited_actions_need_a_token_with_a_reviewer_role_and_bad_input_is_422(api):
    claim = await in_review(api)
    for method, path, kw in (("PATCH", "", {"json": {}}), ("POST", "/rescrub", {}), ("POST", "/hold", {"json": {}}),
                             ("POST", "/release", {"json": {}})):
        url = f"/v1/claims/{claim.claim_id}{path}"
        named = await api.client.request(method, url, headers={"X-User": "dana.reviewer"}, **kw)
        assert named.status_code == 401, path  # a name is no credential
        analyst = await api.client.request(method, url, headers=api.headers(**PEOPLE, roles=["analyst"]), **kw)
        assert analyst.status_code == 403 and analyst.json()["permission"] == "review.write", path
    long_note = await api.client.post(f"/v1/claims/{claim.claim_id}/hold", json={"note": "n" * 501},
                                      headers=api.headers(**PEOPLE))
    assert long_note.status_code == 422 and [e["field"] for e in long_note.json()["errors"]] == ["body.note"]
    bad_id = await api.client.post("/v1/claims/MBR7734521/hold", json={}, headers=api.headers(**PEOPLE))
    assert bad_id.status_code == 422 and "MBR7734521" not in bad_id.text
    assert await decision_of(api, claim.claim_id) == "review"


# ---------------------------------------------------------------- rule sets and catalog
async def test_rule_set_versions_are_added_listed_and_never_rewritten(api):
    created = await api.client.post("/v1/rule-sets", json=rule_set(1), headers=api.headers(**PEOPLE))
    assert created.status_code == 201
    assert created.json()["version"] == 1 and created.json()["tenant_id"] == "tenant-a"
    assert [r["id"] for r in created.json()["custom_rules"]] == ["DNL-CO-4-99214"]
    await api.client.post("/v1/rule-sets", json=rule_set(1, payer=None), headers=api.headers(**PEOPLE))
    await api.client.post("/v1/rule-sets", json=rule_set(2, custom=False), headers=api.headers(**PEOPLE))
    stale = await api.client.post("/v1/rule-sets", json=rule_set(2), headers=api.headers(**PEOPLE))
    assert stale.status_code == 409 and stale.json()["code"] == "version_exists"
    listed = (await api.client.get("/v1/rule-sets", headers=api.headers())).json()["rule_sets"]
    assert [(r["payer_id"], r["version"]) for r in listed] == [("*", 1), (PAYER, 2), (PAYER, 1)]
    assert {r["created_by"] for r in listed} == {"dana.reviewer"}
    one_payer = (await api.client.get("/v1/rule-sets", params={"payer_id": PAYER}, headers=api.headers())).json()
    assert [r["version"] for r in one_payer["rule_sets"]] == [2, 1]
    theirs = await api.client.get("/v1/rule-sets", headers=api.headers("tenant-b"))
    assert theirs.status_code == 200 and theirs.json() == {"rule_sets": []}


async def test_a_bad_rule_set_answers_422_with_its_reasons_and_stores_nothing(api):
    bad = {"payer_id": PAYER, "version": 1, "effective_from": "2026-01-01",
           "edits": {"SCR999": {"enabled": False}}, "custom_rules": [{"id": "R1", "when": {}, "message": "m"}]}
    resp = await api.client.post("/v1/rule-sets", json=bad, headers=api.headers(**PEOPLE))
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_rule_set"
    fields = {e["field"] for e in resp.json()["errors"]}
    assert "custom_rules.0.when" in fields and any(f.startswith("edits") for f in fields)
    biller = await api.client.post("/v1/rule-sets", json=rule_set(1), headers=api.headers(**PEOPLE, roles=["biller"]))
    assert biller.status_code == 403 and biller.json()["permission"] == "rules.write"  # admin only
    assert await api.scalar("SELECT count(*) FROM rule_sets") == 0


async def test_the_effective_rule_set_defaults_to_today_by_the_clock(api, clock):
    await api.client.post("/v1/rule-sets", json=rule_set(1, effective_from="2026-04-01"), headers=api.headers(**PEOPLE))
    today = (await api.client.get("/v1/rule-sets/effective", params={"payer_id": PAYER}, headers=api.headers())).json()
    assert today["sources"] == [] and today["custom_rules"] == []  # built-in defaults until April
    assert {"id": "SCR001", "severity": "error"} in today["edits"]
    on = await api.client.get("/v1/rule-sets/effective", params={"payer_id": PAYER, "on": "2026-04-01"},
                              headers=api.headers())
    assert on.json()["sources"] == [{"payer_id": PAYER, "version": 1}]
    assert on.json()["custom_rules"] == ["DNL-CO-4-99214"]
    clock.set(datetime(2026, 4, 2, tzinfo=timezone.utc))
    later = (await api.client.get("/v1/rule-sets/effective", params={"payer_id": PAYER}, headers=api.headers())).json()
    assert later["sources"] == [{"payer_id": PAYER, "version": 1}]
    theirs = (await api.client.get("/v1/rule-sets/effective", params={"payer_id": PAYER},
                                   headers=api.headers("tenant-b"))).json()
    assert theirs["sources"] == [] and theirs["custom_rules"] == []
    bad = await api.client.get("/v1/rule-sets/effective", params={"on": "2026-13-01"}, headers=api.headers())
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["query.on"]


async def test_the_edit_catalog_lists_every_edit(api):
    resp = await api.client.get("/v1/edit-catalog", headers=api.headers(roles=["coder"]))  # any reader of rules
    assert resp.status_code == 200
    edits = resp.json()["edits"]
    assert [e["id"] for e in edits] == [d.id for d in CATALOG]
    scr001 = next(e for e in edits if e["id"] == "SCR001")
    assert scr001["severity"] == "error" and scr001["segment"] and scr001["parameters"] is None
    scr032 = next(e for e in edits if e["id"] == "SCR032")
    assert "timely_filing_days" in scr032["parameters"]["properties"]


async def test_without_an_api_key_the_answer_is_401(api):
    cid = uuid.uuid4()
    for method, path in (("GET", "/v1/review-queue"), ("GET", f"/v1/claims/{cid}"), ("PATCH", f"/v1/claims/{cid}"),
                         ("POST", f"/v1/claims/{cid}/rescrub"), ("POST", f"/v1/claims/{cid}/hold"),
                         ("POST", f"/v1/claims/{cid}/release"), ("GET", f"/v1/claims/{cid}/audit"),
                         ("POST", "/v1/rule-sets"), ("GET", "/v1/rule-sets"), ("GET", "/v1/rule-sets/effective")):
        resp = await api.client.request(method, path, json={}, headers=PEOPLE)
        assert resp.status_code == 401, (method, path)


async def test_another_tenants_coded_claim_with_the_same_id_does_not_overwrite_this_tenants_scrub(api):
    claim = await in_review(api)
    before = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    await api.consume((coded(make_claim(claim_id=claim.claim_id, source_encounter_id="enc-b")), "tenant-b",
                       claim.claim_id))
    after = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers())).json()
    assert after == before
    theirs = (await api.client.get(f"/v1/claims/{claim.claim_id}", headers=api.headers("tenant-b"))).json()
    assert theirs["tenant_id"] == "tenant-b" and theirs["claim"]["source_encounter_id"] == "enc-b"
    assert before["claim"]["source_encounter_id"] != "enc-b"


async def test_a_date_sent_as_a_number_is_a_422_not_a_day_in_1970(api):
    # Found by fuzzing: pydantic read a number as seconds since 1970 (on=0 answered the rules of 1970-01-01, and a
    # rule set effective from 20260401 would have reached every claim).
    on = await api.client.get("/v1/rule-sets/effective", params={"payer_id": PAYER, "on": "0"}, headers=api.headers())
    created = await api.client.post("/v1/rule-sets", json={**rule_set(1), "effective_from": 20260401},
                                    headers=api.headers(**PEOPLE))
    assert on.status_code == 422 and [e["field"] for e in on.json()["errors"]] == ["query.on"]
    assert created.status_code == 422 and any("effective_from" in e["field"] for e in created.json()["errors"])
    assert await api.scalar("SELECT count(*) FROM rule_sets") == 0
