"""eligibility's routers and consumer handlers in-process (its own create_app, httpx ASGI transport) against the
real PostgreSQL, with the sandbox service's own app in-process as the payer (it answers 270s from its member
fixtures: member ids starting HDHP have a 1500.00 deductible, COPAY a 25.00 copay, TERM are inactive, NOTFOUND
are unknown; payer SBX01 requires prior authorization for imaging such as 72148)."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from functools import partial

import httpx
import pytest
from sqlalchemy import text

from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import AppointmentScheduled, EncounterCaptured
from rcm_runtime.clock import FixedClock
from rcm_runtime.errors import TransientError
from rcm_sandbox.app import create_app as create_sandbox_app
from rcm_sandbox.db import metadata as sandbox_metadata
from rcm_sandbox.settings import Settings as SandboxSettings
from tests.support import claims as factory
from tests.support.api import service_api

from rcm_eligibility.app import create_app
from rcm_eligibility.db import PHI, metadata, patients
from rcm_eligibility.service import member_index
from rcm_eligibility.settings import Settings

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
DOS = "2026-03-10"
PAYER_URL = "http://payer.test"
PATIENT = {"first_name": "Ann", "last_name": "Lee", "birth_date": "1980-02-03", "sex": "F",
           "address": {"line1": "1 Main St", "city": "Boston", "state": "MA", "postal_code": "02108"}}
PROVIDER = {"npi": "1234567893", "name": "Main Street Clinic"}


def coverage(member_id: str, payer_id: str = "SBX01") -> dict:
    return {"payer_id": payer_id, "payer_name": "Sandbox Health Plan", "member_id": member_id}


def check(member_id: str, *codes: str, payer_id: str = "SBX01") -> dict:
    return {"patient": PATIENT, "coverage": coverage(member_id, payer_id), "provider": PROVIDER, "service_date": DOS,
            "procedure_codes": list(codes or ["99213"])}


def registration(member_id: str = "COPAY1001", **coverage_fields) -> dict:
    return {"patient": PATIENT, "coverages": [{**coverage(member_id), "effective_from": "2024-01-01",
                                               "order_of_benefits": 1, **coverage_fields}]}


def mrn_key(mrn: str, tenant: str = "tenant-a") -> str:
    """A registration's key: its MRN's blind index (the MRN itself is sealed)."""
    return PHI.blind_index(patients, "patient_id", mrn, tenant=tenant)


def appointment(appointment_id: str, patient_id: str, *codes: str) -> dict:
    return {"source_system": "sched", "source_appointment_id": appointment_id, "patient_id": patient_id,
            "scheduled_date": DOS, "provider": PROVIDER, "procedure_codes": list(codes or ["99213"])}


def captured(member_id: str, *codes: str) -> EncounterCaptured:
    claim = factory.make_claim(
        source_system="ehr", source_encounter_id=uuid.uuid4().hex, service_date=date.fromisoformat(DOS),
        patient=PATIENT, coverage=coverage(member_id), billing_provider=PROVIDER, diagnoses=["Z0000"],
        lines=factory.make_lines(*(codes or ["99213"])))
    return EncounterCaptured(claim=claim, intake_channel="json")


class Payer:
    """The sandbox as the payer, with what it was asked: each HTTP exchange's 270 count, and how many database
    connections eligibility held while it waited (must be none: no transaction open during the payer call)."""

    def __init__(self, sandbox_app) -> None:
        self.exchanges: list[int] = []
        self.connections_held: list[int] = []
        self.engines: list = []
        self.during = None  # an async callable run while the payer is answering (another actor's change)
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app), base_url=PAYER_URL,
                                        event_hooks={"request": [self._seen]})

    async def _seen(self, request: httpx.Request) -> None:
        if request.url.path == "/v1/eligibility":
            self.exchanges.append(request.content.decode().count("ST*270*"))
            self.connections_held.append(sum(e.pool.checkedout() for e in self.engines))
            if self.during is not None:
                await self.during()

    @property
    def inquiries(self) -> int:
        return sum(self.exchanges)


@pytest.fixture
async def payer():
    async with service_api(create_sandbox_app, SandboxSettings, sandbox_metadata) as sandbox:
        p = Payer(sandbox.app)
        async with p.client:
            yield p


@pytest.fixture
def clock():
    return FixedClock(NOW)


@pytest.fixture
async def api(payer, clock):
    async with service_api(partial(create_app, payer_http=payer.client), Settings, metadata, clock=clock,
                           payer_url=PAYER_URL) as api:
        payer.engines += [api.engine, api.app.state.runtime.engine]
        yield api
    assert payer.connections_held == [0] * len(payer.exchanges)  # every payer call: no connection held


# -- on-demand checks ------------------------------------------------------------------------------------------

async def test_an_on_demand_check_asks_the_payer_once_then_answers_from_the_cache_until_it_expires(api, payer, clock):
    body = check("HDHP2001", "99213", "72148")
    first = await api.client.post("/v1/eligibility-checks", json=body, headers=api.headers())
    assert first.status_code == 200, first.text
    out = first.json()
    assert out["eligibility"]["status"] == "active" and out["eligibility"]["source"] == "payer"
    assert out["eligibility"]["deductible_remaining"] == "1500.00" and out["eligibility"]["coinsurance_rate"] == "0.2"
    assert out["eligibility"]["checked_at"].startswith("2026-03-02T15:00:00")  # the injected clock
    assert [p["code"] for p in out["problems"]] == ["ELG020"]  # the MRI needs a prior authorization
    assert out["benefits"]["coverage_start"] == "2026-01-01"
    assert payer.exchanges == [1]
    assert await api.scalar("SELECT count(*) FROM eligibility_cache WHERE tenant_id = 'tenant-a'") == 1

    again = await api.client.post("/v1/eligibility-checks", json=body, headers=api.headers())
    assert again.json()["eligibility"]["source"] == "cache" and again.json()["benefits"] == out["benefits"]
    assert payer.exchanges == [1]

    other_tenant = await api.client.post("/v1/eligibility-checks", json=body, headers=api.headers("tenant-b"))
    assert other_tenant.json()["eligibility"]["source"] == "payer"  # the cache is per tenant
    assert payer.exchanges == [1, 1]

    clock.advance(timedelta(hours=25))  # past the 24 h TTL
    expired = await api.client.post("/v1/eligibility-checks", json=body, headers=api.headers())
    assert expired.json()["eligibility"]["source"] == "payer" and payer.exchanges == [1, 1, 1]
    assert payer.connections_held == [0, 0, 0]  # no transaction open while the payer answered
    assert await api.outbox_events() == []  # on-demand checks emit nothing


async def test_a_batch_sends_one_interchange_per_payer_with_one_270_per_uncached_member(api, payer):
    await api.client.post("/v1/eligibility-checks", json=check("COPAY3001"), headers=api.headers())  # cached now
    checks = [check("HDHP3002"), check("TERM3003"), check("HDHP3002"), check("COPAY3001"),
              check("COINS3004", payer_id="SBX02")]
    resp = await api.client.post("/v1/eligibility-checks/batch", json={"checks": checks}, headers=api.headers())
    assert resp.status_code == 200, resp.text
    results = resp.json()["results"]
    assert [r["eligibility"]["status"] for r in results] == ["active", "inactive", "active", "active", "active"]
    assert [r["eligibility"]["source"] for r in results] == ["payer", "payer", "payer", "cache", "payer"]
    assert [p["code"] for p in results[1]["problems"]] == ["ELG011"]
    assert sorted(payer.exchanges) == [1, 1, 2]  # the first check; SBX01's two new members; SBX02's one


async def test_an_unknown_member_is_reported_as_a_problem_for_the_front_desk(api, payer):
    resp = await api.client.post("/v1/eligibility-checks", json=check("NOTFOUND4001"), headers=api.headers())
    assert resp.status_code == 200
    [problem] = resp.json()["problems"]
    assert problem["code"] == "ELG010" and problem["field"] == "coverage.member_id"
    assert "NOTFOUND4001" not in resp.text


async def test_invalid_checks_get_422_naming_the_field_without_echoing_values(api, payer):
    bad = {**check("HDHP5001"), "patient": {**PATIENT, "birth_date": "1980-13-45"}, "procedure_codes": ["x1"]}
    resp = await api.client.post("/v1/eligibility-checks", json=bad, headers=api.headers())
    assert resp.status_code == 422
    fields = {e["field"] for e in resp.json()["errors"]}
    assert {"body.patient.birth_date", "body.procedure_codes.0"} <= fields
    assert "1980-13-45" not in resp.text and "HDHP5001" not in resp.text and "Lee" not in resp.text
    too_many = await api.client.post("/v1/eligibility-checks/batch", json={"checks": [check("HDHP5001")] * 101},
                                     headers=api.headers())
    empty = await api.client.post("/v1/eligibility-checks/batch", json={"checks": []}, headers=api.headers())
    assert too_many.status_code == 422 and empty.status_code == 422
    assert {e["field"] for e in empty.json()["errors"]} == {"body.checks"}
    assert payer.exchanges == []
    assert await api.scalar("SELECT count(*) FROM eligibility_cache") == 0


@pytest.mark.parametrize("payer_id", ["PAYÉ01", "SB*01"])
async def test_a_payer_id_no_interchange_can_carry_is_not_sent_and_not_a_500(api, payer, payer_id):
    # Found by fuzzing: a payer id the ISA cannot carry as the 270's receiver (not ASCII, or an X12 delimiter)
    # failed building the interchange outside the per-inquiry check, a 500 for the whole request; now that payer's
    # checks are not sent, and say so.
    one = await api.client.post("/v1/eligibility-checks", json=check("HDHP5101", payer_id=payer_id),
                                headers=api.headers())
    batch = await api.client.post("/v1/eligibility-checks/batch", headers=api.headers(), json={
        "checks": [check("HDHP5102", payer_id=payer_id), check("HDHP5103")]})

    assert one.status_code == 200, one.text
    assert one.json()["eligibility"]["status"] == "unknown" and "payer id" in one.json()["eligibility"]["reason"]
    assert batch.status_code == 200, batch.text
    assert [r["eligibility"]["status"] for r in batch.json()["results"]] == ["unknown", "active"]
    assert payer.exchanges == [1]  # only the other payer's member was asked


@pytest.mark.parametrize("path", ["/v1/appointments?on=0", "/v1/appointments?on=20260310"])
async def test_a_date_sent_as_a_number_is_a_422(api, path):
    # Found by fuzzing: pydantic read a number as seconds since 1970 (on=20260310 listed 1970-08-23's visits).
    resp = await api.client.get(path, headers=api.headers())
    numeric_dos = await api.client.post("/v1/eligibility-checks", json={**check("HDHP5201"), "service_date": 20260310},
                                        headers=api.headers())
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["query.on"]
    assert numeric_dos.status_code == 422
    assert [e["field"] for e in numeric_dos.json()["errors"]] == ["body.service_date"]


# -- registrations -----------------------------------------------------------------------------------------------

async def test_registration_validation_judges_dates_by_the_injected_clock(api, clock):
    future = registration(effective_from="2026-06-01")
    resp = await api.client.post("/v1/registrations/validate", json=future, headers=api.headers())
    assert resp.status_code == 200
    assert resp.json()["valid"] is True and [p["code"] for p in resp.json()["problems"]] == ["REG012"]
    clock.set(datetime(2026, 7, 1, tzinfo=timezone.utc))
    later = await api.client.post("/v1/registrations/validate", json=future, headers=api.headers())
    assert later.json() == {"valid": True, "problems": []}

    wrong_state = registration()
    wrong_state["patient"] = {**PATIENT, "address": {**PATIENT["address"], "postal_code": "62704"}}
    invalid = await api.client.post("/v1/registrations/validate", json=wrong_state, headers=api.headers())
    assert invalid.json()["valid"] is False and [p["code"] for p in invalid.json()["problems"]] == ["REG005"]
    assert await api.scalar("SELECT count(*) FROM patients") == 0  # validation stores nothing


async def test_registration_422_for_a_malformed_body_names_the_field(api):
    resp = await api.client.post("/v1/registrations/validate",
                                 json={"patient": {**PATIENT, "sex": "Q"}, "coverages": []}, headers=api.headers())
    assert resp.status_code == 422 and [e["field"] for e in resp.json()["errors"]] == ["body.patient.sex"]


async def test_a_patient_is_registered_unless_the_registration_has_errors(api, clock):
    ok = await api.client.put("/v1/patients/MRN-1", json=registration(), headers=api.headers())
    assert ok.status_code == 200 and ok.json() == {"registered": True, "patient_id": "MRN-1", "problems": []}
    stored = await api.scalar("SELECT patient FROM patients WHERE tenant_id = 'tenant-a' AND patient_key = :k",
                              k=mrn_key("MRN-1"))
    assert "Lee" not in str(stored)  # sealed at rest (rcm_runtime.phi)
    assert PHI.open(patients, {"tenant_id": "tenant-a", "patient": stored})["patient"]["last_name"] == "Lee"

    born_tomorrow = {**registration(), "patient": {**PATIENT, "birth_date": "2026-03-03"}}
    bad = await api.client.put("/v1/patients/MRN-2", json=born_tomorrow, headers=api.headers())
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_registration"
    assert "REG001" in [p["code"] for p in bad.json()["problems"]]
    assert await api.scalar("SELECT count(*) FROM patients WHERE patient_key = :k", k=mrn_key("MRN-2")) == 0
    clock.advance(timedelta(days=2))  # the same birth date is no longer in the future
    assert (await api.client.put("/v1/patients/MRN-2", json=born_tomorrow, headers=api.headers())).status_code == 200

    update = await api.client.put("/v1/patients/MRN-1", json=registration("HDHP1002"), headers=api.headers())
    assert update.status_code == 200
    stored = await api.scalar("SELECT coverages FROM patients WHERE patient_key = :k", k=mrn_key("MRN-1"))
    assert PHI.open(patients, {"tenant_id": "tenant-a", "coverages": stored})["coverages"][0]["member_id"] == "HDHP1002"
    assert await api.scalar("SELECT count(*) FROM patients WHERE patient_key = :k", k=mrn_key("MRN-1")) == 1
    # the MRN is sealed at rest and found by its blind index (exact: another case is another patient)
    assert await api.scalar("SELECT count(*) FROM patients WHERE patient_id LIKE '%MRN%'") == 0
    assert mrn_key("mrn-1") != mrn_key("MRN-1")


# -- appointments ------------------------------------------------------------------------------------------------

async def test_a_registered_patients_appointment_is_verified_with_the_payer_before_the_visit(api, payer):
    await api.client.put("/v1/patients/MRN-1", json=registration("COPAY1001"), headers=api.headers())
    ok = await api.client.post("/v1/appointments", json=appointment("A-1", "MRN-1"), headers=api.headers())
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "verified" and ok.json()["work_queue"] is None
    assert ok.json()["eligibility"]["copay"] == "25.00" and payer.exchanges == [1]

    mri = await api.client.post("/v1/appointments", json=appointment("A-2", "MRN-1", "72148"), headers=api.headers())
    assert mri.json()["work_queue"] == "authorizations" and payer.exchanges == [1]  # same member and DOS: cached
    nobody = await api.client.post("/v1/appointments", json=appointment("A-3", "MRN-404"), headers=api.headers())
    assert nobody.json()["work_queue"] == "front-desk" and nobody.json()["problems"][0]["code"] == "REG020"
    assert nobody.json()["eligibility"] is None and payer.exchanges == [1]
    other_tenant = await api.client.post("/v1/appointments", json=appointment("A-4", "MRN-1"),
                                         headers=api.headers("tenant-b"))
    assert other_tenant.json()["problems"][0]["code"] == "REG020"  # tenant-a's registration is not tenant-b's

    listed = (await api.client.get("/v1/appointments", headers=api.headers())).json()["items"]
    assert [(a["source_appointment_id"], a["status"]) for a in listed] == [
        ("A-1", "verified"), ("A-2", "problems"), ("A-3", "problems")]
    queue = await api.client.get("/v1/appointments", params={"work_queue": "front-desk"}, headers=api.headers())
    assert [a["source_appointment_id"] for a in queue.json()["items"]] == ["A-3"]
    other_day = await api.client.get("/v1/appointments", params={"on": "2026-03-11"}, headers=api.headers())
    assert other_day.json() == {"items": []}
    assert {a["patient_id"] for a in listed} == {"MRN-1", "MRN-404"}  # opened for the reader
    assert await api.scalar("SELECT count(*) FROM appointments WHERE patient_id LIKE '%MRN%'") == 0  # sealed at rest
    theirs = (await api.client.get("/v1/appointments", headers=api.headers("tenant-b"))).json()["items"]
    assert [a["source_appointment_id"] for a in theirs] == ["A-4"]
    assert (await api.client.get("/v1/appointments", params={"limit": -5}, headers=api.headers())).status_code == 422

    resent = await api.client.post("/v1/appointments", json=appointment("A-1", "MRN-1"), headers=api.headers())
    assert resent.status_code == 200
    assert resent.json()["appointment_id"] == ok.json()["appointment_id"]  # the same appointment, updated
    assert await api.scalar("SELECT count(*) FROM appointments WHERE tenant_id = 'tenant-a'") == 3


async def test_an_appointment_missing_fields_gets_422_naming_them(api):
    resp = await api.client.post("/v1/appointments", json={"source_system": "sched"}, headers=api.headers())
    assert resp.status_code == 422
    assert {"body.source_appointment_id", "body.patient_id", "body.scheduled_date", "body.provider"} <= \
        {e["field"] for e in resp.json()["errors"]}


async def test_a_fhir_appointment_is_checked_like_a_json_one(api, payer):
    await api.client.put("/v1/patients/MRN-7", json=registration("HDHP7001"), headers=api.headers())
    fhir = {"resourceType": "Appointment", "status": "booked", "identifier": [{"value": "F-1"}],
            "start": f"{DOS}T09:00:00-04:00",
            "participant": [{"actor": {"reference": "Patient/MRN-7"}, "status": "accepted"},
                            {"actor": {"type": "Practitioner",
                                       "identifier": {"system": "http://hl7.org/fhir/sid/us-npi",
                                                      "value": "1234567893"}}, "status": "accepted"}]}
    ok = await api.client.post("/v1/appointments/fhir", json=fhir, headers=api.headers())
    assert ok.status_code == 200 and ok.json()["status"] == "verified", ok.text
    assert ok.json()["eligibility"]["deductible_remaining"] == "1500.00" and payer.exchanges == [1]
    assert await api.scalar("SELECT source_system || '/' || source_appointment_id FROM appointments") == "fhir/F-1"

    bad = await api.client.post("/v1/appointments/fhir", json={**fhir, "start": "next tuesday"}, headers=api.headers())
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_fhir_appointment"
    assert bad.json()["errors"][0]["field"].startswith("Appointment") and "next tuesday" not in bad.text
    not_json = await api.client.post("/v1/appointments/fhir", content=b"{nope", headers=api.headers())
    assert not_json.status_code == 422 and not_json.json()["code"] == "invalid_json"
    assert await api.scalar("SELECT count(*) FROM appointments") == 1


async def test_a_scheduled_appointment_from_the_intake_topic_is_checked_once(api, payer):
    await api.client.put("/v1/patients/MRN-9", json=registration("TERM9001"), headers=api.headers())
    event = AppointmentScheduled.model_validate(appointment("K-1", "MRN-9"))
    env = new_envelope(event, service="intake", tenant_id="tenant-a", key="appt-K-1")
    first = await api.consume(env)
    again = await api.consume(env)
    assert first.applied == 1 and again.applied == 0 and again.duplicates == 1
    assert payer.exchanges == [1]  # the redelivery asked nobody
    row = (await api.client.get("/v1/appointments", headers=api.headers())).json()["items"]
    assert [(a["source_appointment_id"], a["status"], a["work_queue"]) for a in row] == [
        ("K-1", "problems", "front-desk")]
    assert "ELG011" in [p["code"] for p in row[0]["problems"]]


# -- consumed encounters -----------------------------------------------------------------------------------------

async def test_captured_claims_are_verified_with_one_interchange_and_a_redelivery_is_applied_once(api, payer):
    active, inactive = captured("COPAY6001"), captured("TERM6002")
    envs = [new_envelope(ev, service="charges", tenant_id="tenant-a", key=str(ev.claim.claim_id))
            for ev in (active, inactive)]
    applier = await api.consume(*envs)
    assert applier.applied == 2 and applier.dead_lettered == 0
    assert payer.exchanges == [2]  # one interchange, one 270 per member
    assert payer.connections_held == [0]  # asked before the batch transaction opened

    [verified] = await api.outbox_events("coverage-verified")
    assert verified["partitionkey"] == str(active.claim.claim_id) and verified["tenantid"] == "tenant-a"
    assert verified["data"]["eligibility"]["copay"] == "25.00"
    assert verified["data"]["claim"]["coverage"]["effective_from"] == "2026-01-01"  # the 271's coverage period
    [held] = await api.outbox_events("claim-held")
    assert held["partitionkey"] == str(inactive.claim.claim_id)
    assert held["data"]["reason"] == "coverage_inactive" and held["data"]["work_queue"] == "front-desk"

    claim = (await api.client.get(f"/v1/claims/{inactive.claim.claim_id}", headers=api.headers())).json()
    assert claim["status"] == "held" and claim["hold_reason"] == "coverage_inactive"
    queue = (await api.client.get("/v1/work-queue", params={"status": "front-desk"}, headers=api.headers())).json()
    assert [i["claim_id"] for i in queue["items"]] == [str(inactive.claim.claim_id)]
    assert (await api.client.get(f"/v1/claims/{active.claim.claim_id}", headers=api.headers("tenant-b"))).status_code \
        == 404
    assert (await api.client.get("/v1/work-queue", headers=api.headers("tenant-b"))).json()["total"] == 0

    again = await api.consume(*envs)
    assert again.applied == 0 and again.duplicates == 2
    assert payer.exchanges == [2] and len(await api.outbox_events()) == 2
    assert await api.scalar("SELECT count(*) FROM coverage_checks") == 2

    later = captured("COPAY6001")  # the same member and date of service: from the cache
    await api.consume((later, "tenant-a", later.claim.claim_id))
    assert payer.exchanges == [2] and len(await api.outbox_events("coverage-verified")) == 2


async def test_a_payer_that_refuses_the_inquiry_sends_the_claim_to_the_front_desk(payer, clock):
    async with service_api(partial(create_app, payer_http=payer.client), Settings, metadata, clock=clock,
                           payer_url=PAYER_URL, payer_key="not-the-clearinghouse-key") as api:
        ev = captured("COPAY6101")
        await api.consume((ev, "tenant-a", ev.claim.claim_id))
        [held] = await api.outbox_events("claim-held")
        assert held["data"]["reason"] == "payer_rejected" and held["data"]["work_queue"] == "front-desk"
        assert await api.scalar("SELECT count(*) FROM eligibility_cache") == 1


async def test_an_unreachable_payer_leaves_the_batch_to_be_retried_and_dead_letters_nothing(clock):
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(down), base_url=PAYER_URL) as unreachable:
        async with service_api(partial(create_app, payer_http=unreachable), Settings, metadata, clock=clock,
                               payer_url=PAYER_URL) as api:
            ev = captured("COPAY6201")
            with pytest.raises(TransientError):
                await api.consume((ev, "tenant-a", ev.claim.claim_id))
            for table in ("inbox", "dead_letters", "coverage_checks", "eligibility_cache", "outbox"):
                assert await api.scalar(f"SELECT count(*) FROM {table}") == 0, table
            # the same outage on an API request: 503 with a reason to retry, never a 500
            resp = await api.client.post("/v1/eligibility-checks", json=check("COPAY6202"), headers=api.headers())
            assert resp.status_code == 503 and resp.json()["code"] == "dependency_unavailable"
            assert resp.headers["retry-after"] == "30" and "COPAY6202" not in resp.text


# -- held claims: authorization and recheck ----------------------------------------------------------------------

async def test_another_tenants_captured_claim_with_the_same_id_changes_nothing_of_this_tenants(api, payer):
    """coverage_checks is keyed by (tenant, claim): tenant b's captured claim carrying tenant a's claim id gets its
    own check and work-queue row (not dropped as a conflict), and tenant a's check and queue stay as they were."""
    ours = captured("TERM6101")
    await api.consume((ours, "tenant-a", ours.claim.claim_id))
    cid = ours.claim.claim_id
    before = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json()
    queue_before = (await api.client.get("/v1/work-queue", headers=api.headers())).json()
    claim = factory.make_claim(claim_id=cid, source_system="ehr", source_encounter_id=uuid.uuid4().hex,
                               service_date=date.fromisoformat(DOS), patient=PATIENT, coverage=coverage("COPAY6102"),
                               billing_provider=PROVIDER, diagnoses=["Z0000"], lines=factory.make_lines("99213"))
    applier = await api.consume((EncounterCaptured(claim=claim, intake_channel="json"), "tenant-b", cid))
    assert applier.applied == 1 and applier.dead_lettered == 0

    assert (await api.client.get(f"/v1/claims/{cid}", headers=api.headers())).json() == before
    assert (await api.client.get("/v1/work-queue", headers=api.headers())).json() == queue_before
    assert before["status"] == "held" and before["hold_reason"] == "coverage_inactive"
    theirs = (await api.client.get(f"/v1/claims/{cid}", headers=api.headers("tenant-b"))).json()
    assert theirs["tenant_id"] == "tenant-b" and theirs["status"] == "active"
    [verified] = await api.outbox_events("coverage-verified")
    assert verified["tenantid"] == "tenant-b" and verified["partitionkey"] == str(cid)


