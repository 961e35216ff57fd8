"""The cross-tenant sweep: every read and write operation of every service, called with another tenant's token
(tenant B's admin, who holds every permission of B) at what tenant A made, answers 403/404 (a read may answer an
empty result) and changes nothing of A's (tests/support/sweep.py says exactly what is checked).

Operations come from each service's own OpenAPI, so a new route is swept as soon as it exists: an operation
without a recipe below fails the test, naming it. Each service's app runs in-process once (tests/support/fuzz.py
`target_api`: its create_app on the real PostgreSQL, with its peers), tenant A's resources are made through its
API or its consumed events (`seed`), then every recipe runs against them."""

from __future__ import annotations

import asyncio

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from rcm_contracts.events import (Adjustment, ClaimCoded, ClaimCorrection, ClaimResubmissionRequested,
                                  CoverageVerified, DenialRuleRecommended, EligibilityResult, EncounterCaptured,
                                  PaymentPosted, SuggestedRule)
from rcm_submission.service import Submission
from tests.cross_service.test_eligibility_api import appointment, captured, check, registration
from tests.cross_service.test_submission_api import claims as scrubbed_claims, queue
from tests.support import claims as factory, era835
from tests.support.api import ServiceApi, bearer
from tests.support.encounters import generate, to_fhir_bundle, to_hl7_dft
from tests.support.fuzz import TARGETS, Target, target_api
from tests.support.sweep import A, Expect, Recipe, Seed, of_a, operations, own, sweep_operation

pytestmark = pytest.mark.integration

DEAD_LETTER = {"dead_letter_id": "{dead_letter_id}"}
COMMON = {  # every service's health probes, audit trail and dead-letter ops routes
    ("GET", "/healthz"): own(),
    ("GET", "/readyz"): own(),
    # B's auditor view: B's own trail (its refused tries at A's ids included), never A's rows or chain
    ("GET", "/v1/audit"): own(query={"limit": "1000"}),
    ("GET", "/v1/audit/verify"): own(),
    ("GET", "/v1/ops/dead-letters/summary"): Recipe(Expect.OPERATOR),
    ("GET", "/v1/ops/dead-letters"): Recipe(Expect.OPERATOR),
    ("POST", "/v1/ops/dead-letters/redrive"): Recipe(Expect.OPERATOR, json={"id": "{dead_letter_id}"}),
    ("POST", "/v1/ops/dead-letters/{dead_letter_id}/resolve"): Recipe(Expect.OPERATOR, params=DEAD_LETTER),
}
CLAIM = {"claim_id": "{claim_id}"}


async def _dead_letter(api: ServiceApi) -> str:
    """A's open dead letter (the consumer writes these; no API makes one)."""
    async with api.engine.begin() as conn:
        return str((await conn.execute(text(
            "INSERT INTO dead_letters (topic, partition, \"offset\", tenant_id, event_type, reason) "
            "VALUES ('sweep', 0, 0, :t, 'sweep.seed', 'seeded by the sweep') RETURNING id"), {"t": A})).scalar())


def _posted(claim_id: uuid.UUID, *, outcome: str = "paid", patient: str = "20.00", denied: str = "0.00") -> PaymentPosted:
    pr, co = Decimal(patient), Decimal(denied)
    adjustments = [Adjustment(group_code="PR", reason_code="2", amount=pr)] if pr else []
    if co:
        adjustments.append(Adjustment(group_code="CO", reason_code="96", amount=co))
    return PaymentPosted(claim_id=claim_id, remittance_id=uuid.uuid4(), payer_id="SBX01",
                         payer_claim_control_number="PCCN-SWEEP", total_charge=Decimal("100.00"),
                         allowed_amount=Decimal("100.00") - co, paid_amount=Decimal("100.00") - pr - co,
                         patient_responsibility=pr, adjustments=adjustments, outcome=outcome,
                         payment_date=date(2026, 11, 2))


