"""Payer contracts and underpayment detection in-process against the real PostgreSQL: the contract routes
(tenants, bad CSV, auth, audit) and 835 posting that flags a payment paid below the contract, stores the finding
and emits PaymentUnderpaid exactly once.

Expected amounts are hand computed from deploy/reference-data/fee-schedules: the fee table prices 22222 at
250.00 from 2025-01-01 and 11111 at 104.50 from 2026-01-01; the Medicare fixture prices 11111 in an office
(POS 11) in MAC 01112 locality 05 at 74.15 (test_medicare_pfs.py), so 120 % of it is 88.98.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from rcm_remittance.app import create_app
from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings
from tests.support.api import service_api
from tests.support.era835 import submit_claim, check, clp, era, svc

pytestmark = pytest.mark.integration
X12 = {"content-type": "application/edi-x12"}
OPERATOR = {"user": "contracts.carla"}  # api.headers(**OPERATOR): a token with this subject
FEES = Path(__file__).resolve().parents[4] / "deploy" / "reference-data" / "fee-schedules"
FEE_TABLE = (FEES / "fee_table_fixture.csv").read_text()


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


@pytest.fixture
async def medicare_api():
    async with service_api(create_app, Settings, metadata, fee_schedule_dir=str(FEES)) as api:
        yield api


async def submit(api, pcn: str, tenant: str = "tenant-a") -> uuid.UUID:
    return await submit_claim(api, pcn, tenant, total_charge="300.00")


async def post(api, text: str, tenant: str = "tenant-a") -> dict:
    resp = await api.client.post("/v1/remittances/x12", content=text.encode(), headers=api.headers(tenant, **X12))
    assert resp.status_code == 200, resp.text
    return resp.json()


async def put_contract(api, payer: str = "SANDBOX1", tenant: str = "tenant-a", **body):
    body.setdefault("fee_table", FEE_TABLE)
    body.setdefault("tolerance", {"absolute": "1.00"})
    return await api.client.put(f"/v1/payers/{payer}/contract", json=body, headers=api.headers(tenant, **OPERATOR))


# ---------------------------------------------------------------- contract routes


async def test_a_contract_is_put_audited_read_back_and_replaced_for_its_own_tenant_only(api):
    resp = await put_contract(api, tolerance={"absolute": "1.00", "percent": "2"}, reason="2026 agreement")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["payer_id"], body["version"], body["fee_table_rows"]) == ("SANDBOX1", 1, 6)  # 6 rows in the CSV
    assert body["tolerance"] == {"absolute": "1.00", "percent": "2"} and body["medicare"] is None
    assert body["updated_by"] == "contracts.carla" and body["fee_table"] == FEE_TABLE

    got = await api.client.get("/v1/payers/SANDBOX1/contract", headers=api.headers())
    assert got.status_code == 200 and got.json() == body
    assert (await api.client.get("/v1/payers/SANDBOX1/contract", headers=api.headers("tenant-b"))).status_code == 404
    assert (await api.client.get("/v1/payers/OTHER/contract", headers=api.headers())).status_code == 404

    again = await put_contract(api, tolerance={"percent": "5"})
    assert again.status_code == 200 and again.json()["version"] == 2
    assert again.json()["tolerance"] == {"absolute": None, "percent": "5"}
    audit = await api.scalar("SELECT string_agg(action || ':' || actor || ':' || reason, '|' ORDER BY id) "
                             "FROM remittance_audit WHERE subject = 'contract' AND subject_id = 'SANDBOX1' "
                             "AND tenant_id = 'tenant-a'")
    assert audit == "put v1:contracts.carla:2026 agreement|put v2:contracts.carla:contract terms updated"
    # tenant b's contract with the same payer is its own
    assert (await put_contract(api, tenant="tenant-b")).json()["version"] == 1
    assert (await api.client.get("/v1/payers/SANDBOX1/contract", headers=api.headers())).json()["version"] == 2


async def test_bad_contracts_are_422_with_reasons_and_nothing_is_stored(api):
    bad_csv = ("code,modifier,amount,effective_from,effective_to\n"
               "22222,,abc,2025-01-01,\n"
               "33333,,10.00,2025-13-01,\n"
               "44444,,10.00,2025-01-01,\n")
    resp = await put_contract(api, fee_table=bad_csv)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["code"] == "invalid_fee_table"
    assert [e["row"] for e in body["errors"]] == [2, 3]
    assert "amount is not a decimal number" in body["errors"][0]["reason"]
    assert "effective_from" in body["errors"][1]["reason"]

    wrong_header = await put_contract(api, fee_table="cpt,price\n22222,10\n")
    assert wrong_header.status_code == 422 and wrong_header.json()["errors"][0]["row"] == 1

    nothing = await put_contract(api, fee_table=None)
    assert nothing.status_code == 422 and nothing.json()["code"] == "invalid_contract"

    no_schedule = await put_contract(api, fee_table=None, medicare={"percent": "120", "mac": "01112", "locality": "05"})
    assert no_schedule.status_code == 422 and "fee_schedule_dir" in no_schedule.json()["description"]

    negative = await put_contract(api, tolerance={"absolute": "-1"})
    assert negative.status_code == 422

    no_actor = await api.client.put("/v1/payers/SANDBOX1/contract", json={"fee_table": FEE_TABLE},
                                    headers={"X-User": "contracts.carla"})
    assert no_actor.status_code == 401  # the change is audited: who acts comes from a token, never a header
    assert await api.scalar("SELECT count(*) FROM payer_contracts") == 0
    assert await api.scalar("SELECT count(*) FROM remittance_audit") == 0


async def test_contract_routes_need_a_key(api):
    assert (await api.client.get("/v1/payers/SANDBOX1/contract")).status_code == 401
    resp = await api.client.put("/v1/payers/SANDBOX1/contract", json={"fee_table": FEE_TABLE}, headers=OPERATOR)
    assert resp.status_code == 401
    assert (await api.client.get(f"/v1/claims/{uuid.uuid4()}/underpayments")).status_code == 401
    assert await api.scalar("SELECT count(*) FROM payer_contracts") == 0


async def test_medicare_percentage_contract_needs_a_known_locality(medicare_api):
    api = medicare_api
    unknown = await put_contract(api, fee_table=None, medicare={"percent": "120", "mac": "01112", "locality": "77"})
    assert unknown.status_code == 422 and unknown.json()["code"] == "invalid_contract"
    ok = await put_contract(api, fee_table=None, medicare={"percent": "120", "mac": "01112", "locality": "5"})
    assert ok.status_code == 200, ok.text
    assert ok.json()["medicare"] == {"percent": "120", "mac": "01112", "locality": "05"}


# ---------------------------------------------------------------- posting


async def test_an_underpaid_payment_is_flagged_stored_and_emitted_once(api):
    under = await submit(api, "PCN-U")
    fair = await submit(api, "PCN-F")
    within = await submit(api, "PCN-W")
    assert (await put_contract(api)).status_code == 200
    # 22222 contracted at 250.00. PCN-U: allowed 300.00 - CO-45 120.00 = 180.00, 70.00 short. PCN-F: allowed
    # 300.00 - 50.00 = 250.00 (PR-2 20.00 is the patient's, not a shortfall). PCN-W: allowed 249.50, 0.50 short,
    # within the 1.00 tolerance.
    text = era(check([
        clp("PCN-U", "300.00", "180.00", pccn="P-U", lines=[svc("22222", "300.00", "180.00", [("CO", "45", "120.00")])]),
        clp("PCN-F", "300.00", "230.00", pccn="P-F",
            lines=[svc("22222", "300.00", "230.00", [("CO", "45", "50.00"), ("PR", "2", "20.00")])]),
        clp("PCN-W", "300.00", "249.50", pccn="P-W", lines=[svc("22222", "300.00", "249.50", [("CO", "45", "50.50")])]),
    ]))
    first = await post(api, text)
    assert first["status"] == "posted" and first["posted"] == 3
    checks = {c["patient_control_number"]: c["contract_check"] for c in first["claims"]}
    assert checks["PCN-U"] == {"status": "paid_incorrectly", "expected_allowed": "250.00", "actual_allowed": "180.00",
                               "difference": "-70.00"}
    assert checks["PCN-F"]["status"] == "paid_correctly" and checks["PCN-F"]["difference"] == "0.00"
    assert checks["PCN-W"]["status"] == "paid_correctly" and checks["PCN-W"]["difference"] == "-0.50"

    [event] = await api.outbox_events("payment-underpaid")
    assert event["tenantid"] == "tenant-a" and event["partitionkey"] == str(under)
    data = event["data"]
    remittance_id = next(c["remittance_id"] for c in first["claims"] if c["patient_control_number"] == "PCN-U")
    assert (data["claim_id"], data["remittance_id"], data["payer_id"], data["claim_status_code"]) == (
        str(under), remittance_id, "SANDBOX1", "1")
    assert (data["expected_allowed"], data["actual_allowed"], data["underpaid_amount"]) == ("250.00", "180.00", "70.00")
    assert data["lines"] == [{"line_number": 1, "procedure_code": "22222", "modifiers": [], "units": "1",
                              "date_of_service": "2026-10-01", "expected_allowed": "250.00",
                              "actual_allowed": "180.00", "underpaid_amount": "70.00"}]
    types = [e["type"].rsplit(".", 2)[-2] for e in await api.outbox_events()]
    assert types.index("payment-underpaid") > max(i for i, t in enumerate(types) if t == "payment-posted")

    found = (await api.client.get(f"/v1/claims/{under}/underpayments", headers=api.headers())).json()
    [item] = found["items"]
    assert (item["expected_allowed"], item["actual_allowed"], item["difference"]) == ("250.00", "180.00", "-70.00")
    assert item["remittance_id"] == remittance_id and item["contract_version"] == 1
    assert item["lines"][0]["status"] == "paid_incorrectly"
    for other in (fair, within):
        assert (await api.client.get(f"/v1/claims/{other}/underpayments", headers=api.headers())).json()["items"] == []
    assert (await api.client.get(f"/v1/claims/{under}/underpayments",
                                 headers=api.headers("tenant-b"))).json()["items"] == []

    # the same file again, and the same payment in another interchange: posted once, flagged once
    assert (await post(api, text))["status"] == "duplicate"
    other_file = await post(api, era(check([clp("PCN-U", "300.00", "180.00", pccn="P-U", lines=[
        svc("22222", "300.00", "180.00", [("CO", "45", "120.00")])])]), isa13="000000902"))
    assert other_file["posted"] == 0 and other_file["duplicates"] == 1
    assert len(await api.outbox_events("payment-underpaid")) == 1
    assert await api.scalar("SELECT count(*) FROM payment_underpayments") == 1


async def test_without_a_contract_nothing_is_flagged(api):
    claim_id = await submit(api, "PCN-N")
    other_tenant_claim = await submit(api, "PCN-N", tenant="tenant-b")
    assert (await put_contract(api, payer="ANOTHERPAYER")).status_code == 200  # tenant a: another payer only
    assert (await put_contract(api, tenant="tenant-b", payer="ANOTHERPAYER")).status_code == 200
    text = era(check([clp("PCN-N", "300.00", "10.00", lines=[svc("22222", "300.00", "10.00", [("CO", "45", "290.00")])])]))
    for tenant in ("tenant-a", "tenant-b"):
        result = await post(api, text, tenant=tenant)
        assert result["posted"] == 1 and "contract_check" not in result["claims"][0]
    assert await api.outbox_events("payment-underpaid") == []
    assert await api.scalar("SELECT count(*) FROM payment_underpayments") == 0
    posted = await api.scalar("SELECT string_agg(tenant_id || '/' || claim_id::text, ',' ORDER BY tenant_id) "
                              "FROM posted_payments")
    assert posted == f"tenant-a/{claim_id},tenant-b/{other_tenant_claim}"  # both posted, neither flagged


async def test_a_code_the_contract_does_not_price_is_not_flagged(api):
    await submit(api, "PCN-X")
    await put_contract(api)
    result = await post(api, era(check([clp("PCN-X", "300.00", "10.00", lines=[
        svc("99999", "300.00", "10.00", [("CO", "45", "290.00")])])])))
    assert result["claims"][0]["contract_check"]["status"] == "no_contract_rate"
    assert await api.outbox_events("payment-underpaid") == []


async def test_a_secondary_payment_is_checked_against_that_payers_contract(api):
    claim_id = await submit(api, "PCN-S")
    await put_contract(api, payer="SECONDPAYER", tolerance={})
    # secondary (CLP02 2) from SECONDPAYER: 11111 on 2026-10-01 contracted at 104.50, allowed 100.00
    result = await post(api, era(check([clp("PCN-S", "300.00", "60.00", status="2", lines=[
        svc("11111", "300.00", "60.00", [("CO", "45", "200.00"), ("PR", "2", "40.00")])])],
        payer_id="SECONDPAYER", trace="TRN-SEC-1")))
    assert result["posted"] == 1, result
    [event] = await api.outbox_events("payment-underpaid")
    assert event["data"]["claim_id"] == str(claim_id) and event["data"]["claim_status_code"] == "2"
    assert (event["data"]["expected_allowed"], event["data"]["actual_allowed"]) == ("104.50", "100.00")


async def test_a_denied_payment_is_not_checked(api):
    await submit(api, "PCN-D")
    await put_contract(api)
    denied = await post(api, era(check([clp("PCN-D", "300.00", "0.00", status="4", lines=[
        svc("22222", "300.00", "0.00", [("CO", "50", "300.00")])])])))
    assert denied["posted"] == 1 and "contract_check" not in denied["claims"][0]
    assert await api.outbox_events("payment-underpaid") == []


async def test_a_medicare_percentage_contract_flags_a_payment_below_120_percent(medicare_api):
    api = medicare_api
    claim_id = await submit(api, "PCN-M")
    resp = await put_contract(api, fee_table=None, medicare={"percent": "120", "mac": "01112", "locality": "05"},
                              tolerance={"absolute": "0.50"})
    assert resp.status_code == 200, resp.text
    # 11111 in an office (POS 11, the default) on 2026-10-01: Medicare 74.15, 120 % = 88.98; allowed 80.00
    result = await post(api, era(check([clp("PCN-M", "150.00", "80.00", lines=[
        svc("11111", "150.00", "80.00", [("CO", "45", "70.00")])])])))
    assert result["claims"][0]["contract_check"] == {"status": "paid_incorrectly", "expected_allowed": "88.98",
                                                     "actual_allowed": "80.00", "difference": "-8.98"}
    [event] = await api.outbox_events("payment-underpaid")
    assert event["data"]["claim_id"] == str(claim_id) and event["data"]["underpaid_amount"] == "8.98"


async def test_a_payment_that_waited_for_its_claim_is_checked_when_it_posts(api):
    await put_contract(api)
    text = era(check([clp("PCN-L", "300.00", "180.00", lines=[svc("22222", "300.00", "180.00", [("CO", "45", "120.00")])])]))
    early = await post(api, text)
    assert early["unmatched"] == 1 and await api.outbox_events("payment-underpaid") == []
    claim_id = await submit(api, "PCN-L")  # claim-submitted arrives: the queued payment posts in that consumer batch
    [event] = await api.outbox_events("payment-underpaid")
    assert event["data"]["claim_id"] == str(claim_id)
    assert (event["data"]["expected_allowed"], event["data"]["actual_allowed"]) == ("250.00", "180.00")


async def test_the_contract_prices_at_the_place_of_service_the_claim_was_submitted_with(medicare_api):
    """POS 22 (outpatient hospital) is a facility setting: 11111 there is 51.94, 120 % = 62.33, so an allowed 80.00
    is not underpaid; the same payment at POS 11 (office, 88.98) is."""
    api = medicare_api
    await put_contract(api, fee_table=None, medicare={"percent": "120", "mac": "01112", "locality": "05"},
                       tolerance={"absolute": "0.50"})
    await submit_claim(api, "PCN-F", total_charge="150.00", place_of_service="22")
    await submit_claim(api, "PCN-O", total_charge="150.00", place_of_service="11")
    result = await post(api, era(check([clp(pcn, "150.00", "80.00", lines=[
        svc("11111", "150.00", "80.00", [("CO", "45", "70.00")])]) for pcn in ("PCN-F", "PCN-O")])))
    facility, office = (c["contract_check"] for c in result["claims"])
    assert (facility["expected_allowed"], office["expected_allowed"]) == ("62.33", "88.98")
    assert facility["status"] != "paid_incorrectly" and office["status"] == "paid_incorrectly"
