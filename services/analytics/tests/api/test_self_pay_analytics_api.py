"""Self-pay encounters in analytics, in-process against the real PostgreSQL: charges' SelfPayEncounterCaptured and
patient billing's PatientBalanceOpened give the claim the stage and final state `self_pay`; the pipeline counts it
as such and the KPIs apart from the claims billed to payers (expected figures computed by hand)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from rcm_analytics.app import create_app
from rcm_analytics.db import metadata
from rcm_analytics.settings import Settings
from rcm_contracts.base import Event
from rcm_contracts.envelope import Envelope, new_envelope
from rcm_contracts.events import (
    ClaimScrubbed, ClaimSubmitted, EncounterCaptured, PatientBalanceOpened, SelfPayEncounterCaptured,
)
from tests.support import claims as factory
from tests.support.api import service_api

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
D = Decimal


def env(event: Event, tenant: str, claim_id: uuid.UUID, minutes: int) -> Envelope:
    return new_envelope(event, service=event.SERVICE, tenant_id=tenant, key=str(claim_id),
                        time=T0 + timedelta(minutes=minutes))


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def test_a_self_pay_encounter_is_counted_as_self_pay_never_as_a_submitted_claim(api):
    sp, insured = uuid.uuid4(), uuid.uuid4()
    sp_claim = factory.make_claim(claim_id=sp, source_system="ehr-sp", coverage=factory.make_coverage(),
                                  diagnoses=[], lines=factory.make_lines("99203", "36415", charge="60.00"))
    ins_claim = factory.make_claim(claim_id=insured, source_system="ehr-sp", coverage=factory.make_coverage(),
                                   lines=[factory.make_line(1, "99213", "100.00")])
    opened = PatientBalanceOpened(claim_id=sp, statement_id=uuid.uuid4(), amount_due=D("120.00"),
                                  due_date=date(2026, 4, 1))
    await api.consume(env(SelfPayEncounterCaptured(claim=sp_claim, intake_channel="json"), "tenant-a", sp, 0),
                      env(EncounterCaptured(claim=ins_claim, intake_channel="json"), "tenant-a", insured, 0),
                      env(ClaimScrubbed(claim=ins_claim, decision="clean"), "tenant-a", insured, 1),
                      env(ClaimSubmitted(claim_id=insured, payer_id="SBX01", clearinghouse="sandbox",
                                         interchange_control_number="000000001", total_charge=D("100.00"),
                                         submitted_at=T0), "tenant-a", insured, 2))

    waiting = (await api.client.get(f"/v1/claims/{sp}", headers=api.headers())).json()
    assert (waiting["stage"], waiting["final_state"], waiting["payer_id"]) == ("self_pay", None, None)
    await api.consume(env(opened, "tenant-a", sp, 3))

    read = (await api.client.get(f"/v1/claims/{sp}", headers=api.headers())).json()
    assert (read["stage"], read["final_state"], D(read["total_charge"])) == ("self_pay", "self_pay", D("120.00"))
    timeline = (await api.client.get(f"/v1/claims/{sp}/timeline", headers=api.headers())).json()
    assert timeline["events"][0]["summary"]["self_pay"] is True
    pipeline = (await api.client.get("/v1/pipeline", params={"source_system": "ehr-sp"}, headers=api.headers())).json()
    assert pipeline["by_stage"] == {"self_pay": 1, "submitted": 1}
    assert pipeline["by_final_state"] == {"self_pay": 1} and pipeline["in_flight"] == 1
    kpis = (await api.client.get("/v1/kpis", params={"source_system": "ehr-sp"}, headers=api.headers())).json()
    assert kpis["claims"] == 1 and kpis["clean_claim_rate"] == 1.0  # the insured claim alone
    assert kpis["self_pay_encounters"] == 1 and D(kpis["self_pay_charges"]) == D("120.00")
    theirs = await api.client.get("/v1/kpis", headers=api.headers("tenant-b"))
    assert theirs.json()["self_pay_encounters"] == 0