# ---------------------------------------------------------------- charges
ENCOUNTER = generate(1, seed=41, scenarios=["no_diagnosis"], run_id="sweep")[0].body  # held: completeness review
PROFILE = {"npi": "1245319599", "name": "Sweep Practice A", "tax_id": "123456789",
           "address": {"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "021081234"}}
LINE = [{"line_number": 9, "procedure_code": "36415", "charge": "20.00", "units": 1}]


async def seed_charges(api: ServiceApi) -> dict[str, str]:
    h = api.headers(A)
    held = await api.client.post("/v1/encounters", json=ENCOUNTER, headers=h)
    assert held.status_code == 201 and held.json()["status"] == "held", held.text
    for method, path, kw in (("PUT", "/v1/provider-profiles/1245319599", {"json": PROFILE}),
                             ("PUT", "/v1/settings/default-billing-provider", {"json": PROFILE}),
                             ("PUT", "/v1/payers/SBX01", {"json": {"name": "Sweep Payer A", "aliases": ["A's"]}}),
                             ("POST", "/v1/chargemaster", {"content": b"code,modifier,price,effective_from,"
                                                                      b"effective_to\n99213,,111.00,2020-01-01,\n",
                                                           "headers": {**h, "content-type": "text/csv"}})):
        resp = await api.client.request(method, path, **{"headers": h, **kw})
        assert resp.status_code < 300, (path, resp.text)
    return {"claim_id": held.json()["claim_id"]}


CHARGES = {
    # A's very encounter, resent by B in each format: B's own claim, never A's claim id as a "duplicate"
    ("POST", "/v1/encounters"): own(json=ENCOUNTER),
    ("POST", "/v1/encounters/fhir"): own(json=to_fhir_bundle(ENCOUNTER)),
    ("POST", "/v1/encounters/hl7v2"): own(content=to_hl7_dft(ENCOUNTER), content_type="x-application/hl7-v2+er7"),
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/encounters"): own(query={"status": "held"}),
    ("PATCH", "/v1/encounters/{claim_id}"): of_a(params=CLAIM, json={"diagnoses": ["J069"]}),
    ("POST", "/v1/encounters/{claim_id}/lines"): of_a(params=CLAIM, json=LINE),
    ("GET", "/v1/encounters/{claim_id}/audit"): of_a(params=CLAIM),
    ("POST", "/v1/chargemaster"): own(content="code,modifier,price,effective_from,effective_to\n99213,,1.00,2020-01-01,\n",
                                      content_type="text/csv", query={"replace": "true"}),
    ("GET", "/v1/chargemaster"): own(query={"code": "99213"}),
    ("PUT", "/v1/settings/default-billing-provider"): own(json={**PROFILE, "name": "Sweep Practice B"}),
    ("GET", "/v1/settings/default-billing-provider"): own(),
    ("DELETE", "/v1/settings/default-billing-provider"): own(),
    ("PUT", "/v1/provider-profiles/{npi}"): own(params={"npi": "1245319599"}, json={**PROFILE, "name": "B"}),
    ("GET", "/v1/provider-profiles"): own(),
    ("PUT", "/v1/payers/{payer_id}"): own(params={"payer_id": "SBX01"}, json={"name": "Sweep Payer B"}),
    ("GET", "/v1/payers"): own(),
    ("DELETE", "/v1/payers/{payer_id}"): own(params={"payer_id": "SBX01"}),
}


# ---------------------------------------------------------------- eligibility
async def seed_eligibility(api: ServiceApi) -> dict[str, str]:
    h = api.headers(A)
    assert (await api.client.put("/v1/patients/MRN-SWEEP", json=registration("COPAY1001"), headers=h)).status_code == 200
    pre = await api.client.post("/v1/appointments", json=appointment("APT-SWEEP", "MRN-SWEEP"), headers=h)
    assert pre.status_code == 200, pre.text
    rule = await api.client.put("/v1/payers/SBX01/member-id-rule", json={"pattern": "^[A-Z0-9]{4,20}$"}, headers=h)
    assert rule.status_code == 200, rule.text
    held = captured("COPAY1001", "72148")  # imaging without prior authorization: held for it
    assert (await api.consume((held, A, held.claim.claim_id))).applied == 1
    return {"claim_id": str(held.claim.claim_id)}


FHIR_APPOINTMENT = {"resourceType": "Appointment", "status": "booked", "identifier": [{"value": "APT-SWEEP"}],
                    "start": "2026-03-10T09:00:00-04:00",
                    "participant": [{"actor": {"reference": "Patient/MRN-SWEEP"}, "status": "accepted"},
                                    {"actor": {"type": "Practitioner",
                                               "identifier": {"system": "http://hl7.org/fhir/sid/us-npi",
                                                              "value": "1234567893"}}, "status": "accepted"}]}
ELIGIBILITY = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/work-queue"): own(),
    ("POST", "/v1/claims/{claim_id}/authorization"): of_a(params=CLAIM, json={"authorization_number": "AUTH-B"}),
    ("POST", "/v1/claims/{claim_id}/recheck"): of_a(params=CLAIM, json={"member_id": "COPAY1002"}),
    ("POST", "/v1/eligibility-checks"): own(json=check("COPAY1001")),
    ("POST", "/v1/eligibility-checks/batch"): own(json={"checks": [check("COPAY1001")]}),
    ("POST", "/v1/registrations/validate"): own(json=registration("COPAY1001")),
    ("PUT", "/v1/patients/{patient_id}"): own(params={"patient_id": "MRN-SWEEP"}, json=registration("HDHP2001")),
    ("POST", "/v1/appointments"): own(json=appointment("APT-SWEEP", "MRN-SWEEP")),
    ("GET", "/v1/appointments"): own(),
    ("POST", "/v1/appointments/fhir"): own(json=FHIR_APPOINTMENT),
    ("PUT", "/v1/payers/{payer_id}/member-id-rule"): own(params={"payer_id": "SBX01"}, json={"pattern": "^B.*$"}),
    ("DELETE", "/v1/payers/{payer_id}/member-id-rule"): own(params={"payer_id": "SBX01"}),
    ("GET", "/v1/member-id-rules"): own(),
}


# ---------------------------------------------------------------- coding
async def seed_coding(api: ServiceApi) -> dict[str, str]:
    claim = factory.make_claim(diagnoses=["ZZZ9"], lines=[factory.make_line(1, "99213", "100.00")])  # coder queue
    event = CoverageVerified(claim=claim, eligibility=EligibilityResult(
        status="active", checked_at=datetime(2026, 9, 2, tzinfo=timezone.utc), payer_id="SBX01"))
    assert (await api.consume((event, A, claim.claim_id))).applied == 1
    claim_id = str(claim.claim_id)
    resp = await api.client.post(f"/v1/claims/{claim_id}/assignment", json={"coder": "dana"}, headers=api.headers(A))
    assert resp.status_code == 200, resp.text  # an audit row of A's
    return {"claim_id": claim_id}


CODING = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/coder-queue"): own(),
    ("POST", "/v1/claims/{claim_id}/assignment"): of_a(params=CLAIM, json={"coder": "mallory"}),
    ("POST", "/v1/claims/{claim_id}/coding"): of_a(params=CLAIM, json={"diagnoses": ["J069"]}),
    ("GET", "/v1/claims/{claim_id}/audit"): of_a(params=CLAIM),
    ("GET", "/v1/reference-data"): own(),
}


