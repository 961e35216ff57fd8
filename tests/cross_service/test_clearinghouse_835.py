"""An 835 that travels through the clearinghouse instead of the payer's push: the sandbox payer configured for it
(era_via_clearinghouse) queues its 835 with the submitter's outbound files; submission polls it over HTTP like its
999s and 277CAs and forwards it (RemittanceReceived) for the tenant whose claims it pays; remittance posts it as an
upload would, received by "clearinghouse:sandbox". Three in-process apps (each its own create_app and schema, real
PostgreSQL), the events carried from one's outbox to the next one's consumer handlers by hand."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from rcm_charges.domain.claim_builder import build_claim
from rcm_contracts.claim import patient_control_number
from rcm_contracts.envelope import Envelope
from rcm_contracts.events import ClaimScrubbed, EncounterSubmitted
from rcm_remittance.app import create_app as remittance_app
from rcm_remittance.db import metadata as remittance_metadata
from rcm_remittance.settings import Settings as RemittanceSettings
from rcm_runtime.clock import FixedClock
from rcm_sandbox.app import create_app as sandbox_app
from rcm_sandbox.db import metadata as sandbox_metadata
from rcm_sandbox.service import Sandbox
from rcm_sandbox.settings import Settings as SandboxSettings
from rcm_submission.app import create_app as submission_app
from rcm_submission.clearinghouse import HttpClearinghouse
from rcm_submission.db import metadata as submission_metadata
from rcm_submission.service import Submission
from rcm_submission.settings import Settings as SubmissionSettings
from tests.support.api import ServiceApi, service_api
from tests.support.encounters import PROVIDER_PROFILES, generate

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
KEY = "ch-test-key"
ops = ServiceApi.operator_headers  # a platform operator's token (rcm_runtime.ops)


def claims(n: int, *, payer_id: str, seed: int):
    out = []
    for g in generate(n, seed=seed, scenarios=["paid"]):
        body = {**g.body, "billing_provider": PROVIDER_PROFILES[0], "coverage": {**g.body["coverage"], "payer_id": payer_id}}
        out.append(build_claim(EncounterSubmitted.model_validate(body), claim_id=uuid.uuid4(), encounter_id=uuid.uuid4()))
    return out


class Pushed:
    """Stands in for remittance's HTTP intake (the push): records each (tenant, payer) delivered."""

    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    async def __call__(self, tenant_id: str, era: str, payer_id: str) -> None:
        self.delivered.append((tenant_id, payer_id))


@pytest.fixture
async def stack():
    clock = FixedClock(NOW)
    async with (
        service_api(sandbox_app, SandboxSettings, sandbox_metadata, clock=clock, clearinghouse_key=KEY,
                    adjudication_delay_s=1.0, loops_enabled=False, era_via_clearinghouse="SBX02") as sandbox,
        service_api(submission_app, SubmissionSettings, submission_metadata, clock=clock,
                    clearinghouses=json.dumps({"sandbox": {"kind": "http", "url": "http://unused", "key": KEY}}),
                    dispatch_enabled=False, interchange_usage="T") as submission,
        service_api(remittance_app, RemittanceSettings, remittance_metadata, clock=clock) as remittance,
    ):
        payer = sandbox.app.state.runtime.services[Sandbox]
        payer.deliver_era.push = pushed = Pushed()  # the push goes to a recorder; the clearinghouse way is real
        use_cases = submission.app.state.runtime.services[Submission]
        # submission's HTTP connection talks to the sandbox app in-process
        use_cases.clearinghouses = {"sandbox": HttpClearinghouse("sandbox", "http://sandbox.test", KEY, sandbox.client)}
        yield type("Stack", (), {"clock": clock, "sandbox": sandbox, "payer": payer, "pushed": pushed,
                                 "submission": submission, "use_cases": use_cases, "remittance": remittance})


async def carry(stack, event_type: str) -> list[dict]:
    """submission's events of a type, consumed by remittance's own handlers (as over Kafka)."""
    events = await stack.submission.outbox_events(event_type)
    if events:
        applier = await stack.remittance.consume(*(Envelope.model_validate(e) for e in events))
        assert applier.dead_lettered == 0
    return events


async def test_a_payers_835_through_the_clearinghouse_is_posted_for_its_tenant_and_the_others_are_pushed(stack):
    via_clearinghouse = claims(2, payer_id="SBX02", seed=51)
    pushed = claims(1, payer_id="SBX01", seed=52)
    await stack.submission.consume(*((ClaimScrubbed(claim=c, decision="clean"), "tenant-a", c.claim_id)
                                     for c in via_clearinghouse + pushed))
    await stack.use_cases.dispatch_once()  # two 837s (one per payer) over HTTP to the sandbox
    assert await stack.use_cases.poll_acknowledgments() == 4  # their 999s and 277CAs
    assert await stack.submission.scalar("SELECT json_agg(DISTINCT status) FROM submissions") == ["accepted"]
    await carry(stack, "claim-submitted")  # remittance learns the claims' CLP01s

    stack.clock.advance(timedelta(seconds=2))
    assert await stack.payer.remit_once() == 3
    assert stack.pushed.delivered == [("tenant-a", "SBX01")]  # SBX01 still pushes
    outbound = (await stack.sandbox.client.get("/v1/x12/outbound", headers={"x-api-key": KEY})).json()["files"]
    [era_file] = [f for f in outbound if f["name"].endswith(".835")]
    assert era_file["content"].startswith("ISA*") and "ST*835*" in era_file["content"]

    assert await stack.use_cases.poll_acknowledgments() == 1
    assert (await stack.sandbox.client.get("/v1/x12/outbound", headers={"x-api-key": KEY})).json()["files"] == []
    [row] = [f for f in (await stack.submission.client.get("/v1/acknowledgments", headers=ops())).json()["files"]
             if f["kind"] == "835"]
    assert (row["name"], row["status"], row["tenant_id"]) == (era_file["name"], "forwarded", "tenant-a")
    [forwarded] = await carry(stack, "remittance-received")
    assert forwarded["data"]["content"] == era_file["content"] and forwarded["tenantid"] == "tenant-a"

    files = (await stack.remittance.client.get("/v1/remittances", headers=stack.remittance.headers("tenant-a"))).json()
    [file] = files["items"]
    assert (file["status"], file["received_by"], file["payer_id"]) == ("posted", "clearinghouse:sandbox", "SBX02")
    posted = await stack.remittance.outbox_events("payment-posted")
    assert sorted(e["data"]["claim_id"] for e in posted) == sorted(str(c.claim_id) for c in via_clearinghouse)
    for c in via_clearinghouse:
        ledger = (await stack.remittance.client.get(f"/v1/claims/{c.claim_id}/ledger",
                                                    headers=stack.remittance.headers("tenant-a"))).json()
        assert ledger["totals"]["charge"] == str(c.total_charge) and ledger["entries"]
    assert (await stack.remittance.client.get("/v1/remittances",
                                              headers=stack.remittance.headers("tenant-b"))).json()["total"] == 0
    # the CLP01s the 835 paid are the claims' own
    assert all(f"CLP*{patient_control_number(c.claim_id)}*" in era_file["content"] for c in via_clearinghouse)
