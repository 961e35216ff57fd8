"""Claims out the door, end to end through the running services: the scrubber's review queue and rule
sets, 837P interchanges validated before they leave (and accepted by pyx12), the sandbox
clearinghouse's 999/277CA over HTTP and the file-drop mailbox, rejections back to review,
quarantined acknowledgments, corrected and secondary claims."""

from __future__ import annotations

import uuid

import pytest

from rcm_x12.ig.validator import validate_interchange
from tests.support.pyx12_oracle import pyx12_verdict
from tests.support.client import OPERATOR, acting_as, eventually, url
from tests.support.encounters import GOOD_NPI, generate

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py

ops = OPERATOR.headers  # a platform operator's token of the stack's issuer (rcm_runtime.ops)
ACTOR = acting_as("biller.sam")


def _source() -> str:
    return f"e2e-out-{uuid.uuid4().hex[:10]}"


async def _submission(stack, cid: str, *statuses: str):
    async def probe():
        r = await stack.http.get(url("submission", f"/v1/claims/{cid}"))
        return r.json() if r.status_code == 200 and r.json()["status"] in statuses else None
    return await eventually(probe, bool, f"claim at submission {statuses}", timeout_s=60, poll_s=0.3)


async def _scrubbed(stack, cid: str, *decisions: str, stage: str | None = None):
    async def probe():
        r = await stack.http.get(url("scrubber", f"/v1/claims/{cid}"))
        ok = r.status_code == 200 and r.json()["decision"] in decisions and (stage is None or r.json()["stage"] == stage)
        return r.json() if ok else None
    return await eventually(probe, bool, f"claim at the scrubber {decisions}", timeout_s=60, poll_s=0.3)


async def _interchange(stack, icn: str) -> str:
    return (await stack.get("submission", f"/v1/interchanges/{icn}"))["content"]


