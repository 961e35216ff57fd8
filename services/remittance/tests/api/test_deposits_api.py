"""ERA-to-deposit reassociation in-process against the real PostgreSQL: deposits from a BAI2 file and a CSV
export, matched to the 835 files posted in the test by TRN02 trace and BPR02 amount; re-uploads, mismatches,
unmatched deposits, ERAs without a deposit, tenants, bad files, no key."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from rcm_remittance.app import create_app
from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings
from tests.support.api import service_api
from tests.support.bai2 import bai2
from tests.support.era835 import submit_claim, check, clp, era, svc

pytestmark = pytest.mark.integration
X12 = {"content-type": "application/edi-x12"}
TEXT = {"content-type": "text/plain"}


@pytest.fixture
async def api():
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def submit(api, pcn: str, tenant: str = "tenant-a") -> uuid.UUID:
    return await submit_claim(api, pcn, tenant)


async def post_era(api, pcn: str, paid: str, trace: str, isa13: str, tenant: str = "tenant-a") -> str:
    charge = "100.00"
    pr = str(Decimal(charge) - Decimal(paid))  # the patient's coinsurance balances the line
    text = era(check([clp(pcn, charge, paid, lines=[svc("99213", charge, paid, [("PR", "2", pr)])])],
                     trace=trace), isa13=isa13)
    resp = await api.client.post("/v1/remittances/x12", content=text.encode(), headers=api.headers(tenant, **X12))
    assert resp.status_code == 200 and resp.json()["status"] == "posted", resp.text
    return resp.json()["file_id"]


# EFT-100 pays file 1 exactly (80.00); EFT-200's deposit is 55.00 for an ERA of 50.00; a check deposit of 12.34
# names no trace and no ERA has its amount.
BANK = bai2([("165", 8000, "BR001", "ACH CREDIT TRN*1*EFT-100*1512345678\\"),
             ("169", 5500, "BR002", "TRN*1*EFT-200*1512345678\\"),
             ("175", 1234, "BR003", "CHECK DEPOSIT/")])
CSV = "date,amount,trace\n2026-11-03,30.00,CHK-300\n"


async def upload(api, body: str, tenant: str = "tenant-a", **params: str):
    return await api.client.post("/v1/deposits", content=body.encode(), params=params,
                                 headers=api.headers(tenant, **TEXT))


async def test_bai2_and_csv_deposits_are_stored_once_and_reassociated_with_the_eras(api):
    for pcn in ("PCN-1", "PCN-2", "PCN-3"):
        await submit(api, pcn)
    f1 = await post_era(api, "PCN-1", "80.00", "EFT-100", "000000901")
    f2 = await post_era(api, "PCN-2", "50.00", "EFT-200", "000000902")
    f3 = await post_era(api, "PCN-3", "30.00", "CHK-300", "000000903")

    resp = await upload(api, BANK)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["format"], body["deposits_in_file"], body["stored"], body["already_stored"]) == ("bai2", 3, 3, 0)
    r = body["reassociation"]
    [m] = r["matched"]
    assert (m["deposit"]["amount"], m["deposit"]["trace"], m["by"], m["file_ids"], m["traces"]) == (
        "80.00", "EFT-100", "trace", [f1], ["EFT-100"])
    [x] = r["amount_mismatches"]
    # 55.00 deposited - 50.00 on the ERA = 5.00
    assert (x["deposit"]["trace"], x["file_ids"], x["era_amount"], x["difference"]) == ("EFT-200", [f2], "50.00", "5.00")
    [u] = r["unmatched_deposits"]
    assert (u["amount"], u["trace"], u["type_code"], u["deposit_date"]) == ("12.34", None, "175", "2026-11-02")
    assert [(e["file_id"], e["trace"], e["amount"], e["payment_method"], e["payment_date"])
            for e in r["eras_without_deposit"]] == [(f3, "CHK-300", "30.00", "ACH", "2026-11-02")]
    assert "1234567890" not in resp.text  # never the account number

    # the same file again adds nothing
    again = (await upload(api, BANK)).json()
    assert (again["stored"], again["already_stored"], again["reassociation"]["counts"]["deposits"]) == (0, 3, 3)
    assert await api.scalar("SELECT count(*) FROM deposits") == 3

    # the CSV export (sniffed: it does not start with an 01 record) pays the last ERA
    csv_body = (await upload(api, CSV)).json()
    assert (csv_body["format"], csv_body["stored"]) == ("csv", 1)
    assert (await upload(api, CSV)).json()["stored"] == 0

    listed = await api.client.get("/v1/deposits/reassociation", headers=api.headers())
    assert listed.status_code == 200
    r = listed.json()
    assert sorted((m["deposit"]["trace"], tuple(m["file_ids"])) for m in r["matched"]) == [
        ("CHK-300", (f3,)), ("EFT-100", (f1,))]
    assert [x["difference"] for x in r["amount_mismatches"]] == ["5.00"]
    assert [d["amount"] for d in r["unmatched_deposits"]] == ["12.34"]
    assert r["eras_without_deposit"] == []
    assert r["counts"] == {"deposits": 4, "eras": 3, "matched": 2, "amount_mismatches": 1, "unmatched_deposits": 1,
                           "eras_without_deposit": 0, "eras_without_payment": 0}
    statuses = await api.scalar("SELECT string_agg(status || ':' || coalesce(difference::text, '-'), ',' ORDER BY id) "
                                "FROM deposits")
    assert statuses == "matched:-,amount_mismatch:5.00,unmatched:-,matched:-"


async def test_an_era_posted_after_its_deposit_is_matched_on_the_next_reassociation(api):
    await submit(api, "PCN-1")
    first = (await upload(api, bai2([("165", 8000, "BR001", "TRN*1*EFT-100*1512345678\\")]))).json()
    assert [d["trace"] for d in first["reassociation"]["unmatched_deposits"]] == ["EFT-100"]
    f1 = await post_era(api, "PCN-1", "80.00", "EFT-100", "000000901")
    r = (await api.client.get("/v1/deposits/reassociation", headers=api.headers())).json()
    assert [m["file_ids"] for m in r["matched"]] == [[f1]] and r["unmatched_deposits"] == []


async def test_a_window_from_the_first_day_there_is_reassociates_everything_not_a_500(api):
    # Found by fuzzing: since=0001-01-01 (a valid date: "everything") overflowed looking ten days before it for
    # check ERAs, a 500 on both routes that take `since`.
    await submit(api, "PCN-1")
    f1 = await post_era(api, "PCN-1", "80.00", "EFT-100", "000000901")
    stored = await upload(api, bai2([("165", 8000, "BR001", "TRN*1*EFT-100*1512345678\\")]), since="0001-01-01")
    listed = await api.client.get("/v1/deposits/reassociation", params={"since": "0001-01-01"}, headers=api.headers())
    assert stored.status_code == 200, stored.text
    assert listed.status_code == 200, listed.text
    assert [m["file_ids"] for m in listed.json()["matched"]] == [[f1]]


async def test_another_tenant_sees_nothing_and_matches_nothing_of_mine(api):
    await submit(api, "PCN-1")
    await post_era(api, "PCN-1", "80.00", "EFT-100", "000000901")
    assert (await upload(api, bai2([("165", 8000, "BR001", "TRN*1*EFT-100*1512345678\\")]))).json()[
        "reassociation"]["counts"]["matched"] == 1

    theirs = (await api.client.get("/v1/deposits/reassociation", headers=api.headers("tenant-b"))).json()
    assert (theirs["matched"], theirs["amount_mismatches"], theirs["unmatched_deposits"],
            theirs["eras_without_deposit"]) == ([], [], [], [])
    # the same bank file under tenant b is b's own deposit: stored for b, matched to none of a's ERAs
    b = (await upload(api, bai2([("165", 8000, "BR001", "TRN*1*EFT-100*1512345678\\")]), "tenant-b")).json()
    assert b["stored"] == 1 and b["reassociation"]["matched"] == [] and len(b["reassociation"]["unmatched_deposits"]) == 1
    mine = (await api.client.get("/v1/deposits/reassociation", headers=api.headers())).json()
    assert mine["counts"]["deposits"] == 1 and mine["counts"]["matched"] == 1


@pytest.mark.parametrize("body,params,reason", [
    (BANK.replace("99,", "99,1"), {}, "file control total"),
    ("\n".join(BANK.splitlines()[:5]) + "\n", {}, "truncated"),
    ("date,amount,trace\n2026-13-01,10.00,T1\n2026-11-01,ten,T2\n", {}, "date is not YYYY-MM-DD"),
    ("when,how much\n2026-11-01,10.00\n", {}, "header must start"),
    (BANK, {"format": "csv"}, "header must start"),
    ("", {}, "empty"),
    ("date,amount,trace\n2026-11-01,100000000000.00,T1\n", {}, "out of range"),
    ("01,BANK\x00/\n", {}, "NUL")],
    ids=["bai2-totals", "bai2-truncated", "csv-rows", "csv-header", "forced-csv", "empty", "huge", "nul"])
async def test_a_bad_deposit_file_is_422_with_its_problems_and_nothing_is_stored(api, body, params, reason):
    resp = await upload(api, body, **params)
    assert resp.status_code == 422, resp.text
    problems = resp.json()["errors"]
    assert problems and any(reason in p["reason"] for p in problems), problems
    assert all("line" in p for p in problems)
    assert "1234567890" not in resp.text
    assert await api.scalar("SELECT count(*) FROM deposits") == 0


async def test_the_csv_rows_problems_are_each_listed(api):
    resp = await upload(api, "date,amount,trace\n2026-13-01,10.00,T1\n2026-11-01,ten,T2\n")
    assert [(p["line"], p["reason"]) for p in resp.json()["errors"]] == [
        (2, "date is not YYYY-MM-DD"), (3, "amount is not a number")]


async def test_an_unknown_format_is_422(api):
    resp = await upload(api, CSV, format="ofx")
    assert resp.status_code == 422


async def test_without_a_key_deposits_are_401(api):
    assert (await api.client.post("/v1/deposits", content=CSV.encode(), headers=TEXT)).status_code == 401
    assert (await api.client.get("/v1/deposits/reassociation")).status_code == 401


async def test_the_same_deposit_in_two_overlapping_bank_files_is_stored_once(api):
    """Monday's BAI2 and the week's BAI2 both list EFT-100; the CSV export lists it too (and a deposit the bank
    files do not). Each deposit is stored once; two deposits without trace or bank reference stay apart."""
    await submit(api, "PCN-1")
    f1 = await post_era(api, "PCN-1", "80.00", "EFT-100", "000000901")
    monday = bai2([("165", 8000, "BR001", "ACH CREDIT TRN*1*EFT-100*1512345678\\")])
    week = bai2([("165", 8000, "BR001", "ACH CREDIT TRN*1*EFT-100*1512345678\\"),
                 ("169", 5500, "BR002", "TRN*1*EFT-200*1512345678\\")])
    assert (await upload(api, monday)).json()["stored"] == 1
    body = (await upload(api, week)).json()
    assert (body["deposits_in_file"], body["stored"], body["already_stored"]) == (2, 1, 1)
    csv_body = (await upload(api, "date,amount,trace\n2026-11-02,80.00,EFT-100\n2026-11-02,9.99,\n"
                                  "2026-11-02,9.99,\n")).json()
    assert (csv_body["stored"], csv_body["already_stored"]) == (2, 1)  # the two untraced 9.99s are two deposits
    assert await api.scalar("SELECT count(*) FROM deposits WHERE trace_key = 'EFT-100'") == 1
    r = csv_body["reassociation"]
    assert [m["file_ids"] for m in r["matched"]] == [[f1]]


async def test_reassociation_covers_its_window_and_whatever_is_still_open_before_it(api):
    """A deposit matched before the window drops out of view with its ERA; an older deposit or ERA still open stays
    listed; a deposit in the window naming an old ERA's trace still finds it."""
    for pcn in ("PCN-1", "PCN-2", "PCN-3"):
        await submit(api, pcn)
    f1 = await post_era(api, "PCN-1", "80.00", "EFT-100", "000000901")
    f2 = await post_era(api, "PCN-2", "50.00", "EFT-200", "000000902")
    await upload(api, bai2([("165", 8000, "BR001", "TRN*1*EFT-100*1512345678\\"),
                            ("169", 1111, "BR002", "NO TRACE/")]))
    f3 = await post_era(api, "PCN-3", "30.00", "EFT-300", "000000903")
    later = {"since": "2026-11-03"}  # the deposits and ERAs of the test are dated 2026-11-02
    r = (await api.client.get("/v1/deposits/reassociation", params=later, headers=api.headers())).json()
    assert r["matched"] == []  # EFT-100 was matched before the window
    assert [d["amount"] for d in r["unmatched_deposits"]] == ["11.11"]  # still open: always listed
    assert sorted(e["file_id"] for e in r["eras_without_deposit"]) == sorted([f2, f3])
    late = (await upload(api, bai2([("165", 5000, "BR009", "TRN*1*EFT-200*1512345678\\")], as_of="261104"),
                         **later)).json()["reassociation"]
    assert [(m["deposit"]["trace"], m["file_ids"]) for m in late["matched"]] == [("EFT-200", [f2])]
    everything = (await api.client.get("/v1/deposits/reassociation", headers=api.headers())).json()
    assert sorted(m["deposit"]["trace"] for m in everything["matched"]) == ["EFT-100", "EFT-200"]
    assert f1 not in [e["file_id"] for e in everything["eras_without_deposit"]]