# ---------------------------------------------------------------- scrubber
async def seed_scrubber(api: ServiceApi) -> dict[str, str]:
    claim = factory.make_claim(billing_provider=factory.make_provider("1234567890"))  # bad NPI check digit: review
    assert (await api.consume((ClaimCoded(claim=claim, status="coded"), A, claim.claim_id))).applied == 1
    h = api.headers(A)
    resp = await api.client.post(f"/v1/claims/{claim.claim_id}/hold", json={"note": "A's note"}, headers=h)
    assert resp.status_code == 200, resp.text
    rules = await api.client.post("/v1/rule-sets", json=RULE_SET, headers=h)
    assert rules.status_code == 201, rules.text
    proposal = DenialRuleRecommended(  # A's proposed rule from a denial pattern (denials' event)
        recommendation_id=uuid.uuid4(), payer_id="SBX01", procedure_code="97810", carc="CO-96", count=6, threshold=5,
        window_start=date(2026, 10, 13), window_end=date(2026, 11, 11), denied_amount=Decimal("510.00"),
        suggested_rule=SuggestedRule(id="DNL-SBX01-97810-CO-96", procedure_codes=["97810"], message="A's pattern"))
    assert (await api.consume((proposal, A, proposal.recommendation_id))).applied == 1
    resubmission = ClaimResubmissionRequested(  # A's request from denial work, for a claim A never had: refused
        request_id=uuid.uuid4(), denial_id=uuid.uuid4(), claim_id=uuid.uuid4(), kind="corrected",
        original_claim_number="A-PCCN", correction=ClaimCorrection(prior_authorization="A-AUTH"))
    assert (await api.consume((resubmission, A, resubmission.claim_id))).applied == 1
    return {"claim_id": str(claim.claim_id), "proposal_id": str(proposal.recommendation_id)}


