"""analytics in-process: every service's events through the app's own consumer handler (timeline rows and
the claim status read model) against the real PostgreSQL, and every read router (claim, timeline, claim
listing, pipeline counts, KPIs) with tenant isolation. Expected KPIs are computed by hand in the tests."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rcm_contracts.base import Event
from rcm_contracts.claim import Claim
from rcm_contracts.envelope import Envelope, new_envelope
from rcm_contracts.events import (
    ClaimAcknowledged, ClaimScrubbed, ClaimSubmitted, DenialRecorded, EncounterCaptured, PatientBalanceOpened,
    PaymentPosted,
)
from rcm_analytics.app import create_app
from rcm_analytics.db import metadata
from rcm_analytics.settings import Settings
from tests.support import claims as factory
from tests.support.api import service_api

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
D = Decimal


def claim(claim_id: uuid.UUID, *, source_system: str = "ehr-1", charge: str = "100.00") -> Claim:
    return factory.make_claim(
        claim_id=claim_id, source_system=source_system, source_encounter_id=f"enc-{claim_id.hex[:8]}",
        service_date=date(2026, 2, 27),
        patient=factory.make_patient(first_name="Zelphine", last_name="Quarrington", birth_date=date(1971, 8, 23)),
        coverage=factory.make_coverage(payer_id="SBX01", payer_name="Sandbox Health Plan", member_id="MBR7734521"),
        billing_provider=factory.make_provider("1234567893", name="Harbor Family Medicine",
                                               address=factory.make_address(line1="1 Main St",
                                                                            postal_code="021101234")),
        diagnoses=["E119"], lines=[factory.make_line(1, "99214", charge)])


def env(event: Event, tenant: str, claim_id: uuid.UUID, minutes: int) -> Envelope:
    return new_envelope(event, service=event.SERVICE, tenant_id=tenant, key=str(claim_id),
                        time=T0 + timedelta(minutes=minutes))


def posted(claim_id: uuid.UUID, *, outcome: str, allowed: str, paid: str, patient: str) -> PaymentPosted:
    return PaymentPosted(claim_id=claim_id, remittance_id=uuid.uuid4(), payer_id="SBX01",
                         payer_claim_control_number="PCCN", total_charge=D("100.00"), allowed_amount=D(allowed),
                         paid_amount=D(paid), patient_responsibility=D(patient), outcome=outcome,
                         payment_date=date(2026, 3, 20))


def submitted(claim_id: uuid.UUID) -> ClaimSubmitted:
    return ClaimSubmitted(claim_id=claim_id, payer_id="SBX01", clearinghouse="sandbox",
                          interchange_control_number="000000001", total_charge=D("100.00"), submitted_at=T0)


def life_of_paid_claim(cid: uuid.UUID, tenant: str = "tenant-a") -> list[Envelope]:
    """Captured, scrubbed clean, submitted, accepted, paid 60.00 of 90.00 allowed with 20.00 patient share."""
    c = claim(cid)
    return [env(EncounterCaptured(claim=c, intake_channel="json"), tenant, cid, 0),
            env(ClaimScrubbed(claim=c, decision="clean"), tenant, cid, 1),
            env(submitted(cid), tenant, cid, 2),
            env(ClaimAcknowledged(claim_id=cid, accepted=True, status_code="A1"), tenant, cid, 3),
            env(posted(cid, outcome="paid", allowed="90.00", paid="60.00", patient="20.00"), tenant, cid, 4),
            env(PatientBalanceOpened(claim_id=cid, statement_id=uuid.uuid4(), amount_due=D("20.00"),
                                     due_date=date(2026, 4, 19)), tenant, cid, 5)]


def life_of_denied_claim(cid: uuid.UUID, tenant: str = "tenant-a") -> list[Envelope]:
    c = claim(cid)
    return [env(EncounterCaptured(claim=c, intake_channel="fhir"), tenant, cid, 10),
            env(ClaimScrubbed(claim=c, decision="clean"), tenant, cid, 11),
            env(submitted(cid), tenant, cid, 12),
            env(ClaimAcknowledged(claim_id=cid, accepted=True, status_code="A1"), tenant, cid, 13),
            env(posted(cid, outcome="denied", allowed="0.00", paid="0.00", patient="0.00"), tenant, cid, 14),
            env(DenialRecorded(claim_id=cid, denial_id=uuid.uuid4(), payer_id="SBX01", reason_codes=["CO-197"],
                               category="authorization", work_queue="authorizations", denied_amount=D("100.00")),
                tenant, cid, 15)]


def life_of_claim_in_review(cid: uuid.UUID, tenant: str = "tenant-a", source: str = "ehr-1") -> list[Envelope]:
    c = claim(cid, source_system=source)
    return [env(EncounterCaptured(claim=c, intake_channel="hl7v2"), tenant, cid, 20),
            env(ClaimScrubbed(claim=c, decision="review"), tenant, cid, 21)]


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def test_events_of_a_claim_become_its_timeline_in_time_order_and_its_status(api):
    cid = uuid.uuid4()
    events = life_of_paid_claim(cid)
    applier = await api.consume(*reversed(events))  # arrival order is not time order
    assert applier.applied == 6 and applier.dead_lettered == 0
    resp = await api.client.get(f"/v1/claims/{cid}/timeline", headers=api.headers())
    assert resp.status_code == 200
    body = resp.json()
    assert body["claim_id"] == str(cid)
    assert [e["event_id"] for e in body["events"]] == [str(e.id) for e in events]
    assert [e["event_type"].rsplit(".", 2)[-2] for e in body["events"]] == [
        "encounter-captured", "claim-scrubbed", "claim-submitted", "claim-acknowledged", "payment-posted",
        "balance-opened"]
    assert body["events"][0]["source"] == "/rcm/charges"
    assert body["events"][4]["summary"] == {"outcome": "paid", "paid": "60.00", "patient_responsibility": "20.00",
                                            "adjustments": []}
    assert "Zelphine" not in resp.text and "Quarrington" not in resp.text  # timelines carry no patient data
    status = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    assert status["stage"] == "posted" and status["final_state"] == "patient_balance"
    assert status["tenant_id"] == "tenant-a" and status["source_system"] == "ehr-1"
    assert status["paid_amount"] == "60.00" and status["total_charge"] == "100.00"
    assert status["first_event_at"] == T0.isoformat() and status["last_event_at"] == (T0 + timedelta(minutes=5)).isoformat()
    assert await api.outbox_events() == []  # analytics only reads


async def test_events_spread_over_batches_in_any_order_give_the_same_status(api):
    cid = uuid.uuid4()
    events = life_of_denied_claim(cid)
    await api.consume(events[4], events[5])  # payment and denial before the claim is even captured
    early = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    assert early["stage"] == "posted" and early["final_state"] == "denied"
    await api.consume(*events[:4])
    status = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    assert status["stage"] == "posted" and status["final_state"] == "denied"
    assert status["denial_category"] == "authorization" and status["ack_accepted"] is True
    assert status["first_event_at"] == (T0 + timedelta(minutes=10)).isoformat()


async def test_a_redelivered_event_is_recorded_once(api):
    cid = uuid.uuid4()
    events = life_of_claim_in_review(cid)
    await api.consume(*events)
    again = await api.consume(events[1])
    twice_in_a_batch = await api.consume(events[0], events[0])
    assert again.applied == 0 and again.duplicates == 1
    assert twice_in_a_batch.applied == 0 and twice_in_a_batch.duplicates == 2
    timeline = (await api.client.get(f"/v1/claims/{cid}/timeline", headers=api.headers())).json()["events"]
    assert len(timeline) == 2
    assert await api.scalar("SELECT count(*) FROM claim_events") == 2


async def test_pipeline_counts_and_kpis_of_a_tenant(api):
    paid, denied, review, other_source = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await api.consume(*life_of_paid_claim(paid), *life_of_denied_claim(denied), *life_of_claim_in_review(review),
                      env(EncounterCaptured(claim=claim(other_source, source_system="ehr-2"), intake_channel="json"),
                          "tenant-a", other_source, 30))
    pipeline = (await api.client.get("/v1/pipeline", params={"source_system": "ehr-1"}, headers=api.headers())).json()
    assert pipeline == {"claims": 3, "by_stage": {"posted": 2, "scrubbed": 1},
                        "by_final_state": {"patient_balance": 1, "denied": 1, "review_hold": 1}, "in_flight": 0}
    everything = (await api.client.get("/v1/pipeline", headers=api.headers())).json()
    assert everything["claims"] == 4 and everything["in_flight"] == 1 and everything["by_stage"]["captured"] == 1
    kpis = (await api.client.get("/v1/kpis", params={"source_system": "ehr-1"}, headers=api.headers())).json()
    assert kpis == {
        "claims": 3,
        "clean_claim_rate": round(2 / 3, 4),  # paid and denied scrubbed clean, one in review
        "first_pass_acceptance_rate": 1.0,  # both submitted claims accepted
        "denial_rate": 0.5,  # one of two posted payments denied
        "payer_paid": "60.00",
        "patient_responsibility": "20.00",
        "payer_net_collection_rate": round(60 / (90 - 20), 4),  # paid / (allowed - patient share)
        "self_pay_encounters": 0,
        "self_pay_charges": "0.00",
    }


async def test_an_empty_tenant_has_no_rates(api):
    kpis = (await api.client.get("/v1/kpis", headers=api.headers("tenant-b"))).json()
    assert kpis == {"claims": 0, "clean_claim_rate": None, "first_pass_acceptance_rate": None, "denial_rate": None,
                    "payer_paid": "0", "patient_responsibility": "0", "payer_net_collection_rate": None,
                    "self_pay_encounters": 0, "self_pay_charges": "0.00"}
    assert (await api.client.get("/v1/pipeline", headers=api.headers("tenant-b"))).json() == {
        "claims": 0, "by_stage": {}, "by_final_state": {}, "in_flight": 0}


async def test_the_claim_listing_pages_in_order_of_first_event_and_filters_by_source(api):
    paid, denied, review, other_source = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await api.consume(*life_of_claim_in_review(review), *life_of_denied_claim(denied), *life_of_paid_claim(paid),
                      env(EncounterCaptured(claim=claim(other_source, source_system="ehr-2"), intake_channel="json"),
                          "tenant-a", other_source, 30))
    first = (await api.client.get("/v1/claims", params={"limit": 2}, headers=api.headers())).json()
    rest = (await api.client.get("/v1/claims", params={"limit": 2, "offset": 2}, headers=api.headers())).json()
    assert [i["claim_id"] for i in first["items"] + rest["items"]] == [str(paid), str(denied), str(review),
                                                                       str(other_source)]
    assert first["count"] == 2 and rest["count"] == 2
    assert [(i["stage"], i["final_state"]) for i in first["items"]] == [("posted", "patient_balance"),
                                                                         ("posted", "denied")]
    ehr2 = (await api.client.get("/v1/claims", params={"source_system": "ehr-2"}, headers=api.headers())).json()
    assert [(i["claim_id"], i["stage"], i["final_state"]) for i in ehr2["items"]] == [
        (str(other_source), "captured", None)]


async def test_another_tenant_sees_none_of_it(api):
    cid, theirs = uuid.uuid4(), uuid.uuid4()
    await api.consume(*life_of_paid_claim(cid), *life_of_claim_in_review(theirs, tenant="tenant-b"))
    b = api.headers("tenant-b")
    for path in (f"/v1/claims/{cid}", f"/v1/claims/{cid}/timeline"):
        resp = await api.client.get(path, headers=b)
        assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    listing = (await api.client.get("/v1/claims", headers=b)).json()
    assert [i["claim_id"] for i in listing["items"]] == [str(theirs)]
    assert (await api.client.get("/v1/pipeline", headers=b)).json()["claims"] == 1
    assert (await api.client.get("/v1/kpis", headers=b)).json()["payer_paid"] == "0"
    assert (await api.client.get(f"/v1/claims/{theirs}", headers=api.headers("tenant-a"))).status_code == 404


async def test_another_tenants_event_for_the_same_claim_id_does_not_change_this_tenants_claim(api):
    cid = uuid.uuid4()
    await api.consume(*life_of_paid_claim(cid))
    before = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    await api.consume(env(ClaimAcknowledged(claim_id=cid, accepted=False, status_code="R3"), "tenant-b", cid, 50))
    after = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    assert after == before
    theirs = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers("tenant-b"))).json()
    assert theirs["tenant_id"] == "tenant-b" and theirs["ack_accepted"] is False and theirs["paid_amount"] is None


async def test_two_tenants_events_for_one_claim_id_in_one_batch_make_two_rows(api):
    """One consumed batch holding both tenants' events for the same claim id: merged per (tenant, claim)
    before the multi-row upsert, so neither tenant's facts reach the other's row."""
    cid = uuid.uuid4()
    applier = await api.consume(*life_of_paid_claim(cid),
                                env(ClaimAcknowledged(claim_id=cid, accepted=False, status_code="R3"), "tenant-b",
                                    cid, 50))
    assert applier.applied == 7 and applier.dead_lettered == 0
    ours = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    theirs = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers("tenant-b"))).json()
    assert (ours["tenant_id"], ours["ack_accepted"], ours["paid_amount"], ours["final_state"]) == (
        "tenant-a", True, "60.00", "patient_balance")
    assert (theirs["tenant_id"], theirs["ack_accepted"], theirs["paid_amount"]) == ("tenant-b", False, None)
    their_timeline = (await api.client.get(f"/v1/claims/{cid}/timeline", headers=api.headers("tenant-b"))).json()
    assert [e["event_type"].rsplit(".", 2)[-2] for e in their_timeline["events"]] == ["claim-acknowledged"]


async def test_unknown_claims_answer_404(api):
    for path in (f"/v1/claims/{uuid.uuid4()}", f"/v1/claims/{uuid.uuid4()}/timeline"):
        resp = await api.client.get(path, headers=api.headers())
        assert resp.status_code == 404 and resp.json()["code"] == "not_found"


async def test_bad_query_and_path_values_answer_422_naming_the_field(api):
    for params in ({"limit": 0}, {"limit": 20001}, {"offset": -1}):
        resp = await api.client.get("/v1/claims", params=params, headers=api.headers())
        assert resp.status_code == 422
        assert [e["field"] for e in resp.json()["errors"]] == [f"query.{next(iter(params))}"]
    for path in ("/v1/claims/MBR7734521", "/v1/claims/MBR7734521/timeline"):
        resp = await api.client.get(path, headers=api.headers())
        assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["path.claim_id"]
        assert "MBR7734521" not in resp.text


async def test_without_an_api_key_the_answer_is_401(api):
    for path in (f"/v1/claims/{uuid.uuid4()}", f"/v1/claims/{uuid.uuid4()}/timeline", "/v1/claims", "/v1/pipeline",
                 "/v1/kpis"):
        assert (await api.client.get(path)).status_code == 401


async def test_a_secondary_claims_events_join_its_primarys_timeline_without_changing_its_status(api):
    """Submission keys a secondary claim's events by its primary claim: they are on the primary's timeline, and
    a rejection of the secondary claim does not turn the primary's accepted acknowledgment into a rejection."""
    cid, secondary = uuid.uuid4(), uuid.uuid4()
    await api.consume(*life_of_paid_claim(cid))
    later = [env(submitted(secondary).model_copy(update={"primary_claim_id": cid, "payer_responsibility": "S",
                                                         "payer_id": "SBX02"}), "tenant-a", cid, 6),
             env(ClaimAcknowledged(claim_id=secondary, accepted=False, status_code="A7:21"), "tenant-a", cid, 7)]
    applier = await api.consume(*later)
    assert applier.applied == 2 and applier.dead_lettered == 0
    body = (await api.client.get(f"/v1/claims/{cid}/timeline", headers=api.headers())).json()
    assert [e["event_type"].rsplit(".", 2)[-2] for e in body["events"]][-2:] == ["claim-submitted", "claim-acknowledged"]
    assert body["events"][-2]["summary"]["payer_responsibility"] == "S"
    status = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    assert status["ack_accepted"] is True and status["final_state"] == "patient_balance"
    assert (await api.client.get(f"/v1/claims/{secondary}", headers=api.headers())).status_code == 404


async def test_a_denial_patterns_rule_recommendation_is_not_a_claim(api):
    """DenialRuleRecommended is keyed by the recommendation (a UUID, like a claim id): it must make no claim row."""
    from rcm_contracts.events import DenialRuleRecommended, SuggestedRule

    rec = DenialRuleRecommended(
        recommendation_id=uuid.uuid4(), payer_id="SBX01", procedure_code="97810", carc="CO-96", count=6, threshold=5,
        window_start=date(2026, 2, 1), window_end=date(2026, 3, 2), denied_amount=D("510.00"),
        suggested_rule=SuggestedRule(id="DNL-SBX01-97810-CO-96", procedure_codes=["97810"], message="pattern"))
    envelope = new_envelope(rec, service="denials", tenant_id="tenant-a", key=str(rec.recommendation_id),
                            subject=f"denial-pattern/{rec.recommendation_id}")
    applier = await api.consume(envelope)
    assert applier.dead_lettered == 0
    assert await api.scalar("SELECT count(*) FROM claim_status") == 0
    assert await api.scalar("SELECT count(*) FROM claim_events") == 0