async def test_accepted_claim_went_out_as_an_837p_pyx12_accepts_with_first_pass_recorded(stack):
    g = generate(1, seed=41, source_system=_source(), scenarios=["paid"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    sub = await _submission(stack, cid, "accepted")
    assert sub and sub["first_pass_accepted"] is True and sub["payer_claim_control_number"].startswith("SBX")
    text = await _interchange(stack, sub["interchange_control_number"])
    assert "ST*837*" in text and "005010X222A1" in text
    assert validate_interchange(text).ok and pyx12_verdict(text).valid  # what left us passes the reference validator
    acceptance = await stack.get("submission", "/v1/acceptance")
    assert acceptance["first_pass_accepted"] >= 1 and 0 < acceptance["first_pass_rate"] <= 1


async def test_review_queue_correct_rescrub_release_with_audit(stack):
    g = generate(1, seed=42, source_system=_source(), scenarios=["bad_npi"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    review = await _scrubbed(stack, cid, "review")
    assert review and "SCR001" in review["edit_codes"]
    queue = await stack.get("scrubber", "/v1/review-queue", edit="SCR001", payer_id=g.body["coverage"]["payer_id"],
                            limit=1000)
    assert cid in [item["claim_id"] for item in queue["items"]]
    assert g.body["patient"]["last_name"] not in str(review["edits"])

    refused = await stack.http.post(url("scrubber", f"/v1/claims/{cid}/release"), json={}, headers=ACTOR)
    assert refused.status_code == 409 and refused.json()["code"] == "edits_remain"
    held = await stack.http.post(url("scrubber", f"/v1/claims/{cid}/hold"), json={"note": "asking the practice"},
                                 headers=ACTOR)
    assert held.status_code == 200 and held.json()["decision"] == "held"
    billing = {**review["claim"]["billing_provider"], "npi": GOOD_NPI}
    fixed = await stack.http.patch(url("scrubber", f"/v1/claims/{cid}"), json={"billing_provider": billing},
                                   headers=ACTOR)
    assert fixed.status_code == 200 and fixed.json()["decision"] == "clean", fixed.text
    audit = (await stack.get("scrubber", f"/v1/claims/{cid}/audit"))["actions"]
    assert [(a["action"], a["actor"]) for a in audit] == [("held", "biller.sam"), ("corrected", "biller.sam")]
    assert "SCR001" in audit[1]["before"]["edit_codes"] and "SCR001" not in audit[1]["after"]["edit_codes"]
    assert await _submission(stack, cid, "accepted")
    again = await stack.http.patch(url("scrubber", f"/v1/claims/{cid}"), json={"place_of_service": "22"},
                                   headers=ACTOR)
    assert again.status_code == 409  # gone to the payer: corrections now go through submission (frequency 7)


async def test_rule_sets_are_versioned_per_payer_and_refuse_bad_documents(stack):
    payer = "SBX02"
    current = await stack.get("scrubber", "/v1/rule-sets", payer_id=payer)
    version = max([r["version"] for r in current["rule_sets"]], default=0) + 1
    doc = {"payer_id": payer, "version": version, "effective_from": "2020-01-01",
           "edits": {"SCR019": {"enabled": False}},
           "custom_rules": [{"id": f"DNL-E2E-{version}", "severity": "error",
                             "when": {"procedure_codes": ["J3301"], "missing_modifier_any": ["JZ"]},
                             "message": "this payer needs JZ on single-dose drugs", "field": "modifiers"}]}
    r = await stack.http.post(url("scrubber", "/v1/rule-sets"), json=doc, headers=ACTOR)
    assert r.status_code == 201, r.text
    stale = await stack.http.post(url("scrubber", "/v1/rule-sets"), json=doc, headers=ACTOR)
    assert stale.status_code == 409
    bad = await stack.http.post(url("scrubber", "/v1/rule-sets"), headers=ACTOR, json={
        **doc, "version": version + 1, "edits": {"SCR999": {"enabled": False}}})
    assert bad.status_code == 422 and "SCR999" in str(bad.json())
    effective = await stack.get("scrubber", "/v1/rule-sets/effective", payer_id=payer)
    assert {"payer_id": payer, "version": version} in effective["sources"]
    assert f"DNL-E2E-{version}" in effective["custom_rules"]
    assert "SCR019" not in [e["id"] for e in effective["edits"]]
    catalog = await stack.get("scrubber", "/v1/edit-catalog")
    assert len(catalog["edits"]) >= 37 and all(e["segment"] for e in catalog["edits"])


async def test_277ca_rejection_returns_the_claim_to_review_and_the_fix_goes_out_again(stack):
    g = generate(1, seed=43, source_system=_source(), scenarios=["not_enrolled"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    rejected = await _submission(stack, cid, "rejected")
    assert rejected and rejected["ack_status_code"] == "A7:562:85" and rejected["first_pass_accepted"] is False
    review = await _scrubbed(stack, cid, "review", stage="277CA")
    assert review and review["edit_codes"] == ["277CA-A7:562:85"]
    queue = await stack.get("scrubber", "/v1/review-queue", stage="277CA", limit=1000)
    assert cid in [item["claim_id"] for item in queue["items"]]

    billing = {**review["claim"]["billing_provider"], "npi": GOOD_NPI}  # bill under the enrolled group NPI
    fixed = await stack.http.patch(url("scrubber", f"/v1/claims/{cid}"), json={"billing_provider": billing},
                                   headers=ACTOR)
    assert fixed.status_code == 200 and fixed.json()["decision"] == "clean", fixed.text
    accepted = await _submission(stack, cid, "accepted")
    assert accepted and accepted["attempts"] == 2 and accepted["first_pass_accepted"] is False


async def test_file_drop_route_sends_through_the_mailbox(stack):
    r = await stack.http.put(url("submission", "/v1/routes/SBX02"), json={"clearinghouse": "sandbox-sftp"},
                             headers=ACTOR)
    assert r.status_code == 200, r.text
    try:
        unknown = await stack.http.put(url("submission", "/v1/routes/SBX01"), json={"clearinghouse": "nowhere"},
                                       headers=ACTOR)
        assert unknown.status_code == 422
        g = generate(4, seed=44, source_system=_source(), scenarios=["paid"])
        bodies = [{**x.body, "coverage": {**x.body["coverage"], "payer_id": "SBX02"}} for x in g]
        cids = [(await stack.post_json(b)).json()["claim_id"] for b in bodies]
        for cid in cids:
            sub = await _submission(stack, cid, "accepted")
            assert sub and sub["clearinghouse"] == "sandbox-sftp"
    finally:
        await stack.http.delete(url("submission", "/v1/routes/SBX02"), headers=ACTOR)


async def test_unparseable_or_unknown_acknowledgments_are_quarantined_and_change_nothing(stack):
    garbage = await stack.http.post(url("submission", "/v1/acknowledgments"), params={"clearinghouse": "sandbox"},
                                    content=f"this is not X12 at all {uuid.uuid4()}".encode(), headers=ops())
    assert garbage.status_code == 422 and garbage.json()["code"] == "quarantined"
    assert "does not parse" in garbage.json()["description"]
    n = uuid.uuid4().int % 10**8 + 9 * 10**8  # a group number this deployment never sent
    stranger = ("ISA*00*          *00*          *ZZ*SANDBOXCH      *ZZ*TENANT-A       *261129*1200*^*00501*"
                f"900000001*0*P*:~GS*FA*SANDBOXCH*TENANT-A*20261129*1200*900000001*X*005010X231A1~"
                f"ST*999*0001*005010X231A1~AK1*HC*{n}*005010X222A1~AK2*837*0001*005010X222A1~IK5*R*5~"
                "AK9*R*1*1*0~SE*6*0001~GE*1*900000001~IEA*1*900000001~")
    r = await stack.http.post(url("submission", "/v1/acknowledgments"), params={"clearinghouse": "sandbox"},
                              content=stranger.encode(), headers=ops())
    assert r.status_code == 422 and "did not send" in r.json()["description"]
    again = await stack.http.post(url("submission", "/v1/acknowledgments"), params={"clearinghouse": "sandbox"},
                                  content=stranger.encode(), headers=ops())
    assert again.status_code == 200 and again.json()["status"] == "duplicate"  # the same file is read once
    # the client's own credentials, tenant A's admin token: acknowledgment files span tenants, operators only
    tenant_admin = await stack.http.post(url("submission", "/v1/acknowledgments"),
                                         params={"clearinghouse": "sandbox"}, content=stranger.encode())
    assert tenant_admin.status_code == 403
    files = (await stack.http.get(url("submission", "/v1/acknowledgments"), params={"status": "quarantined"},
                                  headers=ops())).json()["files"]
    assert files and all(f["reason"] for f in files) and "content" not in files[0]


async def test_replacement_and_secondary_claims_carry_ref_f8_and_the_primary_adjudication(stack):
    g = generate(1, seed=45, source_system=_source(), scenarios=["coinsurance"])[0]
    cid = (await stack.post_json(g.body)).json()["claim_id"]
    first = await _submission(stack, cid, "accepted")
    assert first

    async def posted():
        r = await stack.http.get(url("remittance", f"/v1/claims/{cid}"))
        return r.json() if r.status_code == 200 else None
    assert await eventually(posted, bool, "the primary payment posted", timeout_s=60, poll_s=0.3)

    # the secondary payer gets the primary's payment (2320 AMT*D) once the primary has paid
    secondary_coverage = {"payer_id": "SBX02", "payer_name": "Sandbox Medicare Advantage", "member_id": "M55501234"}
    sec = await stack.http.post(url("submission", f"/v1/claims/{cid}/secondary"),
                                json={"coverage": secondary_coverage}, headers=ACTOR)
    assert sec.status_code == 201, sec.text
    secondary = await _submission(stack, sec.json()["claim_id"], "accepted", "rejected")
    assert secondary, "the secondary claim was not acknowledged"
    text = await _interchange(stack, secondary["interchange_control_number"])
    assert "SBR*S*" in text and "SBR*P*" in text and "AMT*D*" in text  # 2000B secondary, 2320 primary paid
    assert pyx12_verdict(text).valid

    # a replacement (frequency 7) names the payer's claim number
    repl = await stack.http.post(url("submission", f"/v1/claims/{cid}/corrections"),
                                 json={"frequency_code": "7", "changes": {"place_of_service": "02"},
                                       "note": "telehealth visit"}, headers=ACTOR)
    assert repl.status_code == 200, repl.text
    assert repl.json()["original_claim_number"] == first["payer_claim_control_number"]
    replaced = await eventually(lambda: _replaced(stack, cid, first["interchange_control_number"]), bool,
                                "the replacement sent", timeout_s=60, poll_s=0.3)
    text = await _interchange(stack, replaced["interchange_control_number"])
    assert f"REF*F8*{first['payer_claim_control_number']}~" in text and ":B:7*" in text
    assert pyx12_verdict(text).valid
    audit = (await stack.get("submission", f"/v1/claims/{cid}/audit"))["actions"]
    assert [a["action"] for a in audit] == ["secondary", "frequency_7"]
    not_yet = await stack.http.post(url("submission", f"/v1/claims/{uuid.uuid4()}/corrections"),
                                    json={"frequency_code": "8"}, headers=ACTOR)
    assert not_yet.status_code == 404


async def _replaced(stack, cid: str, old_icn: str):
    r = await stack.http.get(url("submission", f"/v1/claims/{cid}"))
    body = r.json()
    return body if body["interchange_control_number"] != old_icn and body["status"] in ("sent", "accepted") else None