PROPOSAL = {"proposal_id": "{proposal_id}"}
RULE_SET = {"payer_id": "SBX01", "version": 1, "effective_from": "2026-01-01", "edits": {}, "custom_rules": []}
SCRUBBER = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("PATCH", "/v1/claims/{claim_id}"): of_a(params=CLAIM, json={"billing_provider": {"npi": "1234567893",
                                                                                        "name": "B"}}),
    ("GET", "/v1/review-queue"): own(query={"decision": "held"}),
    ("POST", "/v1/claims/{claim_id}/rescrub"): of_a(params=CLAIM),
    ("POST", "/v1/claims/{claim_id}/hold"): of_a(params=CLAIM, json={"note": "B"}),
    ("POST", "/v1/claims/{claim_id}/release"): of_a(params=CLAIM, json={"note": "B"}),
    ("GET", "/v1/claims/{claim_id}/audit"): of_a(params=CLAIM),
    ("GET", "/v1/edit-catalog"): own(),
    ("POST", "/v1/rule-sets"): own(json=RULE_SET),  # the same version for B's own rules
    ("GET", "/v1/rule-sets"): own(),
    ("GET", "/v1/rule-sets/effective"): own(query={"payer_id": "SBX01"}),
    ("GET", "/v1/rule-proposals"): own(query={"status": "proposed"}),
    ("GET", "/v1/resubmissions"): own(),
    ("POST", "/v1/rule-proposals/{proposal_id}/approve"): of_a(params=PROPOSAL, json={"note": "B"}),
    ("POST", "/v1/rule-proposals/{proposal_id}/dismiss"): of_a(params=PROPOSAL, json={"note": "B"}),
}


# ---------------------------------------------------------------- submission
async def seed_submission(api: ServiceApi) -> dict[str, str]:
    [claim] = scrubbed_claims(1, seed=43)
    await queue(api, claim, tenant=A)
    # sent: an interchange of A's, dispatched here or by the app's own dispatcher loop if it took the claim first
    for _ in range(100):
        await api.app.state.runtime.services[Submission].dispatch_once()
        icn = await api.scalar("SELECT interchange_control_number FROM submissions WHERE claim_id = :c",
                               c=claim.claim_id)
        if icn:
            break
        await asyncio.sleep(0.1)
    assert icn, "the seeded claim was not sent"
    resp = await api.client.put("/v1/routes/SBX01", json={"clearinghouse": "box"}, headers=api.headers(A))
    assert resp.status_code == 200, resp.text
    return {"claim_id": str(claim.claim_id), "icn": str(icn)}


SUBMISSION = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/submissions"): own(),
    ("GET", "/v1/interchanges/{icn}"): of_a(params={"icn": "{icn}"}),
    ("GET", "/v1/acceptance"): own(),
    ("POST", "/v1/acknowledgments"): Recipe(Expect.OPERATOR, query={"clearinghouse": "box"},
                                            content="ISA*00*", content_type="application/edi-x12"),
    ("GET", "/v1/acknowledgments"): Recipe(Expect.OPERATOR),
    ("PUT", "/v1/routes/{payer_id}"): own(params={"payer_id": "SBX01"}, json={"clearinghouse": "box"}),
    ("DELETE", "/v1/routes/{payer_id}"): own(params={"payer_id": "SBX01"}),
    ("GET", "/v1/routes"): own(),
    ("POST", "/v1/claims/{claim_id}/corrections"): of_a(params=CLAIM, json={"frequency_code": "8", "note": "B"}),
    ("POST", "/v1/claims/{claim_id}/secondary"): of_a(params=CLAIM, json={"coverage": {
        "payer_id": "SBX03", "payer_name": "Sandbox Supplement", "member_id": "SUP1001"}}),
    ("GET", "/v1/claims/{claim_id}/audit"): of_a(params=CLAIM),
}


# ---------------------------------------------------------------- remittance
def _era(claim_id: str, trace: str) -> dict:
    return {"payer_id": "SANDBOX1", "payment_date": "2026-11-02", "trace_number": trace,
            "claims": [{"claim_id": claim_id, "payer_claim_control_number": "PCN-SWEEP", "total_charge": "100.00",
                        "allowed_amount": "100.00", "paid_amount": "80.00", "patient_responsibility": "20.00",
                        "adjustments": [{"group_code": "PR", "reason_code": "2", "amount": "20.00"}]}]}


