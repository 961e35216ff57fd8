"""The sandbox payer's 835s posted by remittance, both apps in-process against the real PostgreSQL: several claims
per check, a reversal and correction with its overpayment parked and recovered from a later check (PLB WO), interest
on a late payment (PLB L6), and a supplemental plan paying as secondary (CLP02 2, OA-23). Each ERA the sandbox sends
is posted as it comes, and the claims' ledgers say what happened."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest

from rcm_charges.domain.claim_builder import build_claim
from rcm_contracts.claim import Adjustment, OtherPayer, patient_control_number
from rcm_contracts.events import EncounterSubmitted
from rcm_remittance.app import create_app as create_remittance
from rcm_remittance.db import metadata as remittance_metadata
from rcm_remittance.settings import Settings as RemittanceSettings
from rcm_runtime.clock import FixedClock
from rcm_sandbox.app import create_app as create_sandbox
from rcm_sandbox.db import metadata as sandbox_metadata
from rcm_sandbox.service import CannotDeliver, Sandbox
from rcm_sandbox.settings import Settings as SandboxSettings
from rcm_submission.service import Identity, Receiver, build_valid_interchange
from rcm_x12.format import x12_amount
from tests.support.api import service_api
from tests.support.encounters import PROVIDER_PROFILES, generate
from tests.support.era835 import submit_claim

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
X12 = {"content-type": "application/edi-x12", "x-api-key": "ch-test-key"}


class Eras:
    def __init__(self) -> None:
        self.delivered: list[tuple[str, str]] = []

    async def __call__(self, tenant_id: str, era: str, payer_id: str | None = None) -> None:
        self.delivered.append((tenant_id, era))


@pytest.fixture
async def apis():
    clock = FixedClock(NOW)
    async with service_api(create_sandbox, SandboxSettings, sandbox_metadata, clock=clock,
                           clearinghouse_key="ch-test-key", adjudication_delay_s=1.0, loops_enabled=False) as sandbox, \
            service_api(create_remittance, RemittanceSettings, remittance_metadata) as remittance:
        sandbox.clock = clock
        sandbox.payer = sandbox.app.state.runtime.services[Sandbox]
        sandbox.payer.deliver_era = sandbox.eras = Eras()
        yield sandbox, remittance


def claim_for(member: str, payer: str = "SBX01", seed: int = 1):
    [g] = generate(1, seed=seed, scenarios=["paid"])
    body = {**g.body, "billing_provider": PROVIDER_PROFILES[0],
            "coverage": {**g.body["coverage"], "payer_id": payer, "member_id": member}}
    return build_claim(EncounterSubmitted.model_validate(body), claim_id=uuid.uuid4(), encounter_id=uuid.uuid4())


async def send(sandbox, claims, payer: str, icn: int) -> None:
    built = build_valid_interchange(claims, tenant_id="tenant-a", payer_id=payer, control_number=icn,
                                    identity=Identity("OpenRCM Billing", "EDI Desk", "8005550100"),
                                    receiver=Receiver("sandbox", "SANDBOX"), now=NOW, usage="T")
    assert built.text and not built.returned, built.returned
    resp = await sandbox.client.post("/v1/x12/inbound", params={"name": f"{icn:09d}.837"},
                                     content=built.text.encode(), headers=X12)
    assert resp.status_code == 202


async def cycle(sandbox, remittance) -> list[str]:
    """One remit cycle a second later; every ERA it sends is posted by remittance. Returns the ERAs."""
    sandbox.clock.advance(timedelta(seconds=1))
    before = len(sandbox.eras.delivered)
    await sandbox.payer.remit_once()
    eras = [era for _, era in sandbox.eras.delivered[before:]]
    for era in eras:
        resp = await remittance.client.post("/v1/remittances/x12", content=era.encode(),
                                            headers=remittance.headers("tenant-a", **{"content-type": "application/edi-x12"}))
        assert resp.status_code == 200 and resp.json()["status"] == "posted", resp.text
    return eras


async def ledger(remittance, claim_id) -> dict:
    resp = await remittance.client.get(f"/v1/claims/{claim_id}/ledger", headers=remittance.headers("tenant-a"))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def registered(remittance, claim, payer: str) -> uuid.UUID:
    return await submit_claim(remittance, patient_control_number(claim.claim_id), payer_id=payer,
                              total_charge=str(claim.total_charge))


async def test_reversal_and_correction_then_the_overpayment_recovered_from_the_next_check(apis):
    sandbox, remittance = apis
    repro, late = claim_for("REPRO10001", seed=1), claim_for("LATE10002", seed=2)
    ids = {c.claim_id: await registered(remittance, c, "SBX01") for c in (repro, late)}
    await send(sandbox, [repro, late], "SBX01", 41)

    [first] = await cycle(sandbox, remittance)  # both claims in one check: CLP02 1, interest for the late one
    assert first.count("CLP*") == 2 and "AMT*I*" in first and "*L6:" in first
    paid_first = D((await ledger(remittance, ids[repro.claim_id]))["totals"]["payer_paid"])
    late_ledger = await ledger(remittance, ids[late.claim_id])
    interest = [e for e in late_ledger["entries"] if e["kind"] == "provider_adjustment"]
    assert [(e["reason_code"], D(e["amount"]) < 0) for e in interest] == [("L6", True)]  # linked by CLP01

    [second] = await cycle(sandbox, remittance)  # the payer found its mistake: reversal and correction
    pcn = patient_control_number(repro.claim_id)
    assert f"CLP*{pcn}*22*-" in second and f"CLP*{pcn}*1*" in second and f"*WO:{pcn}*-" in second
    repro_ledger = await ledger(remittance, ids[repro.claim_id])
    paid_now = D(repro_ledger["totals"]["payer_paid"])
    assert paid_now < paid_first  # the correction pays the right, lower rate; the reversal took the first back
    assert D(repro_ledger["totals"]["balance"]) == 0
    assert await sandbox.scalar("SELECT status FROM payer_claims WHERE recoupment_due IS NOT NULL") == "reprocessed"

    assert await cycle(sandbox, remittance) == []  # nothing to pay: the recovery waits for a check to take it from
    newcomer = claim_for("M10003", seed=3)
    await registered(remittance, newcomer, "SBX01")
    await send(sandbox, [newcomer], "SBX01", 42)
    [third] = await cycle(sandbox, remittance)
    overpaid = paid_first - paid_now
    assert f"PLB*1234567893*20261231*WO:{pcn}*{x12_amount(overpaid)}~" in third
    wo = [(D(e["amount"])) for e in (await ledger(remittance, ids[repro.claim_id]))["entries"]
          if e["kind"] == "provider_adjustment" and e["reason_code"] == "WO"]
    assert sorted(wo) == [-overpaid, overpaid]  # parked, then recovered: both on the claim's ledger
    assert await sandbox.scalar("SELECT count(*) FROM payer_claims WHERE recoupment_due IS NOT NULL") == 0


async def test_the_supplement_pays_as_secondary_and_the_patient_keeps_the_copay(apis):
    sandbox, remittance = apis
    primary = claim_for("COB20001", seed=4)
    claim_id = await registered(remittance, primary, "SBX01")
    await send(sandbox, [primary], "SBX01", 51)
    await cycle(sandbox, remittance)
    after_primary = (await ledger(remittance, claim_id))["totals"]
    owed = D(after_primary["patient_responsibility"]["total"])
    assert D(after_primary["patient_responsibility"]["copay"]) == D("20.00") and owed > D("20.00")

    posted = (await remittance.client.get(f"/v1/claims/{claim_id}", headers=remittance.headers("tenant-a"))).json()
    other = OtherPayer(coverage=primary.coverage, payer_claim_control_number=posted["payer_claim_control_number"],
                       paid_amount=D(posted["paid_amount"]), adjudication_date=date(2026, 11, 30),
                       adjustments=[Adjustment.model_validate(a) for a in posted["adjustments"]])
    secondary = primary.model_copy(update={
        "coverage": primary.coverage.model_copy(update={"payer_id": "SBX03", "payer_name": "Sandbox Medigap Supplement",
                                                        "member_id": "SUPP20001"}),
        "payer_responsibility": "S", "other_payers": [other]})
    await send(sandbox, [secondary], "SBX03", 52)  # the same CLM01, to another payer: another payer claim
    assert await sandbox.scalar("SELECT count(*) FROM payer_claims") == 2
    [era] = await cycle(sandbox, remittance)
    assert f"CLP*{patient_control_number(primary.claim_id)}*2*" in era and "CAS*OA*23*" in era
    totals = (await ledger(remittance, claim_id))["totals"]
    assert D(totals["payer_paid"]) == D(after_primary["payer_paid"]) + owed - D("20.00")
    assert D(totals["patient_responsibility"]["total"]) == D("20.00") == D(totals["balance"])
    assert D(totals["charge"]) == primary.total_charge  # the secondary does not charge the claim again


async def test_a_tenant_the_payer_cannot_deliver_to_does_not_hold_up_the_others(apis):
    """A cycle is one transaction: an ERA that cannot be delivered (a tenant without an API key) fails it, and the
    tenant sits out the next cycles, so the other tenants' claims are paid meanwhile."""
    sandbox, remittance = apis

    class NoKeyFor(Eras):
        async def __call__(self, tenant_id: str, era: str, payer_id: str | None = None) -> None:
            if tenant_id == "tenant-nokey":
                raise CannotDeliver("no API key for tenant")
            await super().__call__(tenant_id, era, payer_id)

    sandbox.payer.deliver_era = sandbox.eras = NoKeyFor()
    for icn, tenant in ((301, "tenant-nokey"), (302, "tenant-a")):  # the undeliverable claim is the oldest
        built = build_valid_interchange([claim_for("M20000001", seed=icn)], tenant_id=tenant, payer_id="SBX01",
                                        control_number=icn, identity=Identity("OpenRCM Billing", "EDI Desk",
                                                                              "8005550100"),
                                        receiver=Receiver("sandbox", "SANDBOX"), now=NOW, usage="T")
        resp = await sandbox.client.post("/v1/x12/inbound", params={"name": f"{icn:09d}.837"},
                                         content=built.text.encode(), headers=X12)
        assert resp.status_code == 202
    sandbox.clock.advance(timedelta(seconds=1))

    with pytest.raises(CannotDeliver):
        await sandbox.payer.remit_once()
    assert sandbox.eras.delivered == []
    assert await sandbox.payer.remit_once() == 1  # tenant-a's claim, without waiting for the other
    assert [tenant for tenant, _ in sandbox.eras.delivered] == ["tenant-a"]
    assert await sandbox.payer.remit_once() == 0  # tenant-nokey sits out ...
    sandbox.clock.advance(timedelta(seconds=31))
    with pytest.raises(CannotDeliver):  # ... and is tried again later
        await sandbox.payer.remit_once()
