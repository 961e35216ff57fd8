"""A denied claim sent again from the denial work queue, end to end through the running services, the real Kafka
broker and PostgreSQL, and the sandbox payer:

- corrected: SBX01 denies 97810 (CO-96, not covered); a person finds the service was manual therapy (97140) and
  sends a corrected claim. The scrubber scrubs the replacement, submission sends it as CLM05-3 7 with REF*F8 the
  payer's claim number, the payer reverses its denial (CLP02 22) and pays the replacement; remittance posts both,
  so the claim's ledger ends with the payment and no leftover denial; the denial item is `recovered` with the
  amount.
- rebill: the same denial rebilled to another payer (SBX03) as primary: a new claim goes out, that payer pays it,
  and the item is recovered by that payment; the denied claim's own ledger is left as the payer denied it."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.support.client import acting_as, eventually, url
from tests.support.encounters import generate

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py

PAYER = "SBX01"


async def denied_claims(stack, n: int) -> list[dict]:
    """n claims of the non_covered scenario (97810 only) billed to SBX01, settled as denied, with their items."""
    source = f"e2e-resub-{uuid.uuid4().hex[:10]}"
    for g in generate(n, seed=20261207, source_system=source, scenarios=["non_covered"]):
        body = g.body
        body["coverage"] = {**body["coverage"], "payer_id": PAYER, "payer_name": "Sandbox Health Plan"}
        resp = await stack.post_json(body)
        assert resp.status_code == 201, resp.text
    await stack.wait_settled(source, n, timeout_s=120, poll_s=0.5)
    claims = await stack.claims(source)
    assert {c["final_state"] for c in claims} == {"denied"}, claims
    for c in claims:
        c["denial"] = await eventually(lambda: stack.http.get(url("denials", f"/v1/claims/{c['claim_id']}")),
                                       lambda r: r.status_code == 200, "the denial item")
        c["denial"] = c["denial"].json()
    return claims


async def item(stack, denial_id: str) -> dict:
    return await stack.get("denials", f"/v1/denials/{denial_id}")


async def recovered(stack, denial_id: str) -> dict:
    return await eventually(lambda: item(stack, denial_id), lambda i: i["status"] in ("recovered", "upheld"),
                            "the item answered by the payer", timeout_s=120)


async def test_a_denied_claim_corrected_is_sent_as_a_replacement_and_paid_and_a_rebill_is_paid_by_the_other_payer(stack):
    corrected_claim, rebilled_claim = await denied_claims(stack, 2)

    # ---- corrected: the line recoded 97810 -> 97140, the rest as billed
    claim_id = corrected_claim["claim_id"]
    denial_id = corrected_claim["denial"]["denial_id"]
    billed = (await stack.get("scrubber", f"/v1/claims/{claim_id}"))["claim"]
    [line] = billed["lines"]
    assert line["procedure_code"] == "97810"
    resp = await stack.http.post(url("denials", f"/v1/denials/{denial_id}/corrected"),
                                 json={"correction": {"lines": [{**line, "procedure_code": "97140"}]}},
                                 headers=acting_as("e2e.specialist"))
    assert resp.status_code == 200, resp.text
    pccn = resp.json()["payer_claim_number"]
    assert resp.json()["status"] == "corrected" and pccn
    done = await recovered(stack, denial_id)
    assert done["status"] == "recovered" and Decimal(done["recovered_amount"]) > 0, done

    # what went out: the replacement naming the payer's claim number
    submitted = await stack.get("submission", f"/v1/claims/{claim_id}")
    assert (submitted["frequency_code"], submitted["status"]) == ("7", "accepted")
    sent = await stack.get("submission", f"/v1/interchanges/{submitted['interchange_control_number']}")
    assert f"REF*F8*{pccn}~" in sent["content"] and ":B:7*" in sent["content"] and "SV1*HC:97140*" in sent["content"]
    [resubmission] = (await stack.get("scrubber", "/v1/resubmissions", claim_id=claim_id))["resubmissions"]
    assert (resubmission["kind"], resubmission["outcome"]) == ("corrected", "clean")

    # the ledger: the denial reversed, the replacement paid; nothing left but what the patient owes (nothing here)
    ledger = await eventually(lambda: stack.get("remittance", f"/v1/claims/{claim_id}/ledger"),
                              lambda body: Decimal(body["totals"]["payer_paid"]) > 0, "the replacement's payment")
    totals = ledger["totals"]
    assert Decimal(totals["payer_paid"]) == Decimal(done["recovered_amount"])
    assert Decimal(totals["balance"]) == Decimal("0.00"), totals
    assert Decimal(totals["charge"]) == Decimal(line["charge"])  # charged once: the denial's charge was reversed

    # ---- rebill: to the supplement plan as primary
    denial_id = rebilled_claim["denial"]["denial_id"]
    coverage = {"payer_id": "SBX03", "payer_name": "Sandbox Medigap Supplement", "member_id": "SUPP20261207"}
    resp = await stack.http.post(url("denials", f"/v1/denials/{denial_id}/rebill"), json={"coverage": coverage},
                                 headers=acting_as("e2e.specialist"))
    assert resp.status_code == 200, resp.text
    new_claim = resp.json()["rebill_claim_id"]
    assert resp.json()["status"] == "rebilled" and new_claim != rebilled_claim["claim_id"]
    done = await recovered(stack, denial_id)
    assert done["status"] == "recovered" and Decimal(done["recovered_amount"]) > 0, done
    rebill_sent = await stack.get("submission", f"/v1/claims/{new_claim}")
    assert (rebill_sent["payer_id"], rebill_sent["frequency_code"], rebill_sent["status"]) == ("SBX03", "1", "accepted")
    new_ledger = await stack.get("remittance", f"/v1/claims/{new_claim}/ledger")
    assert Decimal(new_ledger["totals"]["payer_paid"]) == Decimal(done["recovered_amount"])
    old_ledger = await stack.get("remittance", f"/v1/claims/{rebilled_claim['claim_id']}/ledger")
    assert Decimal(old_ledger["totals"]["payer_paid"]) == 0 and Decimal(old_ledger["totals"]["balance"]) == 0