FEE_TABLE = "code,modifier,amount,effective_from,effective_to\n99213,,100.00,2020-01-01,\n"
DEPOSITS = "date,amount,trace\n2026-11-03,80.00,TRN-SWEEP\n"


PAYING_835 = era835.era(era835.check([era835.clp("PCN-SWEEP", "100.00", "80.00", patient="20.00",
                                                   cas=[("PR", "2", "20.00")])], trace="TRN-835-SWEEP"))


async def seed_remittance(api: ServiceApi) -> dict[str, str]:
    h = api.headers(A)
    submitted = await era835.submit_claim(api, "PCN-SWEEP", A)  # A's claim, paid by an 835: a ledger of A's
    paid = await api.client.post("/v1/remittances/x12", content=PAYING_835.encode(),
                                 headers={**h, "content-type": "application/edi-x12"})
    assert paid.status_code in (200, 201) and paid.json()["status"] == "posted", paid.text
    claim_id = str(uuid.uuid4())  # never submitted: the payment waits in the unmatched queue
    posted = await api.client.post("/v1/remittances", json=_era(claim_id, "TRN-SWEEP"), headers=h)
    assert posted.status_code in (200, 201), posted.text
    file_id = posted.json()["file_id"]
    unmatched = await api.scalar("SELECT id FROM unmatched_payments WHERE tenant_id = :t", t=A)
    assert unmatched is not None, "the seeded payment is not in the unmatched queue"
    contract = await api.client.put("/v1/payers/SANDBOX1/contract", json={"fee_table": FEE_TABLE}, headers=h)
    assert contract.status_code == 200, contract.text
    deposit = await api.client.post("/v1/deposits", content=DEPOSITS.encode(),
                                    headers={**h, "content-type": "text/csv"})
    assert deposit.status_code < 300, deposit.text
    return {"claim_id": claim_id, "paid_claim_id": str(submitted), "file_id": file_id,
            "unmatched_id": str(unmatched)}


REMITTANCE = {
    ("POST", "/v1/remittances"): own(json=_era("{claim_id}", "TRN-SWEEP")),  # A's very ERA, by B
    ("GET", "/v1/remittances"): own(),
    # A's very 835, by B: B submitted no such claim, so its payment waits in B's unmatched queue
    ("POST", "/v1/remittances/x12"): own(content=PAYING_835, content_type="application/edi-x12"),
    ("GET", "/v1/remittances/{file_id}"): of_a(params={"file_id": "{file_id}"}),
    ("POST", "/v1/remittances/{file_id}/release"): of_a(params={"file_id": "{file_id}"}, json={"reason": "B"}),
    ("POST", "/v1/remittances/{file_id}/reject"): of_a(params={"file_id": "{file_id}"}, json={"reason": "B"}),
    ("GET", "/v1/claims/{claim_id}/ledger"): of_a(params={"claim_id": "{paid_claim_id}"}),
    ("GET", "/v1/unmatched-payments"): own(),
    ("POST", "/v1/unmatched-payments/{unmatched_id}/match"): of_a(params={"unmatched_id": "{unmatched_id}"},
                                                                   json={"claim_id": "{claim_id}"}),
    ("POST", "/v1/unmatched-payments/{unmatched_id}/return"): of_a(params={"unmatched_id": "{unmatched_id}"},
                                                                    json={"reason": "B"}),
    ("POST", "/v1/deposits"): own(content=DEPOSITS, content_type="text/csv"),
    ("GET", "/v1/deposits/reassociation"): own(),
    ("PUT", "/v1/payers/{payer_id}/contract"): own(params={"payer_id": "SANDBOX1"}, json={"fee_table": FEE_TABLE}),
    ("GET", "/v1/payers/{payer_id}/contract"): own(params={"payer_id": "SANDBOX1"}),
    ("GET", "/v1/claims/{claim_id}/underpayments"): of_a(params={"claim_id": "{paid_claim_id}"}),
    ("GET", "/v1/claims/{claim_id}"): of_a(params={"claim_id": "{paid_claim_id}"}),
    ("GET", "/v1/payments"): own(),
}