async def test_an_authorization_releases_a_claim_held_for_one(api, payer):
    ev = captured("COPAY7001", "72148")
    await api.consume((ev, "tenant-a", ev.claim.claim_id))
    claim_id = ev.claim.claim_id
    queue = (await api.client.get("/v1/work-queue", params={"status": "authorizations"}, headers=api.headers())).json()
    assert [i["claim_id"] for i in queue["items"]] == [str(claim_id)]
    asked = list(payer.exchanges)

    path = f"/v1/claims/{claim_id}/authorization"
    assert (await api.client.post(path, json={"authorization_number": "AUTH-1"},
                                  headers=api.headers("tenant-b", user="auth.team"))).status_code == 404
    assert (await api.client.post(path, json={"authorization_number": "AUTH-1"}, headers={"X-User": "auth.team"})
            ).status_code == 401  # who acts comes from a token, never from a header
    empty = await api.client.post(path, json={"authorization_number": ""},
                                  headers=api.headers(user="auth.team"))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body.authorization_number"
    assert await api.outbox_events("coverage-verified") == []

    resp = await api.client.post(path, json={"authorization_number": "AUTH-1"},
                                 headers=api.headers(user="auth.team"))
    assert resp.status_code == 200, resp.text
    assert resp.json()["released"] is True and resp.json()["edits"] == [] and resp.json()["hold_reason"] is None
    [verified] = await api.outbox_events("coverage-verified")
    assert verified["data"]["claim"]["prior_authorization"] == "AUTH-1" and verified["partitionkey"] == str(claim_id)
    state = (await api.client.get(f"/v1/claims/{claim_id}", headers=api.headers())).json()
    assert state["status"] == "active" and state["work_queue"] is None
    assert payer.exchanges == asked  # the stored 271 decides: nobody was asked

    again = await api.client.post(path, json={"authorization_number": "AUTH-2"},
                                  headers=api.headers(user="auth.team"))
    assert again.status_code == 409 and again.json()["code"] == "not_held"
    unknown = await api.client.post(f"/v1/claims/{uuid.uuid4()}/authorization", json={"authorization_number": "A"},
                                    headers=api.headers(user="auth.team"))
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    assert len(await api.outbox_events()) == 2  # the hold and the one release


