"""From denial to prevention, end to end through the running services, the real Kafka broker and PostgreSQL:
the sandbox payer denies 97810 with CO-96 (the non_covered scenario) on more claims than tenant A's threshold;
denials publishes a rule recommendation; the scrubber shows it as a proposed custom rule; a person approves it;
the next claim of that payer with 97810 is stopped by the scrubber for review with the rule's edit code and a
message naming the denial pattern. Denial trends show the payer's denials.

The stack is put back afterwards (the payer's rule set gets a version without the rule, the threshold its default):
later tests expect 97810 claims to reach the payer. A recommendation is made once per pattern and 30 days of
remittance dates (a later pattern counts only later dates): a run picks a tenant and payer whose pattern was not
recommended today (four runs a day on a kept stack; then it skips locally and fails under CI, which starts fresh)."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from tests.support.client import TENANT_B, Stack, acting_as, eventually, url
from tests.support.encounters import generate
from tests.support.shared import in_ci

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py

CODE, CARC = "97810", "CO-96"  # both sandbox plans (SBX01, SBX02) deny 97810 as not covered
THRESHOLD = 2  # the tenant's N for this test: 3 denied claims make the pattern
STATUSES = ("proposed", "approved", "dismissed")


def rule_id(payer: str) -> str:
    return f"DNL-{payer}-{CODE}-{CARC}"


def non_covered(n: int, source: str, payer: str) -> list[dict]:
    """n encounters of the non_covered scenario (97810 only), all billed to `payer`."""
    out = []
    for g in generate(n, seed=20261207, source_system=source, scenarios=["non_covered"]):
        body = g.body
        body["coverage"] = {**body["coverage"], "payer_id": payer}
        out.append(body)
    return out


async def send(stack, bodies: list[dict]) -> list[dict]:
    for body in bodies:
        resp = await stack.post_json(body)
        assert resp.status_code == 201, resp.text
    source = bodies[0]["source_system"]
    await stack.wait_settled(source, len(bodies), timeout_s=120, poll_s=0.5)
    return await stack.claims(source)


async def _recommended_today(stack, payer: str) -> bool:
    """A recommendation for the pattern whose window ends today: denials counts only later remittance dates."""
    today = datetime.now(timezone.utc).date().isoformat()
    for status in STATUSES:
        body = await stack.get("scrubber", "/v1/rule-proposals", status=status, payer_id=payer, limit=1000)
        if any(p["rule"]["id"] == rule_id(payer) and p["window_end"] >= today for p in body["items"]):
            return True
    return False


async def _without_rule(stack, payer: str) -> None:
    """The payer's rule set as it was before the approval: a new version without the proposed rule."""
    versions = (await stack.get("scrubber", "/v1/rule-sets", payer_id=payer))["rule_sets"]
    if not versions:
        return
    latest = versions[0]["document"]
    if not any(r["id"] == rule_id(payer) for r in latest.get("custom_rules", [])):
        return
    document = {**latest, "version": latest["version"] + 1,
                "custom_rules": [r for r in latest["custom_rules"] if r["id"] != rule_id(payer)]}
    resp = await stack.http.post(url("scrubber", "/v1/rule-sets"), json=document)
    assert resp.status_code == 201, resp.text


@pytest.fixture
async def pattern(stack):
    """A (tenant's client, payer) whose pattern was not recommended today (a stack keeps its data across runs:
    tenants A and B and the two payers give four runs a day), put back afterwards."""
    other = Stack(TENANT_B)
    chosen = None
    for client in (stack, other):
        for payer in ("SBX01", "SBX02"):
            if chosen is None and not await _recommended_today(client, payer):
                chosen = (client, payer)
    if chosen is None:
        await other.close()
        message = ("both tenants' SBX01 and SBX02 97810/CO-96 patterns were recommended today on this stack (once "
                   "per pattern and window: today's denials count for none of them again); run on a fresh stack")
        if in_ci():  # CI starts a fresh stack: this cannot be a rerun there
            pytest.fail(f"CI=true and {message}", pytrace=False)
        pytest.skip(message)
    client, payer = chosen
    before = await client.get("denials", "/v1/settings/denial-rule-threshold")
    await _without_rule(client, payer)  # an earlier, interrupted run's rule
    try:
        yield client, payer
    finally:
        await _without_rule(client, payer)
        await client.http.put(url("denials", "/v1/settings/denial-rule-threshold"),
                              json={"rule_threshold": before["rule_threshold"]})
        await other.close()


async def test_denials_in_proposal_out_approved_and_the_next_such_claim_is_stopped_by_the_scrubber(pattern):
    stack, payer = pattern
    set_n = await stack.http.put(url("denials", "/v1/settings/denial-rule-threshold"),
                                 json={"rule_threshold": THRESHOLD})
    assert set_n.status_code == 200, set_n.text

    # denials in: the payer denies 97810 with CO-96 on THRESHOLD + 1 claims
    source = f"e2e-dnl-{uuid.uuid4().hex[:10]}"
    claims = await send(stack, non_covered(THRESHOLD + 1, source, payer))
    assert {c["final_state"] for c in claims} == {"denied"}, claims
    for c in claims:
        denial = await stack.get("denials", f"/v1/claims/{c['claim_id']}")
        assert denial["reason_codes"] == [CARC]

    # proposal out
    def ours(body: dict) -> list[dict]:
        return [p for p in body["items"] if p["rule"]["id"] == rule_id(payer)]

    proposals = await eventually(lambda: stack.get("scrubber", "/v1/rule-proposals", payer_id=payer),
                                 lambda body: ours(body), f"a proposed rule for {payer} / 97810 / CO-96", timeout_s=60)
    [proposal] = ours(proposals)
    assert (proposal["procedure_code"], proposal["carc"], proposal["status"]) == (CODE, CARC, "proposed")
    assert proposal["count"] > THRESHOLD and proposal["threshold"] == THRESHOLD
    assert f"payer {payer} denied {CODE} with {CARC}" in proposal["rule"]["message"]

    # the trends see them: the payer's CO-96 denials, 85.00 each
    trends = await stack.get("denials", "/v1/denials/trends", group_by="carc")
    co96 = next(g for g in trends["groups"] if g["key"] == CARC)
    assert co96["denied_claims"] >= THRESHOLD + 1
    assert Decimal(co96["denied_amount"]) >= Decimal("85.00") * (THRESHOLD + 1)
    by_payer = {g["key"]: g for g in (await stack.get("denials", "/v1/denials/trends", group_by="payer"))["groups"]}
    assert by_payer[payer]["denied_claims"] >= THRESHOLD + 1

    # approved
    approved = await stack.http.post(url("scrubber", f"/v1/rule-proposals/{proposal['proposal_id']}/approve"),
                                     json={"note": "e2e: the plan does not cover 97810"},
                                     headers=acting_as("e2e.approver"))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["decided_by"] == "e2e.approver"

    # the next such claim is stopped by the scrubber, before it reaches the payer
    [stopped] = await send(stack, non_covered(1, f"e2e-dnl-next-{uuid.uuid4().hex[:10]}", payer))
    scrubbed = await eventually(lambda: stack.get("scrubber", f"/v1/claims/{stopped['claim_id']}"),
                                lambda body: body["decision"] == "review", "the claim held for review")
    [edit] = [e for e in scrubbed["edits"] if e["code"] == rule_id(payer)]
    assert edit["severity"] == "error" and f"payer {payer} denied {CODE} with {CARC}" in edit["message"]
    assert (await stack.http.get(url("submission", f"/v1/claims/{stopped['claim_id']}"))).status_code == 404