# ---------------------------------------------------------------- denials, patient-billing, analytics
async def seed_payments(api: ServiceApi) -> dict[str, str]:
    """A's claim paid with a patient share and a denied line: a balance, a denial and a timeline of A's."""
    claim = factory.make_claim()
    event = _posted(claim.claim_id, outcome="partially_paid", patient="20.00", denied="30.00")
    applied = await api.consume((EncounterCaptured(claim=claim, intake_channel="json"), A, claim.claim_id),
                                (event, A, claim.claim_id))
    assert applied.applied >= 1 and not applied.dead_lettered
    return {"claim_id": str(claim.claim_id)}


async def seed_patient_billing(api: ServiceApi) -> dict[str, str]:
    """A's balance, linked to A's patient account ACC-SWEEP, with a payment of that patient's."""
    ids = await seed_payments(api)
    linked = await api.client.put(f"/v1/claims/{ids['claim_id']}/patient-account",
                                  json={"patient_account": "ACC-SWEEP"}, headers=api.headers(A))
    assert linked.status_code == 200, linked.text
    statement = linked.json()["statement_id"]
    paid = await api.client.post(f"/v1/patient/balances/{statement}/payments", json={"amount": "1.00", "reference": "r1"},
                                 headers=bearer(A, user="portal:a", roles=["patient"], rcm_patient="ACC-SWEEP"))
    assert paid.status_code == 201, paid.text
    plan = await api.client.put("/v1/patient-accounts/ACC-SWEEP/payment-plan", json=PLAN, headers=api.headers(A))
    assert plan.status_code == 200, plan.text
    discount = await api.client.put("/v1/settings/self-pay-discount", json={"discount_percent": "20"},
                                    headers=api.headers(A))
    assert discount.status_code == 200, discount.text
    return {**ids, "statement_id": statement}


# B's patient whose account id is the same as A's patient's
AS_B_PATIENT = {"patient_account": "ACC-SWEEP"}
PLAN = {"installment": "25.00", "day_of_month": 10, "starts_on": "2026-01-01"}
async def seed_denials(api: ServiceApi) -> dict[str, str]:
    """A's denial item (from seed_payments' denied line) and payment facts, A's deadlines for payer SBX01, A's
    settings and A's own denial-pattern threshold."""
    ids = await seed_payments(api)
    denial_id = await api.scalar("SELECT denial_id FROM denials WHERE tenant_id = :t", t=A)
    assert denial_id is not None
    put = await api.client.put("/v1/payer-deadlines/SBX01", json={"appeal_days": 30, "timely_filing_days": 90},
                               headers=api.headers(A))
    assert put.status_code == 200, put.text
    settings = await api.client.put("/v1/denial-settings", json={"appeal_days": 60, "timely_filing_days": 180,
                                                                 "write_off_approval_above": "50.00"},
                                    headers=api.headers(A))
    assert settings.status_code == 200, settings.text
    threshold = await api.client.put("/v1/settings/denial-rule-threshold", json={"rule_threshold": 7},
                                     headers=api.headers(A))
    assert threshold.status_code == 200, threshold.text
    template = await api.client.put("/v1/appeal-templates", json={"arguments": {"coding": "A's {payer_name}"}},
                                    headers=api.headers(A))
    assert template.status_code == 200, template.text
    return {**ids, "denial_id": str(denial_id)}