async def test_a_recheck_asks_the_payer_again_and_releases_the_claim_once_coverage_is_confirmed(api, payer):
    ev = captured("TERM8001")
    await api.consume((ev, "tenant-a", ev.claim.claim_id))
    path = f"/v1/claims/{ev.claim.claim_id}/recheck"
    desk = api.headers(user="desk")
    assert payer.exchanges == [1]

    theirs = await api.client.post(path, json={}, headers=api.headers("tenant-b", user="desk"))
    assert theirs.status_code == 404 and payer.exchanges == [1]  # nobody asked for another tenant's claim
    assert (await api.client.post(path, json={"member_id": ""}, headers=desk)).status_code == 422
    analyst = api.headers(user="desk", roles=["analyst"])
    assert (await api.client.post(path, json={}, headers=analyst)).status_code == 403

    still = await api.client.post(path, json={}, headers=desk)
    assert still.status_code == 200 and still.json()["released"] is False
    assert still.json()["hold_reason"] == "coverage_inactive" and still.json()["eligibility"]["source"] == "payer"
    assert payer.exchanges == [1, 1]  # asked again although the 271 was cached

    fixed = await api.client.post(path, json={"member_id": "COPAY8002"}, headers=desk)
    assert fixed.status_code == 200 and fixed.json()["released"] is True, fixed.text
    assert fixed.json()["eligibility"]["copay"] == "25.00" and payer.exchanges == [1, 1, 1]
    [verified] = await api.outbox_events("coverage-verified")
    assert verified["data"]["claim"]["coverage"]["member_id"] == "COPAY8002"
    assert len(await api.outbox_events("claim-held")) == 2  # the first hold and the unsuccessful recheck
    state = (await api.client.get(f"/v1/claims/{ev.claim.claim_id}", headers=api.headers())).json()
    assert state["status"] == "active" and state["claim"]["coverage"]["member_id"] == "COPAY8002"
    # the cache is keyed by the member id's blind index, never the member id
    assert await api.scalar("SELECT count(*) FROM eligibility_cache WHERE member_id = :m",
                            m=member_index("tenant-a", "COPAY8002")) == 1
    assert await api.scalar("SELECT count(*) FROM eligibility_cache WHERE member_id LIKE 'COPAY%'") == 0

    done = await api.client.post(path, json={}, headers=desk)
    assert done.status_code == 409 and done.json()["code"] == "not_held" and payer.exchanges == [1, 1, 1]


