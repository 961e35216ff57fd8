"""End to end through the running services, the real Kafka broker and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from tests.support.client import OPERATOR, TENANT_B, Principal, Stack, acting_as, eventually, url
from tests.support.encounters import generate, intake_record, to_fhir_bundle, to_hl7_dft

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py

ops = OPERATOR.headers  # a platform operator's token of the stack's issuer (rcm_runtime.ops)


def _source() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


async def test_encounters_from_three_channels_reach_analytics_with_expected_final_states(stack):
    source = _source()
    batch = generate(66, seed=20261128, source_system=source)  # every scenario at least once
    json_part, fhir_part, kafka_part = batch[0::3], batch[1::3], batch[2::3]
    responses = await asyncio.gather(*(stack.post_json(g.body) for g in json_part),
                                     *(stack.post_fhir(to_fhir_bundle(g.body), source) for g in fhir_part))
    assert [r.status_code for r in responses] == [201] * len(responses), [r.text for r in responses if r.status_code != 201]
    await stack.publish_intake(intake_record(g.body, tenant_id=stack.tenant_id) for g in kafka_part)

    await stack.wait_settled(source, len(batch), timeout_s=120, poll_s=0.5)
    claims = await stack.claims(source)
    assert len(claims) == len(batch)
    by_source_id = {c["source_encounter_id"]: c for c in claims}
    for g in batch:
        claim = by_source_id[g.body["source_encounter_id"]]
        assert claim["final_state"] == g.expected_final_state, (g.scenario, claim)
    assert Counter(c["final_state"] for c in claims) == Counter(g.expected_final_state for g in batch)

    # Each stage holds its own state for a settled claim, readable through its own API. A copay claim: one payer,
    # one payment (a secondary-covered claim's timeline holds the supplement's payment too).
    copay_ids = {g.body["source_encounter_id"] for g in batch if g.scenario == "copay"}
    paid = next(c for c in claims if c["final_state"] == "patient_balance" and c["source_encounter_id"] in copay_ids)
    cid = paid["claim_id"]
    for svc in ("charges", "eligibility", "coding", "scrubber", "submission", "remittance", "patient-billing"):
        body = await stack.get(svc, f"/v1/claims/{cid}")
        assert body["claim_id"] == cid
    timeline = await stack.get("analytics", f"/v1/claims/{cid}/timeline")
    kinds = [e["event_type"].split(".")[-2] for e in timeline["events"]]
    assert kinds[:5] == ["encounter-captured", "coverage-verified", "claim-coded", "claim-scrubbed",
                         "claim-submitted"]
    # the 277CA and the 835 travel separately (as in real life): either may be read first
    assert sorted(kinds[5:]) == ["balance-opened", "claim-acknowledged", "payment-posted"]
    assert kinds.index("balance-opened") > kinds.index("payment-posted")

    denied = next(c for c in claims if c["final_state"] == "denied")
    denial = await stack.get("denials", f"/v1/claims/{denied['claim_id']}")
    assert denial["category"] in {"eligibility", "authorization", "non_covered"} and denial["reason_codes"]  # CO-96: non_covered

    kpis = await stack.get("analytics", "/v1/kpis", source_system=source)
    assert kpis["claims"] == len(batch)
    assert 0 < kpis["first_pass_acceptance_rate"] < 1  # the unknown-payer claims were rejected

    # The payer's later 835s: the reprocessed claim's payment reversed (CLP02 22) and corrected in a later check,
    # the late claim's interest (PLB L6, linked by its CLP01) in its own check.
    async def ledger_of(scenario: str) -> dict:
        g = next(g for g in batch if g.scenario == scenario)
        return await stack.get("remittance", f"/v1/claims/{by_source_id[g.body['source_encounter_id']]['claim_id']}/ledger")

    async def later_835s_posted() -> bool:
        reprocessed, late = await ledger_of("reprocessed"), await ledger_of("late_paid")
        reversed_ = any(e["kind"] == "charge" and Decimal(e["amount"]) < 0 for e in reprocessed["entries"])
        interest = any(e["kind"] == "provider_adjustment" and e["reason_code"] == "L6" for e in late["entries"])
        return reversed_ and interest
    for _ in range(60):
        if await later_835s_posted():
            break
        await asyncio.sleep(0.5)
    reprocessed = await ledger_of("reprocessed")
    assert any(e["kind"] == "charge" and Decimal(e["amount"]) < 0 for e in reprocessed["entries"]), reprocessed
    assert Decimal(reprocessed["totals"]["balance"]) == 0 and Decimal(reprocessed["totals"]["charge"]) > 0
    late = await ledger_of("late_paid")
    assert [e["reason_code"] for e in late["entries"] if e["kind"] == "provider_adjustment"] == ["L6"], late


async def test_same_encounter_sent_twice_is_one_claim(stack):
    source = _source()
    g = generate(1, seed=1, source_system=source, scenarios=["paid"])[0]
    first = await stack.post_json(g.body)
    second = await stack.post_json(g.body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["claim_id"] == second.json()["claim_id"]
    assert second.json()["status"] == "duplicate"
    # and the same encounter arriving again on the Kafka intake topic, twice
    rec = intake_record(g.body, tenant_id=stack.tenant_id)
    await stack.publish_intake([rec, rec])
    await stack.wait_settled(source, 1, timeout_s=60, poll_s=0.5)
    await asyncio.sleep(2)  # room for a wrongly duplicated claim to show up
    claims = await stack.claims(source)
    assert [c["claim_id"] for c in claims] == [first.json()["claim_id"]]
    assert claims[0]["final_state"] == "paid"


async def test_malformed_fhir_bundle_gets_422_naming_the_field_and_goes_nowhere(stack):
    source = _source()
    g = generate(1, seed=2, source_system=source, scenarios=["paid"])[0]
    bundle = to_fhir_bundle(g.body)
    bundle["entry"][0]["resource"]["birthDate"] = "31/02/1980"
    r = await stack.post_fhir(bundle, source)
    assert r.status_code == 422
    fields = [e["field"] for e in r.json()["errors"]]
    assert any("birthDate" in f for f in fields), fields
    assert g.body["patient"]["last_name"] not in r.text and "31/02/1980" not in r.text  # no PHI echoed

    not_json = await stack.http.post(url("charges", "/v1/encounters/fhir"), content=b"{oops",
                                     headers={"content-type": "application/fhir+json"})
    assert not_json.status_code == 422
    bad_json = await stack.post_json({**g.body, "service_date": "yesterday"})
    assert bad_json.status_code == 422 and any(e["field"].endswith("service_date") for e in bad_json.json()["errors"])

    # a good encounter sent afterwards settles, and the bad one never appears anywhere downstream
    good = generate(1, seed=3, source_system=source, scenarios=["paid"])[0]
    assert (await stack.post_json(good.body)).status_code == 201
    await stack.wait_settled(source, 1, timeout_s=60, poll_s=0.5)
    claims = await stack.claims(source)
    assert [c["source_encounter_id"] for c in claims] == [good.body["source_encounter_id"]]


async def test_tenants_see_only_their_own_claims(stack):
    source = _source()
    g = generate(1, seed=4, source_system=source, scenarios=["paid"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    other = Stack(TENANT_B)
    try:
        r = await other.http.get(url("charges", f"/v1/claims/{cid}"))
        assert r.status_code == 404
        await stack.wait_settled(source, 1, timeout_s=60, poll_s=0.5)
        assert (await other.http.get(url("analytics", f"/v1/claims/{cid}/timeline"))).status_code == 404
        assert await other.claims(source) == []
        assert (await stack.http.get(url("charges", f"/v1/claims/{cid}"))).status_code == 200
    finally:
        await other.close()
    anon = await stack.http.get(url("charges", f"/v1/claims/{cid}"), headers={"x-api-key": "nope"})
    assert anon.status_code == 401
    no_token = await stack.http.get(url("charges", f"/v1/claims/{cid}"), auth=None)
    assert no_token.status_code == 401 and no_token.json()["code"] == "unauthenticated"
    auditor = Principal("tenant-a", "e2e.auditor", ("auditor",))
    assert (await stack.http.get(url("charges", f"/v1/claims/{cid}"), headers=auditor.headers())).status_code == 200
    refused = await stack.http.patch(url("charges", f"/v1/encounters/{cid}"), json={}, headers=auditor.headers())
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"


async def test_undecodable_intake_record_is_dead_lettered_and_intake_goes_on(stack):
    source = _source()
    garbage_key = uuid.uuid4().hex.encode()
    good = generate(1, seed=5, source_system=source, scenarios=["paid"])[0]
    await stack.publish_intake([(garbage_key, b"\x00 not an event", [("ce_tenantid", b"tenant-a")]),
                                intake_record(good.body, tenant_id=stack.tenant_id)])
    await stack.wait_settled(source, 1, timeout_s=60, poll_s=0.5)
    r = await stack.http.get(url("charges", "/v1/ops/dead-letters"), headers=ops(), params={"limit": 1000})
    assert r.status_code == 200
    mine = [d for d in r.json() if d["reason"] and d["tenant_id"] == "tenant-a" and "not JSON" in d["reason"]]
    assert mine, r.json()[:3]
    # the client's own credentials, tenant A's admin token: dead letters span tenants, so a tenant's admin is refused
    assert (await stack.http.get(url("charges", "/v1/ops/dead-letters"))).status_code == 403


async def test_dead_letters_are_counted_and_a_redriven_record_that_fails_again_returns_open(stack):
    before = (await stack.http.get(url("charges", "/v1/ops/dead-letters/summary"), headers=ops())).json()
    started = datetime.now(timezone.utc) - timedelta(seconds=5)  # the server's clock may lag the test's a little
    source = _source()
    good = generate(1, seed=7, source_system=source, scenarios=["paid"])[0]
    await stack.publish_intake([(uuid.uuid4().hex.encode(), b"\x00 still not an event", [("ce_tenantid", b"tenant-a")]),
                                intake_record(good.body, tenant_id=stack.tenant_id)])
    await stack.wait_settled(source, 1, timeout_s=60, poll_s=0.5)
    summary = (await stack.http.get(url("charges", "/v1/ops/dead-letters/summary"), headers=ops())).json()
    assert summary["open"] >= before["open"] + 1 and summary["oldest_at"] is not None
    assert any("not JSON" in reason for reason in summary["by_reason"])
    listed = (await stack.http.get(url("charges", "/v1/ops/dead-letters"), headers=ops(),
                                   params={"status": "open", "since": started.isoformat(), "limit": 1000})).json()
    mine = [d for d in listed if "not JSON" in d["reason"] and d["tenant_id"] == "tenant-a"]
    assert mine, listed[:3]
    # Redriven, it cannot decode any better: the old row is redriven (by whom, when), a new open row has the reason.
    r = await stack.http.post(url("charges", "/v1/ops/dead-letters/redrive"), headers=ops("e2e"),
                              json={"id": mine[0]["id"]})
    assert r.status_code == 200, r.text
    [again] = r.json()["failed_again"]
    assert again["id"] == mine[0]["id"] and "not JSON" in again["reason"]
    rows = {d["id"]: d for d in (await stack.http.get(url("charges", "/v1/ops/dead-letters"), headers=ops(), params={
        "since": started.isoformat(), "limit": 1000})).json()}
    assert rows[again["id"]]["status"] == "redriven" and rows[again["id"]]["closed_by"] == "e2e"
    assert rows[again["id"]]["redriven_to"] == again["new_id"] and rows[again["new_id"]]["status"] == "open"
    # Closed by hand: no longer counted open.
    closed = await stack.http.post(url("charges", f"/v1/ops/dead-letters/{again['new_id']}/resolve"),
                                   headers=ops("e2e"))
    assert closed.json()["status"] == "resolved"


async def test_incomplete_encounter_is_held_then_fixed_priced_and_released(stack):
    source = _source()
    g = generate(1, seed=6, source_system=source, scenarios=["paid"])[0]
    code = f"{uuid.uuid4().int % 60000 + 10000:05d}"  # a code no earlier run has priced for this tenant
    body = {**g.body, "diagnoses": [], "lines": [{"procedure_code": code, "units": "1"}]}  # no dx, no charge
    r = await stack.post_json(body)
    assert r.status_code == 201 and r.json()["status"] == "held"
    cid = r.json()["claim_id"]
    assert {m["field"] for m in r.json()["missing"]} == {"diagnoses", "lines[1].charge"}
    queue = await stack.get("charges", "/v1/encounters", status="held", limit=1000)
    assert cid in [item["claim_id"] for item in queue["items"]]

    # late charge while still open, priced from the chargemaster imported afterwards
    late = await stack.http.post(url("charges", f"/v1/encounters/{cid}/lines"), headers=acting_as("coder.kim"),
                                 json=[{"procedure_code": "36415", "units": "1", "charge": "20.00"}])
    assert late.status_code == 200 and late.json()["status"] == "held"
    csv_text = f"code,modifier,price,effective_from,effective_to\n{code},,150.00,2020-01-01,\n"
    imported = await stack.http.post(url("charges", "/v1/chargemaster"), content=csv_text.encode(),
                                     headers={"content-type": "text/csv"})
    assert imported.status_code == 200 and imported.json() == {"imported": 1}
    bad_csv = await stack.http.post(url("charges", "/v1/chargemaster"), content=b"code,price\n99213,abc\n",
                                    headers={"content-type": "text/csv"})
    assert bad_csv.status_code == 422

    named_only = await stack.http.patch(url("charges", f"/v1/encounters/{cid}"), json={"diagnoses": ["J069"]},
                                        headers={"X-User": "coder.kim"}, auth=None)
    assert named_only.status_code == 401  # who acts comes from a token, never from a header
    fixed = await stack.http.patch(url("charges", f"/v1/encounters/{cid}"), json={"diagnoses": ["J069"]},
                                   headers=acting_as("coder.kim"))
    assert fixed.status_code == 200 and fixed.json()["status"] == "captured", fixed.text
    claim = (await stack.get("charges", f"/v1/claims/{cid}"))["claim"]
    assert [(line["procedure_code"], line["charge"]) for line in claim["lines"]] == [(code, "150.00"), ("36415", "20.00")]
    assert claim["total_charge"] == "170.00"
    audit = (await stack.get("charges", f"/v1/encounters/{cid}/audit"))["changes"]
    assert [(a["action"], a["actor"]) for a in audit] == [("late_charge", "coder.kim"), ("fixed", "coder.kim")]
    assert audit[1]["before"]["diagnoses"] == [] and audit[1]["after"]["diagnoses"] == ["J069"]

    # the held claim already counts as settled ("incomplete") until analytics sees the fix: wait for the new state
    [settled] = await eventually(lambda: stack.claims(source),
                                 lambda claims: bool(claims) and claims[0]["final_state"] not in (None, "incomplete"),
                                 "the fixed claim's final state", timeout_s=60, poll_s=0.5)
    assert settled["claim_id"] == cid and settled["final_state"] == "paid"
    again = await stack.http.patch(url("charges", f"/v1/encounters/{cid}"), json={"diagnoses": ["I10"]},
                                   headers=acting_as("coder.kim"))
    assert again.status_code == 409  # released claims change through corrected claims


async def test_corrected_resend_of_a_held_encounter_is_a_new_audited_version(stack):
    source = _source()
    g = generate(1, seed=7, source_system=source, scenarios=["paid"])[0]
    first = await stack.post_json({**g.body, "diagnoses": []})
    assert first.json()["status"] == "held"
    corrected = await stack.post_json(g.body)  # the EHR resends with the diagnosis filled in
    assert corrected.status_code == 200 and corrected.json()["status"] == "captured"
    assert corrected.json()["claim_id"] == first.json()["claim_id"]
    audit = (await stack.get("charges", f"/v1/encounters/{first.json()['claim_id']}/audit"))["changes"]
    assert [a["action"] for a in audit] == ["corrected_resend"]
    changed_again = await stack.post_json({**g.body, "place_of_service": "22"})
    assert changed_again.status_code == 409  # released: a corrected claim, not a resend


async def test_hl7v2_dft_intake_captures_encounters_and_rejects_broken_messages(stack):
    source = _source()
    batch = generate(4, seed=8, source_system=source, scenarios=["paid", "copay"])
    text = "\n".join(to_hl7_dft(g.body) for g in batch)  # several messages in one post
    r = await stack.http.post(url("charges", "/v1/encounters/hl7v2"), content=text.encode(),
                              headers={"content-type": "x-application/hl7-v2+er7"})
    assert r.status_code == 201, r.text
    assert [e["status"] for e in r.json()["encounters"]] == ["captured"] * 4
    await stack.wait_settled(source, 4, timeout_s=60, poll_s=0.5)
    claims = {c["source_encounter_id"]: c for c in await stack.claims(source)}
    for g in batch:
        assert claims[g.body["source_encounter_id"]]["final_state"] == g.expected_final_state

    collapsed = to_hl7_dft(batch[0].body).replace("\r", " ")
    bad = await stack.http.post(url("charges", "/v1/encounters/hl7v2"), content=collapsed.encode(),
                                headers={"content-type": "x-application/hl7-v2+er7"})
    assert bad.status_code == 422
    assert any("segment separators" in e["reason"] for e in bad.json()["errors"])
    assert batch[0].body["patient"]["last_name"] not in bad.text


async def test_public_hl7_samples_are_held_or_rejected_with_reasons(stack):
    from tests.support.shared import sample_file

    medplum_sample = sample_file("hl7v2", "medplum_dft_p03_insurance.hl7")
    mieweb_sample = sample_file("hl7v2", "mieweb_dft_example.hl7")
    medplum = await stack.http.post(url("charges", "/v1/encounters/hl7v2"),
                                    content=medplum_sample.read_bytes(),
                                    params={"source_system": _source()})
    assert medplum.status_code in (200, 201), medplum.text
    [enc] = medplum.json()["encounters"]
    assert enc["status"] == "held" and "billing_provider" in {m["field"] for m in enc["missing"]}
    mieweb = await stack.http.post(url("charges", "/v1/encounters/hl7v2"),
                                   content=mieweb_sample.read_bytes())
    assert mieweb.status_code == 422 and any("ICD-9" in e["reason"] for e in mieweb.json()["errors"])


async def test_coder_queue_assign_recode_release_with_audit(stack):
    source = _source()
    g = generate(1, seed=9, source_system=source, scenarios=["invalid_diagnosis"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    await stack.wait_settled(source, 1, timeout_s=60, poll_s=0.5)
    queued = await stack.get("coding", f"/v1/claims/{cid}")
    assert queued["status"] == "needs_coder" and {e["code"] for e in queued["edits"]} >= {"COD010"}
    assert g.body["patient"]["last_name"] not in json.dumps(queued["edits"])
    queue = await stack.get("coding", "/v1/coder-queue", limit=1000)
    assert cid in [item["claim_id"] for item in queue["items"]]

    headers = acting_as("lead.coder")
    r = await stack.http.post(url("coding", f"/v1/claims/{cid}/assignment"), json={"coder": "coder.ann"}, headers=headers)
    assert r.status_code == 200
    still_bad = await stack.http.post(url("coding", f"/v1/claims/{cid}/coding"), json={"diagnoses": ["E11"]},
                                      headers=acting_as("coder.ann"))
    assert still_bad.status_code == 200 and still_bad.json()["status"] == "needs_coder"
    assert [e["code"] for e in still_bad.json()["edits"] if e["severity"] == "error"] == ["COD011"]  # header code
    fixed = await stack.http.post(url("coding", f"/v1/claims/{cid}/coding"),
                                  json={"diagnoses": ["E11.9"], "note": "per progress note"}, headers=acting_as("coder.ann"))
    assert fixed.status_code == 200 and fixed.json()["status"] == "coded", fixed.text
    audit = (await stack.get("coding", f"/v1/claims/{cid}/audit"))["actions"]
    assert [(a["action"], a["actor"]) for a in audit] == [("assigned", "lead.coder"), ("recoded", "coder.ann"),
                                                           ("recoded", "coder.ann")]
    assert audit[2]["before"]["diagnoses"] == ["E11"] and audit[2]["after"]["diagnoses"] == ["E119"]

    async def paid():
        claims = await stack.claims(source)
        return claims and claims[0]["final_state"] == "paid"
    for _ in range(120):
        if await paid():
            break
        await asyncio.sleep(0.5)
    assert await paid()
    again = await stack.http.post(url("coding", f"/v1/claims/{cid}/coding"), json={"diagnoses": ["I10"]},
                                  headers=acting_as("coder.ann"))
    assert again.status_code == 409


async def test_ncci_pair_from_the_reference_files_holds_the_claim_for_a_coder(stack):
    source = _source()
    g = generate(1, seed=10, source_system=source, scenarios=["ncci_conflict"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    await stack.wait_settled(source, 1, timeout_s=60, poll_s=0.5)
    coded = await stack.get("coding", f"/v1/claims/{cid}")
    assert [e["code"] for e in coded["edits"] if e["severity"] == "error"] == ["COD050"]
    tables = await stack.get("coding", "/v1/reference-data")
    assert tables["ptp_pairs"] == 3 and tables["mue_codes"] == 2


async def _final_state(stack, source: str, want: str, timeout_s: float = 60) -> dict:
    for _ in range(int(timeout_s / 0.5)):
        claims = await stack.claims(source)
        if claims and claims[0]["final_state"] == want:
            return claims[0]
        await asyncio.sleep(0.5)
    raise AssertionError(f"claim of {source} never reached {want}: {await stack.claims(source)}")


async def test_prior_auth_hold_is_released_with_the_authorization_number(stack):
    source = _source()
    g = generate(1, seed=11, source_system=source, scenarios=["no_auth"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    await _final_state(stack, source, "auth_hold")
    check = await stack.get("eligibility", f"/v1/claims/{cid}")
    assert check["status"] == "held" and check["work_queue"] == "authorizations"
    assert [e["code"] for e in check["edits"]] == ["ELG020"]
    queue = await stack.get("eligibility", "/v1/work-queue", status="authorizations", limit=1000)
    assert cid in [i["claim_id"] for i in queue["items"]]
    r = await stack.http.post(url("eligibility", f"/v1/claims/{cid}/authorization"),
                              json={"authorization_number": "AUTH-778"}, headers=acting_as("auth.team"))
    assert r.status_code == 200 and r.json()["released"] is True, r.text
    settled = await _final_state(stack, source, "paid")
    assert settled["claim_id"] == cid
    assert (await stack.get("scrubber", f"/v1/claims/{cid}"))["claim"]["prior_authorization"] == "AUTH-778"


async def test_inactive_coverage_goes_to_the_front_desk_and_a_recheck_releases_it(stack):
    source = _source()
    g = generate(1, seed=12, source_system=source, scenarios=["terminated"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    await _final_state(stack, source, "eligibility_hold")
    check = await stack.get("eligibility", f"/v1/claims/{cid}")
    assert check["work_queue"] == "front-desk" and check["hold_reason"] == "coverage_inactive"
    still = await stack.http.post(url("eligibility", f"/v1/claims/{cid}/recheck"), json={}, headers=acting_as("desk"))
    assert still.status_code == 200 and still.json()["released"] is False
    fixed = await stack.http.post(url("eligibility", f"/v1/claims/{cid}/recheck"), json={"member_id": "COPAY9911"},
                                  headers=acting_as("desk"))
    assert fixed.status_code == 200 and fixed.json()["released"] is True, fixed.text
    assert fixed.json()["eligibility"]["copay"] == "25.00"
    await _final_state(stack, source, "patient_balance")


async def test_on_demand_eligibility_check_and_registration_validation(stack):
    g = generate(1, seed=13, scenarios=["deductible"])[0].body
    body = {"patient": g["patient"], "coverage": g["coverage"], "provider": g["billing_provider"],
            "service_date": g["service_date"], "procedure_codes": ["99213", "72148"]}
    r = await stack.http.post(url("eligibility", "/v1/eligibility-checks"), json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["eligibility"]["status"] == "active" and out["eligibility"]["deductible_remaining"] == "1500.00"
    assert out["eligibility"]["coinsurance_rate"] == "0.2"
    assert [p["code"] for p in out["problems"]] == ["ELG020"]  # the MRI needs a prior authorization
    again = await stack.http.post(url("eligibility", "/v1/eligibility-checks"), json=body)
    assert again.json()["eligibility"]["source"] == "cache"
    batch = await stack.http.post(url("eligibility", "/v1/eligibility-checks/batch"), json={"checks": [body, body]})
    assert batch.status_code == 200 and len(batch.json()["results"]) == 2

    registration = {"patient": {"first_name": "Ann", "last_name": "Lee", "birth_date": "1980-02-03", "sex": "F",
                                "address": {"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "62704"}},
                    "coverages": [{"payer_id": "SBX01", "payer_name": "Sandbox", "member_id": "M1",
                                   "effective_from": "2020-01-01", "order_of_benefits": 1}]}
    v = await stack.http.post(url("eligibility", "/v1/registrations/validate"), json=registration)
    assert v.status_code == 200 and v.json()["valid"] is False
    assert "REG005" in [p["code"] for p in v.json()["problems"]]  # 62704 is an Illinois ZIP


async def test_registered_patients_are_verified_before_the_visit(stack):
    run = uuid.uuid4().hex[:8]
    g = generate(1, seed=14, scenarios=["copay"])[0].body
    patient = {**g["patient"], "phone": "(617) 555-0134"}
    coverage = {**g["coverage"], "effective_from": "2024-01-01", "order_of_benefits": 1}
    r = await stack.http.put(url("eligibility", f"/v1/patients/MRN-{run}"), json={"patient": patient, "coverages": [coverage]})
    assert r.status_code == 200 and r.json()["registered"] is True, r.text
    bad = await stack.http.put(url("eligibility", f"/v1/patients/MRN-bad-{run}"),
                               json={"patient": {**patient, "birth_date": "2999-01-01"}, "coverages": [coverage]})
    assert bad.status_code == 422 and "REG001" in [p["code"] for p in bad.json()["problems"]]

    appt = {"source_system": "sched", "source_appointment_id": f"A-{run}", "patient_id": f"MRN-{run}",
            "scheduled_date": g["service_date"], "provider": g["billing_provider"], "procedure_codes": ["99213"]}
    ok = await stack.http.post(url("eligibility", "/v1/appointments"), json=appt)
    assert ok.status_code == 200 and ok.json()["status"] == "verified", ok.text
    assert ok.json()["eligibility"]["copay"] == "25.00"
    mri = await stack.http.post(url("eligibility", "/v1/appointments"),
                                json={**appt, "source_appointment_id": f"B-{run}", "procedure_codes": ["72148"]})
    assert mri.json()["work_queue"] == "authorizations"
    nobody = await stack.http.post(url("eligibility", "/v1/appointments"),
                                   json={**appt, "source_appointment_id": f"C-{run}", "patient_id": f"MRN-none-{run}"})
    assert nobody.json()["work_queue"] == "front-desk" and nobody.json()["problems"][0]["code"] == "REG020"

    # the same kind of event straight from the EHR's scheduling feed on the intake topic
    from rcm_contracts.envelope import new_envelope
    from rcm_contracts.events import AppointmentScheduled

    event = AppointmentScheduled.model_validate({**appt, "source_appointment_id": f"D-{run}"})
    env = new_envelope(event, service="intake", tenant_id=stack.tenant_id, key=f"appt-{run}")
    await stack.publish_intake([(env.partitionkey.encode(), env.to_bytes(), env.headers())])
    for _ in range(60):
        listed = await stack.get("eligibility", "/v1/appointments", on=g["service_date"], limit=1000)
        mine = [a for a in listed["items"] if a["source_appointment_id"] == f"D-{run}"]
        if mine:
            break
        await asyncio.sleep(0.5)
    assert mine and mine[0]["status"] == "verified"
    queue = await stack.get("eligibility", "/v1/appointments", work_queue="front-desk", limit=1000)
    assert f"C-{run}" in [a["source_appointment_id"] for a in queue["items"]]


async def test_fhir_appointment_is_checked_before_the_visit(stack):
    run = uuid.uuid4().hex[:8]
    g = generate(1, seed=15, scenarios=["paid"])[0].body
    coverage = {**g["coverage"], "effective_from": "2024-01-01", "order_of_benefits": 1}
    assert (await stack.http.put(url("eligibility", f"/v1/patients/MRN-{run}"),
                                 json={"patient": g["patient"], "coverages": [coverage]})).status_code == 200
    appt = {"resourceType": "Appointment", "status": "booked", "identifier": [{"value": f"F-{run}"}],
            "start": f"{g['service_date']}T09:00:00-04:00",
            "participant": [{"actor": {"reference": f"Patient/MRN-{run}"}, "status": "accepted"},
                            {"actor": {"type": "Practitioner", "identifier": {"system": "http://hl7.org/fhir/sid/us-npi",
                                                                              "value": "1234567893"}}, "status": "accepted"}]}
    r = await stack.http.post(url("eligibility", "/v1/appointments/fhir"), json=appt)
    assert r.status_code == 200 and r.json()["status"] == "verified", r.text
    bad = await stack.http.post(url("eligibility", "/v1/appointments/fhir"), json={**appt, "start": "next tuesday"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("Appointment")


async def test_values_postgres_cannot_hold_get_422_not_500(stack):
    g = generate(1, seed=16, source_system=_source(), scenarios=["paid"])[0].body
    nul = {**g, "patient": {**g["patient"], "last_name": "Smi\u0000th"}}
    r = await stack.post_json(nul)
    assert r.status_code == 422 and r.json()["code"] == "invalid_value"
    assert "Smi" not in r.text
    neg = await stack.http.get(url("eligibility", "/v1/appointments"), params={"limit": -5})
    assert neg.status_code == 422


async def test_synthea_history_splits_per_visit_and_snomed_encounters_reach_the_coder_queue(stack):
    """Synthea exports a patient's history as one batch bundle coded in SNOMED CT / CVX, with
    organisations that carry no NPI and no Coverage resource (Claim.insurance names the payer by display only)."""
    from tests.support.shared import missing, sample_files, samples_dir

    synthea = ("fhir", "synthea-covid-juvenile-2020")
    patients = [p for p in sample_files(*synthea, pattern="*.json") if '"Patient"' in p.read_text()]
    if not patients:  # skips locally, fails under CI=true, naming the folder
        missing("Synthea patient bundles", samples_dir(*synthea))
    # a patient whose Claims name a payer (another is NO_INSURANCE: self-pay, tests/e2e/test_self_pay covers those)
    path = next(p for p in patients if "NO_INSURANCE" not in p.read_text())
    bundle = json.loads(path.read_text())
    encounter_count = sum(e["resource"]["resourceType"] == "Encounter" for e in bundle["entry"])
    source = _source()
    b = Stack(TENANT_B)  # a tenant of its own: the default billing provider changes its intake
    provider = {"npi": "1245319599", "name": "Juvenile Care Group", "tax_id": "123456789",
                "address": {"line1": "92 Highland St", "city": "Milton", "state": "MA", "postal_code": "021863800"}}
    try:
        r = await b.http.put(url("charges", "/v1/settings/default-billing-provider"), json=provider,
                             headers=acting_as("admin.lee"))
        assert r.status_code == 200 and r.json()["default_billing_provider"]["npi"] == "1245319599"

        r = await b.post_fhir(bundle, source)
        assert r.status_code == 201, r.text
        results = r.json()["encounters"]
        assert len(results) == encounter_count and {x["status"] for x in results} == {"held"}
        for result in results:  # the default billing provider applied; the member id and visit prices are missing
            fields = {m["field"] for m in result["missing"]}
            assert "billing_provider" not in fields and "coverage.member_id" in fields
        assert (await b.post_fhir(bundle, source)).json()["encounters"][0]["status"] == "duplicate"

        # billing staff complete a visit with SNOMED CT diagnoses: coverage and the visit's charge
        target = next(x for x in results if "diagnoses" not in {m["field"] for m in x["missing"]})
        encounter = await b.get("charges", f"/v1/claims/{target['claim_id']}")
        submission = encounter["submission"]
        lines = [{**line, "charge": line["charge"] or "120.00"} for line in submission["lines"]]
        g = generate(1, seed=31, scenarios=["paid"])[0].body
        fixed = await b.http.patch(url("charges", f"/v1/encounters/{target['claim_id']}"),
                                   json={"coverage": g["coverage"], "lines": lines}, headers=acting_as("biller.kim"))
        assert fixed.status_code == 200 and fixed.json()["status"] == "captured", fixed.text

        async def queued():
            r = await b.http.get(url("coding", f"/v1/claims/{target['claim_id']}"))
            return r.json() if r.status_code == 200 else None
        for _ in range(120):
            coded = await queued()
            if coded:
                break
            await asyncio.sleep(0.5)
        assert coded and coded["status"] == "needs_coder", coded
        codes = [e["code"] for e in coded["edits"] if e["severity"] == "error"]
        assert codes.count("COD004") == len(lines)  # every SNOMED CT / CVX line needs a CPT/HCPCS code
        assert "COD005" in codes  # and the SNOMED CT diagnoses need ICD-10-CM codes
        queue = await b.get("coding", "/v1/coder-queue", limit=1000)
        assert target["claim_id"] in [item["claim_id"] for item in queue["items"]]
        patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
        assert patient["name"][0]["family"] not in json.dumps(coded["edits"])
    finally:
        await b.http.delete(url("charges", "/v1/settings/default-billing-provider"), headers=acting_as("admin.lee"))
        await b.close()


async def test_member_id_formats_are_configured_per_tenant_and_payer(stack):
    payer = f"P{uuid.uuid4().hex[:8].upper()}"
    mbi = r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$"
    registration = {"patient": {"first_name": "Ann", "last_name": "Lee", "birth_date": "1950-02-03", "sex": "F",
                                "address": {"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "02108"}},
                    "coverages": [{"payer_id": payer, "payer_name": "Medicare Part B", "member_id": "M12345",
                                   "effective_from": "2020-01-01", "order_of_benefits": 1}]}

    async def member_id_problems(client):
        r = await client.http.post(url("eligibility", "/v1/registrations/validate"), json=registration)
        assert r.status_code == 200, r.text
        return [p for p in r.json()["problems"] if "member" in p["field"]]

    assert await member_id_problems(stack) == []  # the built-in default accepts it
    put = await stack.http.put(url("eligibility", f"/v1/payers/{payer}/member-id-rule"),
                               json={"pattern": mbi, "description": "Medicare MBI"}, headers=acting_as("admin.lee"))
    assert put.status_code == 200, put.text
    problems = await member_id_problems(stack)
    assert len(problems) == 1 and problems[0]["severity"] == "error" and "M12345" not in problems[0]["message"]
    registration["coverages"][0]["member_id"] = "1EG4TE5MK73"  # CMS's published MBI example
    assert await member_id_problems(stack) == []

    registration["coverages"][0]["member_id"] = "M12345"
    b = Stack(TENANT_B)
    try:
        assert await member_id_problems(b) == []  # another tenant's rules do not apply
    finally:
        await b.close()
    rules = await stack.get("eligibility", "/v1/member-id-rules")
    assert {"payer_id": payer, "pattern": mbi, "description": "Medicare MBI"}.items() <= \
        next(r for r in rules["rules"] if r["payer_id"] == payer).items()
    bad = await stack.http.put(url("eligibility", f"/v1/payers/{payer}/member-id-rule"), json={"pattern": "(["},
                               headers=acting_as("admin.lee"))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_member_id_rule"
    gone = await stack.http.delete(url("eligibility", f"/v1/payers/{payer}/member-id-rule"),
                                   headers=acting_as("admin.lee"))
    assert gone.status_code == 204
    assert await member_id_problems(stack) == []
