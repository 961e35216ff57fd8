"""Self-pay end to end through the running services, the real Kafka broker and PostgreSQL: a self-pay encounter
(JSON, or on the intake topic with a coverage the patient declined to bill) goes from charges straight to patient
billing, whose balance equals the encounter's charges, itemized; no stage of the payer pipeline (eligibility's
270, submission's 837) ever sees it, and analytics counts it as self-pay."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.support.client import stack_issuer, url
from tests.support.encounters import generate, intake_record

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py


async def test_a_self_pay_encounter_ends_as_a_patient_balance_for_its_charges_and_never_reaches_a_payer(stack):
    source = f"e2e-sp-{uuid.uuid4().hex[:10]}"
    posted, published = (g.body for g in generate(2, seed=20261207, source_system=source, scenarios=["paid"]))
    posted = {**posted, "self_pay": True, "coverage": None, "diagnoses": [],
              "lines": [{**line, "diagnosis_pointers": [1]} for line in posted["lines"]]}
    published = {**published, "self_pay": True}  # a coverage on file: self-pay wins, it is kept for the record

    resp = await stack.post_json(posted)
    assert resp.status_code == 201 and resp.json()["status"] == "self_pay", resp.text
    await stack.publish_intake([intake_record(published, tenant_id=stack.tenant_id)])

    await stack.wait_settled(source, 2, timeout_s=60, poll_s=0.5)
    claims = {c["source_encounter_id"]: c for c in await stack.claims(source)}
    assert {c["final_state"] for c in claims.values()} == {"self_pay"}
    for body in (posted, published):
        cid = claims[body["source_encounter_id"]]["claim_id"]
        charge = sum(Decimal(line["charge"]) for line in body["lines"])  # what the EHR sent, summed here

        balance = await stack.get("patient-billing", f"/v1/claims/{cid}")
        assert balance["origin"] == "self_pay" and balance["status"] == "open"
        assert Decimal(balance["amount_due"]) == charge  # the demo tenants set no self-pay discount
        assert [(x["procedure_code"], Decimal(x["amount"])) for x in balance["lines"]] == [
            (line["procedure_code"].upper(), Decimal(line["charge"])) for line in body["lines"]]
        encounter = await stack.get("charges", f"/v1/claims/{cid}")
        assert encounter["status"] == "self_pay"
        for svc in ("eligibility", "coding", "scrubber", "submission", "remittance"):
            assert (await stack.http.get(url(svc, f"/v1/claims/{cid}"))).status_code == 404, svc
        timeline = await stack.get("analytics", f"/v1/claims/{cid}/timeline")
        assert [e["event_type"].split(".")[-2] for e in timeline["events"]] == [
            "self-pay-encounter-captured", "balance-opened"]

    # the statement is the patient's like any other: linked to their account, read and paid through the portal
    cid = claims[posted["source_encounter_id"]]["claim_id"]
    account = f"ACC-{uuid.uuid4().hex[:8]}"
    link = await stack.http.put(url("patient-billing", f"/v1/claims/{cid}/patient-account"),
                                json={"patient_account": account})
    assert link.status_code == 200, link.text
    patient = {"authorization": "Bearer " + stack_issuer().token(sub="portal:e2e", tenant=stack.tenant_id,
                                                                 roles=["patient"], rcm_patient=account)}
    statement = link.json()["statement_id"]
    paid = await stack.http.post(url("patient-billing", f"/v1/patient/balances/{statement}/payments"),
                                 json={"amount": "10.00", "reference": "e2e-sp-1"}, headers=patient)
    assert paid.status_code == 201, paid.text
    mine = await stack.http.get(url("patient-billing", f"/v1/patient/balances/{statement}"), headers=patient)
    charge = sum(Decimal(line["charge"]) for line in posted["lines"])
    assert Decimal(mine.json()["outstanding"]) == charge - Decimal("10.00")

    kpis = await stack.get("analytics", "/v1/kpis", source_system=source)
    assert kpis["claims"] == 0 and kpis["self_pay_encounters"] == 2
    assert Decimal(kpis["self_pay_charges"]) == sum(Decimal(line["charge"]) for b in (posted, published)
                                                    for line in b["lines"])


async def test_a_fhir_export_s_self_pay_visit_is_billed_to_the_patient_and_its_insured_visit_to_the_payer(stack):
    """A patient's FHIR export: one visit's Claim names a Coverage paid by the Patient, another names the focal
    payer coverage. The first becomes a patient balance, the second a claim to the payer."""
    from tests.support.fhir_exports import patient_export

    source = f"e2e-spf-{uuid.uuid4().hex[:10]}"
    bundle, expected = patient_export(2, shapes=("self_pay", "focal"), run_id=uuid.uuid4().hex[:8])
    resp = await stack.post_fhir(bundle, source)
    assert resp.status_code == 201, resp.text
    assert [i["status"] for i in resp.json()["encounters"]] == ["self_pay", "captured"]

    await stack.wait_settled(source, 2, timeout_s=90, poll_s=0.5)
    claims = {c["source_encounter_id"]: c for c in await stack.claims(source)}
    self_pay, insured = (claims[sid] for sid, _ in expected)
    assert self_pay["final_state"] == "self_pay" and insured["final_state"] != "self_pay"
    charge = sum(Decimal(str(p["resource"]["extension"][0]["valueMoney"]["value"])) for p in bundle["entry"]
                 if p["fullUrl"].startswith("urn:uuid:procedure-0-"))
    balance = await stack.get("patient-billing", f"/v1/claims/{self_pay['claim_id']}")
    assert balance["origin"] == "self_pay" and Decimal(balance["amount_due"]) == charge
    assert (await stack.http.get(url("submission", f"/v1/claims/{self_pay['claim_id']}"))).status_code == 404
    assert (await stack.http.get(url("submission", f"/v1/claims/{insured['claim_id']}"))).status_code == 200
