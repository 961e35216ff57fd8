"""The sandbox's routers and its payer/mailbox loops in-process (its own create_app, httpx ASGI transport) against
the real PostgreSQL; time from a FixedClock, ERAs delivered to a recorder instead of remittance."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

from rcm_charges.domain.claim_builder import build_claim
from rcm_contracts.claim import patient_control_number
from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.clock import FixedClock
from rcm_sandbox.app import create_app
from rcm_sandbox.db import metadata
from rcm_sandbox.domain.clearinghouse import sandbox_claim_id
from rcm_sandbox.service import Sandbox
from rcm_sandbox.settings import Settings
from rcm_submission.service import Identity, Receiver, build_valid_interchange
from tests.support.api import service_api
from tests.support.encounters import PROVIDER_PROFILES, generate

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc)
KEY = {"x-api-key": "ch-test-key"}
X12 = {"content-type": "application/edi-x12", **KEY}

# A real-time 270 (005010X279A1) for a copay member of SBX01, as eligibility sends it.
INQUIRY_270 = (
    "ISA*00*          *00*          *ZZ*tenant-a       *ZZ*SBX01          *261130*1500*^*00501*000000007*0*T*:~"
    "GS*HS*tenant-a*SBX01*20261130*1500*7*X*005010X279A1~ST*270*0007*005010X279A1~BHT*0022*13*7*20261130*1500~"
    "HL*1**20*1~NM1*PR*2*Sandbox Health Plan*****PI*SBX01~HL*2*1*21*1~NM1*1P*2*Demo Family Practice*****XX*1234567893~"
    "HL*3*2*22*0~TRN*1*7*90tenant-a~NM1*IL*1*RIVERA*AVA****MI*{member}~DMG*D8*19800102~DTP*291*D8*20261130~EQ*30~"
    "SE*13*0007~GE*1*7~IEA*1*000000007~")


def claims(n: int, *, seed: int = 31, npi: str | None = None):
    out = []
    for g in generate(n, seed=seed, scenarios=["paid"]):
        provider = {**PROVIDER_PROFILES[0], **({"npi": npi} if npi else {})}
        body = {**g.body, "billing_provider": provider, "coverage": {**g.body["coverage"], "payer_id": "SBX01"}}
        out.append(build_claim(EncounterSubmitted.model_validate(body), claim_id=uuid.uuid4(), encounter_id=uuid.uuid4()))
    return out


def interchange_837(batch, *, tenant: str = "tenant-a", icn: int = 41) -> str:
    built = build_valid_interchange(batch, tenant_id=tenant, payer_id="SBX01", control_number=icn,
                                    identity=Identity("OpenRCM Billing", "EDI Desk", "8005550100"),
                                    receiver=Receiver("sandbox", "SANDBOX"), now=NOW, usage="T")
    assert built.text and not built.returned
    return built.text


class Eras:
    """Stands in for remittance: records each (tenant, 835) the payer delivers."""

    def __init__(self, fail: bool = False) -> None:
        self.delivered: list[tuple[str, str]] = []
        self.payers: list[str] = []
        self.fail = fail

    async def __call__(self, tenant_id: str, era: str, payer_id: str) -> None:
        if self.fail:
            raise OSError("remittance unreachable")
        self.delivered.append((tenant_id, era))
        self.payers.append(payer_id)


@pytest.fixture
async def api(tmp_path):
    clock = FixedClock(NOW)
    async with service_api(create_app, Settings, metadata, clock=clock, clearinghouse_key="ch-test-key",
                           adjudication_delay_s=1.0, file_drop_root=str(tmp_path), loops_enabled=False) as api:
        api.clock = clock
        api.root = tmp_path
        api.sandbox = api.app.state.runtime.services[Sandbox]
        api.sandbox.deliver_era = api.eras = Eras()
        yield api


async def hand_in(api, text: str, name: str = "000000041.837"):
    return await api.client.post("/v1/x12/inbound", params={"name": name}, content=text.encode(), headers=X12)


# ---------------------------------------------------------------- clearinghouse over HTTP
async def test_an_837_is_answered_with_a_999_and_a_277ca_once_and_its_claims_wait_for_the_payer(api):
    good, not_enrolled = claims(2)
    not_enrolled = not_enrolled.model_copy(update={"billing_provider": not_enrolled.billing_provider.model_copy(
        update={"npi": "1346053105"})})  # the fixtures' not-enrolled NPI: rejected by the 277CA
    text = interchange_837([good, not_enrolled])
    resp = await hand_in(api, text)
    assert resp.status_code == 202
    body = resp.json()
    assert body["received"] == "000000041.837" and [n.rsplit(".", 1)[1] for n in body["responses"]] == ["999", "277"]
    payer_claim = sandbox_claim_id("tenant-a", patient_control_number(good.claim_id))
    rows = (await api.client.get("/v1/payer-claims", headers={"x-api-key": "key-a"})).json()
    assert rows["total"] == 1 and rows["items"][0]["claim_id"] == str(payer_claim)
    assert rows["items"][0]["status"] == "received" and rows["items"][0]["interchange_control_number"] == "000000041.837"
    assert datetime.fromisoformat(rows["items"][0]["received_at"]) == NOW  # the injected clock
    files = (await api.client.get("/v1/x12/outbound", headers=KEY)).json()["files"]
    assert [f["name"] for f in files] == body["responses"]
    assert "AK9*A*1*1*1~" in files[0]["content"]  # the 999 accepts the group
    ca = files[1]["content"]
    assert ca.count("STC*A2:20") == 1 and "STC*A7:562:85" in ca  # one accepted, one not enrolled
    assert "*261130*1500*" in ca  # dated by the injected clock

    again = await hand_in(api, text)
    assert again.status_code == 202 and again.json()["responses"] == []
    assert await api.scalar("SELECT count(*) FROM outbound_files") == 2
    assert await api.scalar("SELECT count(*) FROM received_interchanges") == 1


async def test_inbound_refuses_what_is_not_x12_and_callers_without_the_submitter_key(api):
    garbage = await hand_in(api, "Dear payer, please pay.")
    assert garbage.status_code == 400 and garbage.json()["code"] == "not_x12"
    text = interchange_837(claims(1, seed=32))
    no_key = await api.client.post("/v1/x12/inbound", params={"name": "a.837"}, content=text.encode())
    wrong = await api.client.post("/v1/x12/inbound", params={"name": "a.837"}, content=text.encode(),
                                  headers={"x-api-key": "key-a"})  # a tenant key is not a submitter key
    assert no_key.status_code == 401 and wrong.status_code == 401
    assert wrong.json()["code"] == "unauthenticated"
    no_name = await api.client.post("/v1/x12/inbound", content=text.encode(), headers=X12)
    assert no_name.status_code == 422 and no_name.json()["errors"][0]["field"] == "query.name"
    assert await api.scalar("SELECT count(*) FROM received_interchanges") == 0
    assert await api.scalar("SELECT count(*) FROM payer_claims") == 0


async def test_responses_are_listed_oldest_first_and_removed_once_picked_up(api):
    await hand_in(api, interchange_837(claims(1, seed=33)))
    first = (await api.client.get("/v1/x12/outbound", params={"limit": 1}, headers=KEY)).json()["files"]
    assert len(first) == 1 and first[0]["name"].endswith(".999")
    assert (await api.client.get("/v1/x12/outbound", headers={"x-api-key": "guess"})).status_code == 401
    assert (await api.client.get("/v1/x12/outbound", params={"limit": 0}, headers=KEY)).status_code == 422
    refused = await api.client.delete(f"/v1/x12/outbound/{first[0]['id']}")
    assert refused.status_code == 401 and await api.scalar("SELECT count(*) FROM outbound_files") == 2
    gone = await api.client.delete(f"/v1/x12/outbound/{first[0]['id']}", headers=KEY)
    assert gone.status_code == 204
    left = (await api.client.get("/v1/x12/outbound", headers=KEY)).json()["files"]
    assert [f["name"].rsplit(".", 1)[1] for f in left] == ["277"]
    assert (await api.client.delete(f"/v1/x12/outbound/{first[0]['id']}", headers=KEY)).status_code == 204  # again
    assert (await api.client.delete("/v1/x12/outbound/first", headers=KEY)).status_code == 422


# ---------------------------------------------------------------- payer: real-time eligibility
async def test_a_270_is_answered_with_the_members_benefits_in_a_271(api):
    resp = await api.client.post("/v1/eligibility", content=INQUIRY_270.format(member="COPAY1234567").encode(),
                                 headers=X12)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/edi-x12")
    text = resp.text
    assert "ST*271*0001*005010X279A1~" in text and "TRN*2*7*90tenant-a~" in text
    assert "EB*1*IND*30*PR*SANDBOX PPO~" in text and "EB*B*IND*98***27*25.00*****Y~" in text  # the COPAY plan
    assert "BHT*0022*11*R1*20261130*1500~" in text  # dated by the injected clock
    unknown = await api.client.post("/v1/eligibility", content=INQUIRY_270.format(member="NOTFOUND1").encode(),
                                    headers=X12)
    assert "AAA*Y**75*C~" in unknown.text  # subscriber not found


async def test_eligibility_refuses_a_bad_270_and_callers_without_the_key(api):
    bad = await api.client.post("/v1/eligibility", content=b"RIVERA AVA COPAY1234567", headers=X12)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_270"
    assert "RIVERA" not in bad.text and "COPAY1234567" not in bad.text
    no_key = await api.client.post("/v1/eligibility", content=INQUIRY_270.format(member="M1").encode())
    assert no_key.status_code == 401


# ---------------------------------------------------------------- payer claims (read API, per tenant)
async def test_payer_claims_are_shown_only_to_their_tenant(api):
    [claim] = claims(1, seed=34)
    await hand_in(api, interchange_837([claim]))
    payer_claim = sandbox_claim_id("tenant-a", patient_control_number(claim.claim_id))
    mine = await api.client.get(f"/v1/claims/{payer_claim}", headers={"x-api-key": "key-a"})
    assert mine.status_code == 200 and mine.json()["payer_id"] == "SBX01" and mine.json()["tenant_id"] == "tenant-a"
    assert (await api.client.get(f"/v1/claims/{payer_claim}", headers={"x-api-key": "key-b"})).status_code == 404
    assert (await api.client.get("/v1/payer-claims", headers={"x-api-key": "key-b"})).json()["total"] == 0
    assert (await api.client.get("/v1/payer-claims")).status_code == 401
    assert (await api.client.get(f"/v1/claims/{payer_claim}")).status_code == 401


# ---------------------------------------------------------------- payer: adjudication and 835s (the remitter)
async def test_the_payer_adjudicates_after_the_delay_and_delivers_one_835_per_tenant(api):
    batch = claims(2, seed=35)
    await hand_in(api, interchange_837(batch))
    assert await api.sandbox.remit_once() == 0  # received just now: the 277CA reaches the submitter first
    api.clock.advance(timedelta(seconds=1))
    assert await api.sandbox.remit_once() == 2
    [(tenant, era)] = api.eras.delivered
    assert tenant == "tenant-a" and era.startswith("ISA*") and "ST*835*" in era
    for c in batch:
        assert f"CLP*{patient_control_number(c.claim_id)}*1*" in era  # paid as primary
    assert "DTM*405*20261130~" in era  # the production date from the injected clock
    assert await api.scalar("SELECT count(*) FROM payer_claims WHERE status = 'remitted'") == 2
    assert await api.scalar("SELECT bool_and(remitted_at = :t) FROM payer_claims", t=api.clock.now())
    assert await api.sandbox.remit_once() == 0  # remitted once


async def test_an_era_that_cannot_be_delivered_leaves_the_claims_to_adjudicate_again(api):
    await hand_in(api, interchange_837(claims(1, seed=36)))
    api.clock.advance(timedelta(seconds=5))
    api.sandbox.deliver_era = Eras(fail=True)
    with pytest.raises(OSError):
        await api.sandbox.remit_once()
    assert await api.scalar("SELECT status FROM payer_claims") == "received"
    api.sandbox.deliver_era = api.eras
    assert await api.sandbox.remit_once() == 1 and len(api.eras.delivered) == 1


# ---------------------------------------------------------------- file drop (SFTP-style mailbox)
async def test_the_mailbox_answers_837s_dropped_in_and_archives_what_is_not_x12(api):
    inbox = api.root / "to-clearinghouse"
    inbox.mkdir()
    (inbox / "000000042.837").write_text(interchange_837(claims(1, seed=37), icn=42))
    (inbox / "000000043.837").write_text("not an interchange")
    (inbox / ".000000044.837.tmp").write_text("half written")
    assert await api.sandbox.mailbox_once() == 2
    answered = sorted(p.name.rsplit(".", 1)[1] for p in (api.root / "from-clearinghouse").iterdir())
    assert answered == ["277", "999"]
    assert sorted(p.name for p in (api.root / "clearinghouse-archive").iterdir()) == ["000000042.837", "000000043.837"]
    assert [p.name for p in inbox.iterdir()] == [".000000044.837.tmp"]  # in flight: left alone
    assert await api.scalar("SELECT count(*) FROM payer_claims") == 1
    assert await api.scalar("SELECT count(*) FROM outbound_files") == 0  # mailbox answers go to the directory