DENIAL = {"denial_id": "{denial_id}"}
DENIALS = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/denials"): own(),
    ("GET", "/v1/denials/{denial_id}"): of_a(params=DENIAL),
    ("POST", "/v1/denials/{denial_id}/assign"): of_a(params=DENIAL, json={"owner": "b.person"}),
    ("POST", "/v1/denials/{denial_id}/appeal"): of_a(params=DENIAL, json={"sent_on": "2026-11-10", "method": "mail"}),
    ("POST", "/v1/denials/{denial_id}/appeal/answer"): of_a(params=DENIAL, json={"answer": "upheld"}),
    ("POST", "/v1/denials/{denial_id}/write-off"): of_a(params=DENIAL, json={"reason_code": "B", "amount": "1.00"}),
    ("POST", "/v1/denials/{denial_id}/write-off/approve"): of_a(params=DENIAL),
    ("POST", "/v1/denials/{denial_id}/rebill"): of_a(params=DENIAL, json={"coverage": {
        "payer_id": "B-PAYER", "payer_name": "B Plan", "member_id": "B-1"}}),
    ("POST", "/v1/denials/{denial_id}/corrected"): of_a(params=DENIAL),
    # B's own deadlines for the payer A has a row for, and B's own settings: never A's
    ("PUT", "/v1/payer-deadlines/{payer_id}"): own(params={"payer_id": "SBX01"},
                                                   json={"appeal_days": 5, "timely_filing_days": 5}),
    ("GET", "/v1/payer-deadlines/{payer_id}"): own(params={"payer_id": "SBX01"}),
    ("PUT", "/v1/denial-settings"): own(json={"appeal_days": 5, "timely_filing_days": 5,
                                              "write_off_approval_above": "1.00"}),
    ("GET", "/v1/denial-settings"): own(),
    ("GET", "/v1/denials/trends"): own(query={"group_by": "payer"}),  # B's rates: none of A's payments
    ("GET", "/v1/settings/denial-rule-threshold"): own(),
    ("PUT", "/v1/settings/denial-rule-threshold"): own(json={"rule_threshold": 3}),  # B's own threshold
    ("POST", "/v1/denials/{denial_id}/appeal-packet"): of_a(params=DENIAL, json={"practice": {
        "name": "B", "npi": "1234567893", "address": {"lines": ["1 B St"], "city": "B", "state": "MA",
                                                       "postal_code": "02110"}}}),
    ("GET", "/v1/appeal-templates"): own(),  # B's own (none): never A's argument
    ("PUT", "/v1/appeal-templates"): own(json={"arguments": {"coding": "B's {payer_name}"}}),
}
PATIENT_BILLING = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/balances"): own(),
    ("PUT", "/v1/claims/{claim_id}/patient-account"): of_a(params=CLAIM, json={"patient_account": "ACC-B"}),
    ("GET", "/v1/patient/balances"): own(**AS_B_PATIENT),
    ("GET", "/v1/patient/balances/{statement_id}"): of_a(params={"statement_id": "{statement_id}"}, **AS_B_PATIENT),
    ("POST", "/v1/patient/balances/{statement_id}/payments"): of_a(
        params={"statement_id": "{statement_id}"}, json={"amount": "1.00", "reference": "r1"}, **AS_B_PATIENT),
    # B's plan for an account with the same id as A's patient's; B's patient reading its (absent) plan
    ("PUT", "/v1/patient-accounts/{patient_account}/payment-plan"): own(params={"patient_account": "ACC-SWEEP"},
                                                                        json={**PLAN, "installment": "5.00"}),
    ("GET", "/v1/patient/payment-plan"): own(**AS_B_PATIENT),
    # B's own self-pay discount (A has one: seed_patient_billing); B never reads or changes A's
    ("PUT", "/v1/settings/self-pay-discount"): own(json={"discount_percent": "5"}),
    ("GET", "/v1/settings/self-pay-discount"): own(),
}
ANALYTICS = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/claims/{claim_id}/timeline"): of_a(params=CLAIM),
    ("GET", "/v1/claims"): own(),
    ("GET", "/v1/pipeline"): own(),
    ("GET", "/v1/kpis"): own(),
}


# ---------------------------------------------------------------- sandbox (the payer's claim listing only)
async def seed_sandbox(api: ServiceApi) -> dict[str, str]:
    """A claim the payer received for A (X12 837 arrives by the submitter key, with no token; stored directly)."""
    claim_id = uuid.uuid4()
    async with api.engine.begin() as conn:
        await conn.execute(text(
            "INSERT INTO payer_claims (claim_id, tenant_id, payer_id, payer_claim_control_number, "
            "interchange_control_number, status, claim) VALUES (:c, :t, 'SBX01', :p, '000000001', 'received', "
            "CAST(:j AS jsonb))"), {"c": claim_id, "t": A, "p": f"P{claim_id.hex[:12]}", "j": json.dumps({})})
    return {"claim_id": str(claim_id)}