async def test_a_recheck_does_not_overwrite_a_change_made_while_the_payer_was_answering(api, payer):
    ev = captured("TERM8101")
    await api.consume((ev, "tenant-a", ev.claim.claim_id))
    held_events = len(await api.outbox_events())

    async def another_desk_rechecked() -> None:
        async with api.engine.begin() as conn:
            await conn.execute(text("UPDATE coverage_checks SET result = result || '{\"reason\": \"newer\"}'::jsonb "
                                    "WHERE claim_id = :id"), {"id": ev.claim.claim_id})

    payer.during = another_desk_rechecked
    resp = await api.client.post(f"/v1/claims/{ev.claim.claim_id}/recheck", json={"member_id": "COPAY8102"},
                                 headers=api.headers(user="desk"))
    assert resp.status_code == 409 and resp.json()["code"] == "claim_changed"
    assert await api.scalar("SELECT status FROM coverage_checks") == "held"
    assert await api.scalar("SELECT result->>'reason' FROM coverage_checks") == "newer"  # the other change stays
    assert len(await api.outbox_events()) == held_events


# -- member-id rules ---------------------------------------------------------------------------------------------

async def test_member_id_rules_are_set_listed_applied_and_removed_per_tenant(api):
    admin = api.headers(user="admin.lee")
    put = await api.client.put("/v1/payers/SBX01/member-id-rule", json={"pattern": r"^[A-Z]{4}[0-9]{4}$",
                                                                        "description": "Sandbox ids"}, headers=admin)
    assert put.status_code == 200
    assert put.json() == {"payer_id": "SBX01", "pattern": r"^[A-Z]{4}[0-9]{4}$", "description": "Sandbox ids"}
    assert await api.scalar("SELECT updated_by FROM member_id_rules WHERE tenant_id = 'tenant-a'") == "admin.lee"
    rules = (await api.client.get("/v1/member-id-rules", headers=api.headers())).json()["rules"]
    assert [(r["payer_id"], r["pattern"], r["updated_by"]) for r in rules] == [
        ("SBX01", r"^[A-Z]{4}[0-9]{4}$", "admin.lee")]
    assert (await api.client.get("/v1/member-id-rules", headers=api.headers("tenant-b"))).json() == {"rules": []}

    async def member_id_codes(tenant: str = "tenant-a") -> list[str]:
        r = await api.client.post("/v1/registrations/validate", json=registration("COPAY12345"),
                                  headers=api.headers(tenant))
        return [p["code"] for p in r.json()["problems"]]

    assert await member_id_codes() == ["REG010"] and await member_id_codes("tenant-b") == []

    bad = await api.client.put("/v1/payers/SBX01/member-id-rule", json={"pattern": "(["}, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_member_id_rule"
    assert await api.scalar("SELECT pattern FROM member_id_rules") == r"^[A-Z]{4}[0-9]{4}$"
    assert (await api.client.put("/v1/payers/SBX01/member-id-rule", json={"pattern": "x"},
                                 headers=api.headers(user="desk", roles=["front_desk"]))).status_code == 403
    assert (await api.client.put("/v1/payers/SBX01/member-id-rule", json={"pattern": ""},
                                 headers=admin)).json()["errors"][0]["field"] == "body.pattern"

    theirs = await api.client.delete("/v1/payers/SBX01/member-id-rule",
                                     headers=api.headers("tenant-b", user="admin.kim"))
    assert theirs.status_code == 404 and await api.scalar("SELECT count(*) FROM member_id_rules") == 1
    gone = await api.client.delete("/v1/payers/SBX01/member-id-rule", headers=admin)
    assert gone.status_code == 204 and await member_id_codes() == []
    again = await api.client.delete("/v1/payers/SBX01/member-id-rule", headers=admin)
    assert again.status_code == 404 and again.json() == {"code": "not_found",
                                                         "description": "no member-id rule for this payer"}


async def test_member_id_rules_need_a_pattern_the_linear_time_engine_can_run(api):
    admin = api.headers(**{"X-User": "admin.lee"})
    backreference = await api.client.put("/v1/payers/SBX01/member-id-rule", json={"pattern": r"^([A-Z])\1[0-9]+$"},
                                         headers=admin)
    assert backreference.status_code == 422
    assert backreference.json() == {"code": "invalid_member_id_rule", "description": (
        "member id rule 'SBX01': not a pattern RE2 can match in linear time (invalid escape sequence: \\1)")}
    assert await api.scalar("SELECT count(*) FROM member_id_rules") == 0

    # accepted, and harmless: RE2 answers a 80-character id against it at once
    nested = await api.client.put("/v1/payers/SBX01/member-id-rule", json={"pattern": r"^(A+)+$"}, headers=admin)
    assert nested.status_code == 200
    checked = await api.client.post("/v1/registrations/validate", json=registration("A" * 79 + "1"),
                                    headers=api.headers())
    assert [p["code"] for p in checked.json()["problems"]] == ["REG010"]


async def test_a_stored_rule_the_engine_refuses_is_left_out_not_a_failure(api):
    """A rule stored before patterns had to be RE2 (look-ahead was accepted): registrations go on with the
    built-in format for that payer instead of failing."""
    async with api.engine.begin() as conn:
        await conn.execute(text("INSERT INTO member_id_rules (tenant_id, payer_id, pattern, updated_by, updated_at) "
                                "VALUES ('tenant-a', 'SBX01', '^(?=C)[A-Z0-9]+$', 'legacy', now())"))
    checked = await api.client.post("/v1/registrations/validate", json=registration("COPAY1001"),
                                    headers=api.headers())
    assert checked.status_code == 200 and checked.json()["valid"] is True
    bad = await api.client.post("/v1/registrations/validate", json=registration("COPAY 1001"), headers=api.headers())
    assert [p["code"] for p in bad.json()["problems"]] == ["REG010"]  # the built-in format still checks


# -- authentication ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("PUT", "/v1/patients/MRN-1"), ("POST", "/v1/registrations/validate"), ("POST", "/v1/appointments"),
    ("POST", "/v1/appointments/fhir"), ("GET", "/v1/appointments"), ("POST", "/v1/eligibility-checks"),
    ("POST", "/v1/eligibility-checks/batch"), ("GET", "/v1/work-queue"),
    ("POST", f"/v1/claims/{uuid.uuid4()}/authorization"), ("POST", f"/v1/claims/{uuid.uuid4()}/recheck"),
    ("PUT", "/v1/payers/SBX01/member-id-rule"), ("DELETE", "/v1/payers/SBX01/member-id-rule"),
    ("GET", "/v1/member-id-rules"), ("GET", f"/v1/claims/{uuid.uuid4()}"),
])
async def test_without_a_token_every_route_answers_401(api, payer, method, path):
    resp = await api.client.request(method, path, json={}, headers={"X-User": "someone"})
    assert resp.status_code == 401
    assert payer.exchanges == []


