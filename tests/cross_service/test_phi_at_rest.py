"""PHI at rest (rcm_runtime.phi): recognisable patient data goes through the services' real code paths (charges'
intake API, eligibility's registration API and consumer with the sandbox as its payer, coding, the scrubber,
submission's consumer and its 837P dispatch), then every table of each service's schema is read raw, as the
PostgreSQL superuser: the names, birth date, member id and address appear nowhere (nor as X12 writes them,
upper-cased, the birth date as D8). The APIs still answer them: reads open the sealed values."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import text

from rcm_contracts.envelope import Envelope
from rcm_submission.service import Submission
from tests.support.encounters import generate
from tests.support.fuzz import TARGETS, target_api

pytestmark = pytest.mark.integration

PATIENT = {"first_name": "Marvelline", "last_name": "Quillfeatherstone", "birth_date": "1931-07-19", "sex": "F",
           "address": {"line1": "4242 Sealedwax Road", "city": "Cipherton", "state": "IL", "postal_code": "62704"}}
MEMBER_ID = "M73190426"
PHI_STRINGS = ["Marvelline", "Quillfeatherstone", "1931-07-19", "19310719", MEMBER_ID, "Sealedwax", "Cipherton"]
CHAIN = ("charges", "eligibility", "coding", "scrubber", "submission")
# a table of each service that must hold the claim (the check reads something)
HOLDS_THE_CLAIM = {"charges": "encounters", "eligibility": "coverage_checks", "coding": "coded_claims",
                   "scrubber": "scrubbed_claims", "submission": "interchanges"}


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
        apis = {name: await stack.enter_async_context(target_api(targets[name])) for name in CHAIN}
        charges, eligibility, coding, scrubber, submission = (apis[n] for n in CHAIN)

        r = await charges.client.post("/v1/encounters", json=body, headers=charges.headers())
        assert r.status_code == 201, r.text
        claim_id = r.json()["claim_id"]
        registration = {"patient": PATIENT, "coverages": [{**body["coverage"], "effective_from": "2024-01-01",
                                                           "order_of_benefits": 1}]}
        r = await eligibility.client.put("/v1/patients/MRN-PHI-1", json=registration, headers=eligibility.headers())
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

        for name, api in apis.items():
            tables = await raw_text_of_every_table(api)
            assert "phi1." in tables[HOLDS_THE_CLAIM[name]]
            for table, content in tables.items():
                found = [s for s in PHI_STRINGS if s.lower() in content.lower()]
                assert not found, f"{name}.{table} holds {found} in plain text"
        sent = (await submission.client.get(f"/v1/claims/{claim_id}", headers=submission.headers())).json()
        assert sent["status"] == "sent"
        icn = sent["interchange_control_number"]
        assert (await submission.client.get(f"/v1/interchanges/{icn}", headers=submission.headers())).json()[
            "content"].count(MEMBER_ID) >= 1  # the 837P as sent, opened for its reader
        # the APIs answer the PHI as before: the repositories open it
        for name in ("charges", "coding"):
            got = (await apis[name].client.get(f"/v1/claims/{claim_id}", headers=apis[name].headers())).json()
            patient = got["claim"]["patient"]
            assert (patient["last_name"], patient["birth_date"], patient["address"]["line1"]) == (
                PATIENT["last_name"], PATIENT["birth_date"], PATIENT["address"]["line1"])
            assert got["claim"]["coverage"]["member_id"] == MEMBER_ID
        assert (await charges.client.get(f"/v1/claims/{uuid.uuid4()}", headers=charges.headers())).status_code == 404