SUBMITTER_KEY = "the sandbox's clearinghouse and payer X12 routes take the submitter key, not a tenant's token"
SANDBOX = {
    ("GET", "/v1/claims/{claim_id}"): of_a(params=CLAIM),
    ("GET", "/v1/payer-claims"): own(),
    # the clearinghouse's mailbox and the payer's 270: a tenant's token is no credential there (401)
    ("POST", "/v1/x12/inbound"): Recipe(Expect.OPERATOR, content="ISA*00*", content_type="application/edi-x12"),
    ("GET", "/v1/x12/outbound"): Recipe(Expect.OPERATOR),
    ("DELETE", "/v1/x12/outbound/{file_id}"): Recipe(Expect.OPERATOR, params={"file_id": "1"}),
    ("POST", "/v1/eligibility"): Recipe(Expect.OPERATOR, content="ISA*00*", content_type="application/edi-x12"),
}


@dataclass(frozen=True)
class Swept:
    target: Target
    seed: Seed
    recipes: dict[tuple[str, str], Recipe]


_SANDBOX_TARGET = Target("sandbox", "rcm_sandbox")
_BY_NAME = {t.name: t for t in (*TARGETS, _SANDBOX_TARGET)}
SWEEPS = [Swept(_BY_NAME[name], seed, recipes) for name, seed, recipes in (
    ("charges", seed_charges, CHARGES), ("eligibility", seed_eligibility, ELIGIBILITY),
    ("coding", seed_coding, CODING), ("scrubber", seed_scrubber, SCRUBBER),
    ("submission", seed_submission, SUBMISSION), ("remittance", seed_remittance, REMITTANCE),
    ("denials", seed_denials, DENIALS), ("patient-billing", seed_patient_billing, PATIENT_BILLING),
    ("analytics", seed_payments, ANALYTICS), ("sandbox", seed_sandbox, SANDBOX))]


def test_every_service_is_swept():
    from tests.test_architecture import SERVICES
    assert {s.target.name for s in SWEEPS} == set(SERVICES)


@pytest.mark.parametrize("swept", SWEEPS, ids=[s.target.name for s in SWEEPS])
async def test_another_tenants_token_reaches_nothing_of_tenant_a(swept: Swept):
    overrides: dict[str, Any] = {"loops_enabled": False} if swept.target.name == "sandbox" else {}
    async with target_api(swept.target, **overrides) as api:
        recipes = {**COMMON, **swept.recipes}
        published = operations(api)
        missing = sorted(f"{m} {p}" for m, p in published if (m, p) not in recipes)
        assert not missing, f"{swept.target.name}: operations with no sweep recipe (add one): {missing}"
        ids = {**await swept.seed(api), "dead_letter_id": await _dead_letter(api)}
        findings, named = [], set()
        for method, path in published:
            findings += await sweep_operation(api, f"{method} {path}", method, path, recipes[(method, path)], ids,
                                              named)
        stale = sorted(f"{m} {p}" for m, p in swept.recipes if (m, p) not in published)
    assert not stale, f"recipes for operations the service no longer has: {stale}"
    assert not findings, f"{swept.target.name}: tenant B reached tenant A's data:\n" + "\n".join(map(str, findings))


async def test_the_sweep_reports_a_route_that_leaks_tenant_a_or_changes_its_rows():
    """The checks themselves: routes that forget the tenant (read as the superuser) are reported."""
    async with target_api(_BY_NAME["denials"]) as api:
        ids = await seed_payments(api)

        async def leak() -> dict:
            async with api.engine.connect() as conn:
                return {"keys": [r[0] for r in await conn.execute(text("SELECT key FROM outbox"))]}

        async def tamper(claim_id: uuid.UUID) -> dict:
            async with api.engine.begin() as conn:
                await conn.execute(text("UPDATE outbox SET key = key || '-x' WHERE key = :k"), {"k": str(claim_id)})
            return {"done": True}

        api.app.add_api_route("/v1/leak", leak, methods=["GET"])
        api.app.add_api_route("/v1/tamper/{claim_id}", tamper, methods=["POST"])
        leaked = await sweep_operation(api, "GET /v1/leak", "GET", "/v1/leak", own(), ids, set())
        tampered = await sweep_operation(api, "POST /v1/tamper", "POST", "/v1/tamper/{claim_id}", of_a(params=CLAIM),
                                         ids, set())
        clean = await sweep_operation(api, "GET /v1/denials", "GET", "/v1/denials", own(), ids, set())
    assert [f.problem.split(" [")[0] for f in leaked] == ["the response carries A's ids"]
    assert sorted(f.problem.split(":")[0] for f in tampered) == [
        "answered 200 at A's resource (expected 403 or 404)", "changed tenant A's rows in ['outbox']"]
    assert clean == []