# -- registrations from charges' HL7 v2 interface (ADT^A04/A08 over MLLP) ---------------------------------------

def _adt(trigger: str, control_id: str, *, zip_code: str = "02108", in1: bool = True) -> str:
    segs = [f"MSH|^~\\&|ACMEEHR|CLINIC|OPENRCM|OPENRCM|20260302090000||ADT^{trigger}^ADT_A01|{control_id}|P|2.5.1",
            f"EVN|{trigger}|20260302090000",
            f"PID|1||MRN-ADT-1^^^ACME^MR||Lee^Ann||19800203|F|||1 Main St^^Boston^MA^{zip_code}||6175550134"]
    if in1:
        fields = [""] * 37
        fields[0:5] = ["IN1", "1", "PLAN", "SBX01", "Sandbox Health Plan"]
        fields[12], fields[17], fields[36] = "20240101", "SEL", "COPAY1001"
        segs.append("|".join(fields))
    return "\r".join(segs) + "\r"


async def _over_mllp(tmp_path, *messages: str) -> tuple[list[str], list]:
    """Send messages to charges' MLLP listener (its own app, TLS, tenant-a's certificate): their ACKs and the
    envelopes charges wrote to its outbox."""
    from rcm_charges.app import create_app as create_charges_app
    from rcm_charges.db import metadata as charges_metadata
    from rcm_charges.mllp import MllpListener
    from rcm_charges.settings import Settings as ChargesSettings
    from rcm_contracts import decode_envelope
    from rcm_runtime.dev_ca import ensure_cert
    from tests.support.mllp import MllpClient, client_context, tenant_cert

    ensure_cert(tmp_path, "charges")
    async with service_api(create_charges_app, ChargesSettings, charges_metadata, mllp_port=0,
                           http_tls_cert_file=str(tmp_path / "charges.pem"),
                           http_tls_key_file=str(tmp_path / "charges-key.pem"),
                           mllp_client_ca_file=str(tmp_path / "ca.pem")) as charges:
        port = charges.app.state.runtime.services[MllpListener].port
        client = await MllpClient.connect(port, client_context(tmp_path / "ca.pem", tenant_cert(tmp_path, "tenant-a")))
        try:
            acks = [await client.send(m) for m in messages]
        finally:
            await client.close()
        events = await charges.outbox_events("registration-received")
    return acks, [decode_envelope(json.dumps(e).encode()) for e in events]


