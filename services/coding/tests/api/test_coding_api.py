"""coding's routers in-process (its own create_app, httpx ASGI transport) against the real PostgreSQL, and its
CoverageVerified consumer through the app's own handlers."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from rcm_coding.app import create_app
from rcm_coding.db import metadata
from rcm_coding.settings import Settings
from rcm_contracts.claim import Claim
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import CoverageVerified, EligibilityResult
from tests.support import claims as factory
from tests.support.api import service_api

pytestmark = pytest.mark.integration

# The invented NCCI PTP and MUE fixture the local stack loads (3 PTP rows, 2 MUE rows; no HCPCS, CPT or
# coverage files): 11111 + 33333 is a pair whose modifier indicator is 0.
REFERENCE_DATA = Path(__file__).resolve().parents[4] / "deploy" / "reference-data"
CODER = {"user": "coder-1"}  # api.headers(**CODER): a token with this subject


def claim(*, diagnoses=("E119",), codes=("99213", "85025"), claim_id: uuid.UUID | None = None) -> Claim:
    return factory.make_claim(
        claim_id=claim_id or uuid.uuid4(), source_system="ehr", source_encounter_id=uuid.uuid4().hex,
        service_date=date(2026, 9, 1),
        patient=factory.make_patient(first_name="Ada", last_name="Novak", birth_date=date(1950, 2, 3), sex="F",
                                     address=factory.make_address(line1="1 Main St")),
        coverage=factory.make_coverage(member_id="M12345678"),
        billing_provider=factory.make_provider("1234567893", name="Demo Family Practice", tax_id="123456789"),
        rendering_provider=factory.make_provider("1982749354", name="Dana Demo"),
        diagnoses=list(diagnoses),
        lines=factory.make_lines(*codes, charge="50.00"),
    )


def verified(c: Claim) -> CoverageVerified:
    return CoverageVerified(claim=c, eligibility=EligibilityResult(
        status="active", checked_at=datetime(2026, 9, 2, tzinfo=timezone.utc), payer_id="SBX01"))


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata, coding_tables_dir=str(REFERENCE_DATA)) as api:
        yield api


async def queue_claim(api, tenant: str = "tenant-a", **kw) -> Claim:
    """A claim the engine sends to the coder queue (a diagnosis that is not ICD-10-CM)."""
    c = claim(diagnoses=["ZZZ9"], **kw)
    applier = await api.consume((verified(c), tenant, c.claim_id))
    assert applier.applied == 1
    return c


# ---------------------------------------------------------------- the CoverageVerified consumer
async def test_verified_claims_are_coded_clean_ones_move_on_and_the_rest_wait_for_a_coder(api):
    clean, bad_dx, ncci = claim(), claim(diagnoses=["ZZZ9"]), claim(codes=("11111", "33333"))
    applier = await api.consume((verified(clean), "tenant-a", clean.claim_id),
                                (verified(bad_dx), "tenant-a", bad_dx.claim_id),
                                (verified(ncci), "tenant-b", ncci.claim_id))

    assert applier.applied == 3 and applier.dead_lettered == 0
    events = {e["partitionkey"]: e for e in await api.outbox_events("claim-coded")}
    assert {k: e["data"]["status"] for k, e in events.items()} == {
        str(clean.claim_id): "coded", str(bad_dx.claim_id): "needs_coder", str(ncci.claim_id): "needs_coder"}
    assert events[str(ncci.claim_id)]["tenantid"] == "tenant-b" and events[str(clean.claim_id)]["causationid"]
    # no CPT table loaded: a warning that the codes had a format check only, and no error
    assert [(e["code"], e["severity"]) for e in events[str(clean.claim_id)]["data"]["edits"]] == [("COD021", "warning")]
    # the PTP pair the composition root loaded from the fixture (11111 + 33333, modifier indicator 0)
    assert ("COD050", 2) in {(e["code"], e.get("line_number")) for e in events[str(ncci.claim_id)]["data"]["edits"]}
    rows = await api.scalar("SELECT json_object_agg(claim_id, status || '@' || tenant_id) FROM coded_claims")
    assert rows == {str(clean.claim_id): "coded@tenant-a", str(bad_dx.claim_id): "needs_coder@tenant-a",
                    str(ncci.claim_id): "needs_coder@tenant-b"}


async def test_a_redelivered_coverage_verified_event_is_applied_once(api):
    c = claim()
    env = new_envelope(verified(c), service="eligibility", tenant_id="tenant-a", key=str(c.claim_id))
    first = await api.consume(env, env)
    again = await api.consume(env)

    assert (first.applied, first.duplicates) == (1, 1) and (again.applied, again.duplicates) == (0, 1)
    assert first.dead_lettered == again.dead_lettered == 0
    assert len(await api.outbox_events("claim-coded")) == 1
    assert await api.scalar("SELECT count(*) FROM coded_claims") == 1


# ---------------------------------------------------------------- reads
async def test_the_coder_queue_and_a_claim_are_read_only_by_their_tenant(api):
    queued = await queue_claim(api)
    clean = claim()
    await api.consume((verified(clean), "tenant-a", clean.claim_id))

    queue = await api.client.get("/v1/coder-queue", headers=api.headers())
    coded = await api.client.get("/v1/coder-queue?status=coded", headers=api.headers())
    theirs = await api.client.get("/v1/coder-queue", headers=api.headers("tenant-b"))
    mine = await api.client.get(f"/v1/claims/{queued.claim_id}", headers=api.headers())
    not_mine = await api.client.get(f"/v1/claims/{queued.claim_id}", headers=api.headers("tenant-b"))
    anonymous = await api.client.get("/v1/coder-queue")

    assert queue.json()["total"] == 1 and queue.json()["items"][0]["claim_id"] == str(queued.claim_id)
    assert coded.json()["total"] == 1 and coded.json()["items"][0]["claim_id"] == str(clean.claim_id)
    assert theirs.json() == {"total": 0, "items": []}
    assert mine.status_code == 200 and mine.json()["status"] == "needs_coder"
    assert not_mine.status_code == 404 and anonymous.status_code == 401


async def test_another_tenants_claim_with_the_same_id_changes_nothing_of_this_tenants(api):
    """coded_claims is keyed by (tenant, claim): tenant b's verified claim with tenant a's claim id is coded into
    its own row (not dropped as a conflict), and tenant a's coder actions touch only tenant a's row."""
    ours = await queue_claim(api)
    before = (await api.client.get(f"/v1/claims/{ours.claim_id}", headers=api.headers())).json()
    theirs = claim(claim_id=ours.claim_id)  # clean
    applier = await api.consume((verified(theirs), "tenant-b", theirs.claim_id))
    assert applier.applied == 1 and applier.dead_lettered == 0
    assert (await api.client.get(f"/v1/claims/{ours.claim_id}", headers=api.headers())).json() == before
    their_row = (await api.client.get(f"/v1/claims/{ours.claim_id}", headers=api.headers("tenant-b"))).json()
    assert their_row["tenant_id"] == "tenant-b" and their_row["status"] == "coded"
    assert their_row["claim"]["source_encounter_id"] == theirs.source_encounter_id != ours.source_encounter_id

    assigned = await api.client.post(f"/v1/claims/{ours.claim_id}/assignment", json={"coder": "dana"},
                                     headers=api.headers(**CODER))
    recoded = await api.client.post(f"/v1/claims/{ours.claim_id}/coding", json={"diagnoses": ["E11.9"]},
                                    headers=api.headers(**CODER))
    assert assigned.status_code == 200 and recoded.status_code == 200 and recoded.json()["status"] == "coded"
    rows = await api.scalar("SELECT json_object_agg(tenant_id, status || '@' || coalesce(assigned_to, '-') || '@' "
                            "|| (claim->'diagnoses'->>0)) FROM coded_claims WHERE claim_id = :c", c=ours.claim_id)
    assert rows == {"tenant-a": "coded@dana@E119", "tenant-b": "coded@-@E119"}
    assert (await api.client.get(f"/v1/claims/{ours.claim_id}/audit", headers=api.headers("tenant-b"))
            ).json()["actions"] == []


async def test_reference_data_names_the_tables_this_process_loaded(api):
    resp = await api.client.get("/v1/reference-data", headers=api.headers(roles=["coder"]))

    assert resp.status_code == 200
    # the fixture's rows: three PTP pairs (one deleted, still listed), two MUE codes; no other file
    assert resp.json() == {"hcpcs_codes": None, "cpt_codes": None, "ptp_pairs": 3, "mue_codes": 2,
                           "coverage_payers": None}


# ---------------------------------------------------------------- assignment (audited)
async def test_assigning_a_queued_claim_is_audited(api):
    c = await queue_claim(api)
    resp = await api.client.post(f"/v1/claims/{c.claim_id}/assignment", json={"coder": "dana"},
                                 headers=api.headers(**CODER))

    assert resp.status_code == 200 and resp.json() == {"claim_id": str(c.claim_id), "assigned_to": "dana"}
    assert await api.scalar("SELECT assigned_to FROM coded_claims") == "dana"
    audit = await api.client.get(f"/v1/claims/{c.claim_id}/audit", headers=api.headers())
    [action] = audit.json()["actions"]
    assert (action["actor"], action["action"], action["after"]) == ("coder-1", "assigned", {"assigned_to": "dana"})
    assert await api.outbox_events("claim-coded") != [] and len(await api.outbox_events()) == 1  # only the consumer's


async def test_assignment_answers_404_409_and_422_as_it_should(api):
    c = await queue_claim(api)
    clean = claim()
    await api.consume((verified(clean), "tenant-a", clean.claim_id))
    assign = lambda claim_id, body, tenant="tenant-a", **h: api.client.post(  # noqa: E731
        f"/v1/claims/{claim_id}/assignment", json=body, headers=api.headers(tenant, **h))

    unknown = await assign(uuid.uuid4(), {"coder": "dana"}, **CODER)
    theirs = await assign(c.claim_id, {"coder": "dana"}, "tenant-b", **CODER)
    coded = await assign(clean.claim_id, {"coder": "dana"}, **CODER)
    empty = await assign(c.claim_id, {"coder": ""}, **CODER)
    no_key = await api.client.post(f"/v1/claims/{c.claim_id}/assignment", json={"coder": "dana"},
                                   headers={"X-User": "coder-1"})  # a name is no credential

    assert unknown.status_code == 404 and theirs.status_code == 404
    assert coded.status_code == 409 and coded.json()["code"] == "not_in_queue"
    assert empty.status_code == 422 and [e["field"] for e in empty.json()["errors"]] == ["body.coder"]
    assert no_key.status_code == 401
    assert await api.scalar("SELECT count(*) FROM coded_claims WHERE assigned_to IS NOT NULL") == 0
    assert await api.scalar("SELECT count(*) FROM coding_audit") == 0


# ---------------------------------------------------------------- recoding (audited)
async def test_recoding_clean_moves_the_claim_on_with_claim_coded_and_is_audited(api):
    c = await queue_claim(api)
    resp = await api.client.post(f"/v1/claims/{c.claim_id}/coding", headers=api.headers(**CODER),
                                 json={"diagnoses": ["E11.9"], "lines": [{"line_number": 2, "modifiers": ["91"]}],
                                       "note": "documented in the visit note"})

    assert resp.status_code == 200 and resp.json()["status"] == "coded"
    assert [(e["code"], e["severity"]) for e in resp.json()["edits"]] == [("COD021", "warning")]  # no CPT table
    coded = [e for e in await api.outbox_events("claim-coded") if e["data"]["status"] == "coded"]
    assert len(coded) == 1 and coded[0]["partitionkey"] == str(c.claim_id) and coded[0]["tenantid"] == "tenant-a"
    assert coded[0]["data"]["claim"]["diagnoses"] == ["E119"]
    assert coded[0]["data"]["claim"]["lines"][1]["modifiers"] == ["91"]
    assert await api.scalar("SELECT status FROM coded_claims") == "coded"
    [action] = (await api.client.get(f"/v1/claims/{c.claim_id}/audit", headers=api.headers())).json()["actions"]
    assert (action["actor"], action["action"]) == ("coder-1", "recoded")
    assert action["before"]["diagnoses"] == ["ZZZ9"] and action["after"]["diagnoses"] == ["E119"]
    assert action["after"]["note"] == "documented in the visit note" and action["edits_after"] == resp.json()["edits"]

    again = await api.client.post(f"/v1/claims/{c.claim_id}/coding", json={"diagnoses": ["I10"]},
                                  headers=api.headers(**CODER))
    assert again.status_code == 409 and again.json()["code"] == "not_in_queue"


async def test_a_recode_that_still_fails_an_edit_keeps_the_claim_queued_and_emits_nothing(api):
    c = await queue_claim(api)
    resp = await api.client.post(f"/v1/claims/{c.claim_id}/coding", json={"diagnoses": ["QQQ1"]},
                                 headers=api.headers(**CODER))

    assert resp.status_code == 200 and resp.json()["status"] == "needs_coder"
    assert any(e["severity"] == "error" for e in resp.json()["edits"])
    assert [e["data"]["status"] for e in await api.outbox_events("claim-coded")] == ["needs_coder"]  # the consumer's
    assert await api.scalar("SELECT count(*) FROM coding_audit WHERE action = 'recoded'") == 1


async def test_recoding_answers_404_409_and_422_as_it_should(api):
    c = await queue_claim(api)
    recode = lambda claim_id, body, tenant="tenant-a", **h: api.client.post(  # noqa: E731
        f"/v1/claims/{claim_id}/coding", json=body, headers=api.headers(tenant, **h))

    unknown = await recode(uuid.uuid4(), {"diagnoses": ["I10"]}, **CODER)
    theirs = await recode(c.claim_id, {"diagnoses": ["I10"]}, "tenant-b", **CODER)
    no_line = await recode(c.claim_id, {"lines": [{"line_number": 9, "procedure_code": "99214"}]}, **CODER)
    bad_pointer = await recode(c.claim_id, {"diagnoses": ["I10"],
                                            "lines": [{"line_number": 1, "diagnosis_pointers": [4]}]}, **CODER)
    unknown_field = await recode(c.claim_id, {"diagnosis": ["I10"]}, **CODER)
    biller = await recode(c.claim_id, {"diagnoses": ["I10"]}, **CODER, roles=["biller"])  # coders recode

    assert unknown.status_code == 404 and theirs.status_code == 404
    assert no_line.status_code == 422 and no_line.json()["code"] == "invalid_recode"
    assert "line 9" in no_line.json()["description"]
    assert bad_pointer.status_code == 422 and bad_pointer.json()["code"] == "invalid_claim"
    assert unknown_field.status_code == 422 and unknown_field.json()["errors"][0]["field"] == "body.diagnosis"
    assert biller.status_code == 403 and biller.json()["permission"] == "coding.recode"
    assert await api.scalar("SELECT status FROM coded_claims") == "needs_coder"
    assert await api.scalar("SELECT count(*) FROM coding_audit") == 0
    assert len(await api.outbox_events()) == 1  # only the consumer's ClaimCoded (needs_coder)


async def test_the_audit_trail_is_only_the_callers(api):
    c = await queue_claim(api)
    await api.client.post(f"/v1/claims/{c.claim_id}/assignment", json={"coder": "dana"}, headers=api.headers(**CODER))

    theirs = await api.client.get(f"/v1/claims/{c.claim_id}/audit", headers=api.headers("tenant-b"))
    anonymous = await api.client.get(f"/v1/claims/{c.claim_id}/audit")

    assert theirs.status_code == 200 and theirs.json()["actions"] == []
    assert anonymous.status_code == 401
