"""PHI at rest (rcm_runtime.phi): recognisable patient data goes through the services' real code paths (charges'
intake API, eligibility's registration and appointment APIs and consumer with the sandbox as its payer, coding, the
scrubber, submission's consumer and its 837P dispatch; the 837P handed to the sandbox clearinghouse, its payer's 835
posted to remittance, which knows no such claim and queues the payment unmatched), then every table of each
service's schema is read raw, as the PostgreSQL superuser: the names, birth date, member id, address and MRN appear
nowhere (nor as X12 writes them, upper-cased, the birth date as D8). The APIs still answer them: reads open the
sealed values."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text

from rcm_contracts.envelope import Envelope
from rcm_sandbox.service import Sandbox
from rcm_submission.service import Submission
from tests.support.encounters import generate
from tests.support.fuzz import TARGETS, Target, target_api

pytestmark = pytest.mark.integration

PATIENT = {"first_name": "Marvelline", "last_name": "Quillfeatherstone", "birth_date": "1931-07-19", "sex": "F",
           "address": {"line1": "4242 Sealedwax Road", "city": "Cipherton", "state": "IL", "postal_code": "62704"}}
MEMBER_ID = "M73190426"
MRN = "MRN-QUILL-4242"  # the practice's patient id: eligibility's registrations and appointments
PHI_STRINGS = ["Marvelline", "Quillfeatherstone", "1931-07-19", "19310719", MEMBER_ID, "Sealedwax", "Cipherton", MRN]
CHAIN = ("charges", "eligibility", "coding", "scrubber", "submission")
# a table of each service that must hold the claim (the check reads something)
HOLDS_THE_CLAIM = {"charges": "encounters", "eligibility": "coverage_checks", "coding": "coded_claims",
                   "scrubber": "scrubbed_claims", "submission": "interchanges", "sandbox": "payer_claims",
                   "remittance": "unmatched_payments"}
SUBMITTER_KEY = "ch-phi-key"
X12 = {"content-type": "application/edi-x12"}


async def raw_text_of_every_table(api) -> dict[str, str]:
    """table -> every row of it as text, read by the superuser (no row-level security, nothing opened)."""
    async with api.engine.connect() as conn:
        tables = (await conn.execute(text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s "
                                          "AND table_type = 'BASE TABLE'"), {"s": api.schema})).scalars().all()
        return {t: " ".join((await conn.execute(text(
            f'SELECT t::text FROM "{api.schema}"."{t}" t'))).scalars().all()) for t in tables}


def events(api_events: list[dict]) -> list[Envelope]:
    return [Envelope.model_validate(e) for e in api_events]


async def test_no_table_of_any_service_holds_the_phi_it_was_given():
    body = {**generate(1, seed=31, scenarios=["paid"])[0].body, "patient": PATIENT}
    body["coverage"] = {**body["coverage"], "member_id": MEMBER_ID}
    body["billing_provider"] = {**body["billing_provider"], "address": {  # a provider's address is not PHI
        "line1": "1 Main St", "city": "Springfield", "state": "IL", "postal_code": "627041234"}}
    targets = {t.name: t for t in TARGETS}
    async with AsyncExitStack() as stack:
        apis = {name: await stack.enter_async_context(target_api(targets[name])) for name in (*CHAIN, "remittance")}
        apis["sandbox"] = await stack.enter_async_context(target_api(
            Target("sandbox", "rcm_sandbox"), clearinghouse_key=SUBMITTER_KEY, adjudication_delay_s=0.0,
            loops_enabled=False))
        charges, eligibility, coding, scrubber, submission = (apis[n] for n in CHAIN)
        sandbox, remittance = apis["sandbox"], apis["remittance"]

        r = await charges.client.post("/v1/encounters", json=body, headers=charges.headers())
        assert r.status_code == 201, r.text
        claim_id = r.json()["claim_id"]
        registration = {"patient": PATIENT, "coverages": [{**body["coverage"], "effective_from": "2024-01-01",
                                                           "order_of_benefits": 1}]}
        r = await eligibility.client.put(f"/v1/patients/{MRN}", json=registration, headers=eligibility.headers())
        assert r.status_code == 200, r.text
        appointment = {"source_system": "sched", "source_appointment_id": "A-PHI-1", "patient_id": MRN,
                       "scheduled_date": body["service_date"], "provider": body["billing_provider"],
                       "procedure_codes": ["99213"]}
        r = await eligibility.client.post("/v1/appointments", json=appointment, headers=eligibility.headers())
        assert r.status_code == 200, r.text

        # each stage consumes what the one before it emitted, through its own handlers
        for before, after, event in (("charges", "eligibility", "encounter-captured"),
                                     ("eligibility", "coding", "coverage-verified"),
                                     ("coding", "scrubber", "claim-coded"),
                                     ("scrubber", "submission", "claim-scrubbed")):
            handed = events(await apis[before].outbox_events(event))
            assert handed, f"{before} emitted no {event}"
            assert (await apis[after].consume(*handed)).applied == len(handed)
        # the 837P goes out: dispatched here, or by the app's own dispatcher loop if it came first
        dispatcher = submission.app.state.runtime.services[Submission]
        for _ in range(100):
            await dispatcher.dispatch_once()
            if await submission.scalar("SELECT status FROM submissions") == "sent":
                break
            await asyncio.sleep(0.2)

        sent = (await submission.client.get(f"/v1/claims/{claim_id}", headers=submission.headers())).json()
        assert sent["status"] == "sent"
        icn = sent["interchange_control_number"]
        x12 = (await submission.client.get(f"/v1/interchanges/{icn}", headers=submission.headers())).json()["content"]
        assert x12.count(MEMBER_ID) >= 1  # the 837P as sent, opened for its reader
        # the sandbox clearinghouse takes it (999 and 277CA wait in its mailbox); its payer adjudicates it and the 835
        # goes to remittance, which has no such claim (no claim-submitted reached it): the payment waits unmatched
        r = await sandbox.client.post("/v1/x12/inbound", params={"name": f"{icn}.837"}, content=x12.encode(),
                                      headers={**X12, "x-api-key": SUBMITTER_KEY})
        assert r.status_code == 202 and len(r.json()["responses"]) == 2, r.text
        eras = []

        async def to_remittance(tenant_id: str, era: str, payer_id: str) -> None:
            eras.append(era)
            posted = await remittance.client.post("/v1/remittances/x12", content=era.encode(),
                                                  headers=remittance.headers(tenant_id, **X12))
            assert posted.status_code == 200, posted.text

        payer = sandbox.app.state.runtime.services[Sandbox]
        payer.deliver_era = to_remittance
        assert await payer.remit_once() == 1
        assert PATIENT["last_name"].lower() in eras[0].lower()  # the 835 names the patient (NM1*QC)
        queued = (await remittance.client.get("/v1/unmatched-payments", headers=remittance.headers())).json()
        assert queued["total"] == 1, queued

        for name, api in apis.items():
            tables = await raw_text_of_every_table(api)
            assert "phi1." in tables[HOLDS_THE_CLAIM[name]]
            for table, content in tables.items():
                found = [s for s in PHI_STRINGS if s.lower() in content.lower()]
                assert not found, f"{name}.{table} holds {found} in plain text"
        # the queued claim payment's dates of service (and procedures) are sealed with it
        assert body["service_date"] not in (await raw_text_of_every_table(remittance))["unmatched_payments"]
        # the APIs answer the PHI as before: the repositories open it
        for name in ("charges", "coding"):
            got = (await apis[name].client.get(f"/v1/claims/{claim_id}", headers=apis[name].headers())).json()
            patient = got["claim"]["patient"]
            assert (patient["last_name"], patient["birth_date"], patient["address"]["line1"]) == (
                PATIENT["last_name"], PATIENT["birth_date"], PATIENT["address"]["line1"])
            assert got["claim"]["coverage"]["member_id"] == MEMBER_ID
        assert (await charges.client.get(f"/v1/claims/{uuid.uuid4()}", headers=charges.headers())).status_code == 404
        listed = (await eligibility.client.get("/v1/appointments", headers=eligibility.headers())).json()["items"]
        assert [a["patient_id"] for a in listed] == [MRN]
        payer_claims = (await sandbox.client.get("/v1/payer-claims", headers=sandbox.headers())).json()["items"]
        assert [c["claim"]["patient"]["last_name"] for c in payer_claims] == [PATIENT["last_name"]]
        files = (await sandbox.client.get("/v1/x12/outbound", headers={"x-api-key": SUBMITTER_KEY})).json()["files"]
        assert [f["name"].rsplit(".", 1)[1] for f in files] == ["999", "277"]
        assert PATIENT["last_name"].lower() in files[1]["content"].lower()  # the 277CA as picked up, opened