async def test_an_adt_a04_over_mllp_registers_the_patient_and_an_a08_updates_it(api, tmp_path):
    acks, envelopes = await _over_mllp(tmp_path, _adt("A04", "ADT-1"), _adt("A08", "ADT-2", in1=False),
                                       _adt("A04", "ADT-1"))
    assert [a.split("\r")[1] for a in acks] == ["MSA|AA|ADT-1", "MSA|AA|ADT-2", "MSA|AA|ADT-1"]
    assert len(envelopes) == 2  # the resend of ADT-1 was acknowledged again, not handed over twice
    assert all("MRN-ADT-1" not in e.partitionkey for e in envelopes)  # the key is a blind index, not the MRN
    assert envelopes[0].tenantid == "tenant-a"

    applier = await api.consume(envelopes[0])
    assert applier.applied == 1 and applier.dead_lettered == 0
    row = await api.scalar("SELECT row_to_json(p) FROM patients p WHERE patient_key = :k", k=mrn_key("MRN-ADT-1"))
    opened = PHI.open(patients, {"tenant_id": "tenant-a", "patient": row["patient"], "coverages": row["coverages"]})
    assert opened["patient"]["last_name"] == "Lee" and opened["patient"]["phone"] == "6175550134"
    assert [c["member_id"] for c in opened["coverages"]] == ["COPAY1001"]

    await api.consume(envelopes[1])  # A08 without IN1: demographics updated, the coverage on file kept
    row = await api.scalar("SELECT coverages FROM patients WHERE patient_key = :k", k=mrn_key("MRN-ADT-1"))
    assert [c["member_id"] for c in PHI.open(patients, {"tenant_id": "tenant-a", "coverages": row})["coverages"]] \
        == ["COPAY1001"]
    audit = await api.scalar("SELECT count(*) FROM audit_log WHERE action = 'patient.register_feed'")
    assert audit == 2


async def test_an_adt_registration_with_errors_is_dead_lettered_with_codes_not_values(api, tmp_path):
    acks, [envelope] = await _over_mllp(tmp_path, _adt("A04", "ADT-9", zip_code="62704"))  # an Illinois ZIP in MA
    assert acks[0].split("\r")[1] == "MSA|AA|ADT-9"  # well-formed: handed over; eligibility judges the registration
    applier = await api.consume(envelope)
    assert applier.dead_lettered == 1
    reason = await api.scalar("SELECT reason FROM dead_letters")
    assert "REG005" in reason and "62704" not in reason and "Lee" not in reason
    assert await api.scalar("SELECT count(*) FROM patients") == 0
