"""Posting 835 files in-process against the real PostgreSQL: files, identity, tenants, balancing and holds,
the ledger with reversals and secondary payers, PLB, the unmatched queue."""

from __future__ import annotations

import uuid
from decimal import Decimal as D
from datetime import datetime, timezone

import pytest

from rcm_contracts.events import ClaimSubmitted
from rcm_remittance.app import create_app
from rcm_remittance.db import PHI, metadata, remittance_files
from rcm_remittance.settings import Settings
from tests.support.api import copy_always, service_api
from tests.support.era835 import submit_claim, check, clp, era, svc

pytestmark = pytest.mark.integration
X12 = {"content-type": "application/edi-x12"}
OPERATOR = {"user": "poster.pat"}  # api.headers(**OPERATOR): a token with this subject


@pytest.fixture(params=["insert", "copy"])
async def api(request, monkeypatch):
    if request.param == "copy":  # every bulk write of a posting by COPY, as a large file's are
        from rcm_remittance import service, underpaid

        assert copy_always(monkeypatch, service, underpaid) >= 8
    async with service_api(create_app, Settings, metadata) as api:
        yield api


async def submit(api, pcn: str, tenant: str = "tenant-a") -> uuid.UUID:
    return await submit_claim(api, pcn, tenant)


async def post(api, text: str, tenant: str = "tenant-a"):
    resp = await api.client.post("/v1/remittances/x12", content=text.encode(), headers=api.headers(tenant, **X12))
    assert resp.status_code in (200, 422), resp.text
    return resp


async def ledger(api, claim_id, tenant: str = "tenant-a") -> dict:
    resp = await api.client.get(f"/v1/claims/{claim_id}/ledger", headers=api.headers(tenant))
    assert resp.status_code == 200, resp.text
    return resp.json()


PAID = clp("PCN-1", "100.00", "80.00", pccn="PAYER-1", lines=[svc("99213", "100.00", "80.00", [("PR", "2", "20.00")])])


# ---------------------------------------------------------------- files


async def test_a_file_is_stored_answered_listed_and_read_and_the_same_file_again_is_a_duplicate(api):
    claim_id = await submit(api, "PCN-1")
    first = (await post(api, era(check([PAID])))).json()
    again = (await post(api, era(check([PAID])))).json()
    assert first["status"] == "posted" and first["posted"] == 1
    [c] = first["claims"]
    assert (c["outcome"], c["claim_id"], c["payment_outcome"]) == ("posted", str(claim_id), "paid")
    assert again["status"] == "duplicate" and again["file_id"] == first["file_id"] and again["posted"] == 0
    assert await api.scalar("SELECT count(*) FROM remittance_files") == 1
    stored = await api.scalar("SELECT content FROM remittance_files")
    assert stored.startswith("phi1.")  # sealed at rest (rcm_runtime.phi), verbatim once opened
    assert PHI.open(remittance_files, {"tenant_id": "tenant-a", "content": stored})["content"] == era(check([PAID]))

    listed = (await api.client.get("/v1/remittances", params={"status": "posted", "payer": "SANDBOX1"},
                                   headers=api.headers())).json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == first["file_id"] and "content" not in listed["items"][0]
    assert (await api.client.get("/v1/remittances", params={"status": "held"}, headers=api.headers())).json()["total"] == 0
    today = datetime.now(timezone.utc).date().isoformat()
    assert (await api.client.get("/v1/remittances", params={"date": today, "payment_date": "2026-11-02"},
                                 headers=api.headers())).json()["total"] == 1
    assert (await api.client.get("/v1/remittances", params={"received_to": "2000-01-01"},
                                 headers=api.headers())).json()["total"] == 0
    assert (await api.client.get("/v1/remittances", headers=api.headers("tenant-b"))).json()["total"] == 0
    one = (await api.client.get(f"/v1/remittances/{first['file_id']}", headers=api.headers())).json()
    assert one["status"] == "posted" and one["findings"]["imbalances"] == [] and len(one["payments"]) == 1
    assert one["totals"]["paid"] == "80.00"
    assert (await api.client.get(f"/v1/remittances/{first['file_id']}", headers=api.headers("tenant-b"))).status_code == 404


@pytest.mark.parametrize("mangle,reason", [
    (lambda t: t[: t.index("SE*")], "truncated"),
    (lambda t: t.replace("*00501*", "*00401*"), "ISA12"),
    (lambda t: t.replace("005010X221A1", "004010X091A1"), "is not 5010 (005010X221A1)"),
    (lambda t: t.replace("CLP*PCN-1*1*100.00", "CLP*PCN-1*1*100000000000.00"), "out of range"),
    (lambda t: t.replace("SVC*HC:99213*100.00*80.00", "SVC*HC:99213*100.00*80.005"), "more than two decimals"),
    (lambda t: t + "\x00", "NUL bytes"),
    (lambda t: "", "not an X12 interchange")],
    ids=["truncated", "isa12", "st03", "huge", "mills", "nul", "empty"])
async def test_truncated_or_4010_files_are_rejected_whole_stored_with_the_reason_and_nothing_posted(api, mangle, reason):
    await submit(api, "PCN-1")
    text = mangle(era(check([PAID, clp("PCN-2", "10.00", "10.00")])))
    resp = await post(api, text)
    body = resp.json()
    assert resp.status_code == 422 and body["code"] == "invalid_835" and reason in body["description"]
    assert body["status"] == "rejected"
    assert await api.scalar("SELECT status FROM remittance_files WHERE id = :id", id=uuid.UUID(body["file_id"])) == "rejected"
    assert await api.scalar("SELECT count(*) FROM posted_payments") == 0
    assert await api.outbox_events() == []


async def test_every_interchange_of_a_file_is_posted(api):
    a, b = await submit(api, "PCN-1"), await submit(api, "PCN-2")
    text = era(check([PAID])) + era(check([clp("PCN-2", "50.00", "50.00")], trace="T-2"), isa13="000000902")
    body = (await post(api, text)).json()
    assert body["status"] == "posted" and body["posted"] == 2
    assert {e["partitionkey"] for e in await api.outbox_events("payment-posted")} == {str(a), str(b)}


async def test_a_two_interchange_file_posts_every_claim_and_returns_what_the_reader_found(api):
    """The second interchange uses its own delimiters, sits after blank lines, and its IEA02 does not match its
    ISA13 (a defect that loses nothing): every claim posts, and the defect comes back structured, stored too."""
    ids = [await submit(api, f"PCN-{n}") for n in (1, 2, 3)]
    first = era(check([PAID, clp("PCN-2", "50.00", "50.00")]))
    second = era(check([clp("PCN-3", "40.00", "40.00")], trace="T-2"), isa13="000000902") \
        .replace("IEA*1*000000902", "IEA*1*000000999").translate(str.maketrans({"*": "|", "~": "!", ":": ">"}))
    resp = await post(api, first + "\r\n\n" + second)
    body = resp.json()
    assert resp.status_code == 200 and body["status"] == "posted" and body["posted"] == 3
    assert {e["partitionkey"] for e in await api.outbox_events("payment-posted")} == {str(i) for i in ids}
    expected = [{"interchange": 2, "interchange_control_number": "000000902", "kind": "envelope_error",
                 "code": "iea02_control_number", "transaction_set": None, "segment_position": 16,
                 "reason": "IEA02 '000000999' does not match ISA13 '000000902'"}]
    assert body["findings"]["issues"] == expected
    assert body["findings"]["envelope_errors"] == [
        "iea02_control_number: IEA02 '000000999' does not match ISA13 '000000902' (segment #16)"]
    stored = (await api.client.get(f"/v1/remittances/{body['file_id']}", headers=api.headers())).json()
    assert stored["findings"]["issues"] == expected
    assert "DOE" not in str(body["findings"]) and "MEMBER1" not in str(body["findings"])


async def test_a_4010_interchange_beside_a_5010_one_rejects_the_whole_file(api):
    await submit(api, "PCN-1"), await submit(api, "PCN-2")
    text = era(check([PAID])) + era(check([clp("PCN-2", "50.00", "50.00")], trace="T-2"), isa13="000000902") \
        .replace("005010X221A1", "004010X091A1")
    resp = await post(api, text)
    body = resp.json()
    assert resp.status_code == 422 and body["status"] == "rejected"
    assert "interchange #2 ('000000902')" in body["description"]
    assert "'004010X091A1' (GS08) is not 5010" in body["description"]
    assert await api.scalar("SELECT count(*) FROM posted_payments") == 0
    assert await api.outbox_events("payment-posted") == []


# ---------------------------------------------------------------- tenants and identity


async def test_another_tenant_naming_my_claim_is_unmatched_and_my_ledger_is_unchanged(api):
    mine = await submit(api, "PCN-1", "tenant-a")
    before = await ledger(api, mine)
    body = (await post(api, era(check([PAID])), "tenant-b")).json()
    assert body["posted"] == 0 and body["unmatched"] == 1 and body["status"] == "partially_posted"
    # the JSON advice naming tenant a's claim id from tenant b: unmatched too
    json_era = {"payer_id": "SANDBOX1", "payment_date": "2026-11-02", "trace_number": "T-J", "claims": [
        {"claim_id": str(mine), "payer_claim_control_number": "X", "total_charge": "100.00", "allowed_amount": "100.00",
         "paid_amount": "100.00", "patient_responsibility": "0.00"}]}
    resp = (await api.client.post("/v1/remittances", json=json_era, headers=api.headers("tenant-b"))).json()
    assert resp["posted"] == 0 and resp["unmatched"] == 1
    assert await ledger(api, mine) == before and before["entries"] == []
    assert await api.outbox_events("payment-posted") == []
    assert (await api.client.get(f"/v1/claims/{mine}/ledger", headers=api.headers("tenant-b"))).status_code == 404
    assert (await api.client.get(f"/v1/claims/{uuid.uuid4()}/ledger", headers=api.headers())).status_code == 404


async def test_claims_sharing_clp07_all_post_and_claims_without_clp07_both_post(api):
    ids = [await submit(api, f"PCN-{n}") for n in range(5)]
    shared = [clp(f"PCN-{n}", "10.00", "10.00", pccn="ONE-CHECK") for n in range(3)]
    none = [clp(f"PCN-{n}", "10.00", "10.00") for n in (3, 4)]
    body = (await post(api, era(check(shared + none)))).json()
    assert body["posted"] == 5 and body["duplicates"] == 0
    assert {e["partitionkey"] for e in await api.outbox_events("payment-posted")} == {str(i) for i in ids}


async def test_the_same_payment_with_the_payer_named_three_ways_posts_once(api):
    claim_id = await submit(api, "PCN-1")
    outcomes = []
    for n, naming in enumerate(("n1", "ref", "trn")):  # three different files (ISA13 differs), one payment
        body = (await post(api, era(check([PAID], naming=naming), isa13=f"00000090{n}"))).json()
        outcomes.append((body["status"], body["posted"], body["duplicates"]))
    assert outcomes == [("posted", 1, 0), ("posted", 0, 1), ("posted", 0, 1)]
    [event] = await api.outbox_events("payment-posted")
    assert event["data"]["payer_id"] == "SANDBOX1" and event["data"]["patient_responsibility_total"] == "20.00"
    assert (await ledger(api, claim_id))["totals"]["payer_paid"] == "80.00"


async def test_the_same_claim_payment_resent_in_another_interchange_and_position_posts_nothing_new(api):
    await submit(api, "PCN-1"), await submit(api, "PCN-2")
    other = clp("PCN-2", "10.00", "10.00")
    await post(api, era(check([PAID, other])))
    body = (await post(api, era(check([other, PAID]), isa13="000000555"))).json()
    assert body["status"] == "posted" and body["posted"] == 0 and body["duplicates"] == 2
    assert len(await api.outbox_events("payment-posted")) == 2


# ---------------------------------------------------------------- balancing and holds


@pytest.mark.parametrize("level,text,where", [
    ("file", era(check([PAID], amount="79.00")), {"level": "file", "claim_index": None, "difference": "1.00"}),
    ("claim", era(check([clp("PCN-1", "100.00", "80.00", cas=[("PR", "2", "15.00")])])),
     {"level": "claim", "claim_index": 0, "difference": "-5.00"}),
    ("line", era(check([clp("PCN-1", "100.00", "80.00", cas=[("PR", "2", "20.00")],
                            lines=[svc("99213", "100.00", "80.00")])], amount="80.00")),
     {"level": "line", "claim_index": 0, "line_index": 0, "difference": "-20.00"})], ids=["file", "claim", "line"])
async def test_an_unbalanced_file_is_held_with_the_difference_and_posted_only_when_released(api, level, text, where):
    claim_id = await submit(api, "PCN-1")
    body = (await post(api, text)).json()
    assert body["status"] == "held" and body["posted"] == 0
    imbalances = (await api.client.get(f"/v1/remittances/{body['file_id']}", headers=api.headers())).json()["findings"]["imbalances"]
    assert any(all(i.get(k) == v for k, v in where.items()) for i in imbalances), imbalances
    assert await api.outbox_events() == [] and (await ledger(api, claim_id))["entries"] == []

    integrator = await api.client.post(f"/v1/remittances/{body['file_id']}/release", json={"reason": "x"},
                                       headers=api.headers(roles=["integrator"]))
    assert integrator.status_code == 403  # a sender of files does not release them
    released = await api.client.post(f"/v1/remittances/{body['file_id']}/release",
                                     json={"reason": "payer confirmed the amounts by phone"},
                                     headers=api.headers(**OPERATOR))
    assert released.status_code == 200 and released.json()["status"] == "posted"
    assert len(await api.outbox_events("payment-posted")) == 1
    assert (await ledger(api, claim_id))["totals"]["payer_paid"] == "80.00"
    assert await api.scalar("SELECT actor || ':' || action FROM remittance_audit") == "poster.pat:release"
    again = await api.client.post(f"/v1/remittances/{body['file_id']}/release", json={"reason": "twice"},
                                  headers=api.headers(**OPERATOR))
    assert again.status_code == 409


async def test_a_held_file_can_be_rejected_and_then_nothing_of_it_posts(api):
    await submit(api, "PCN-1")
    body = (await post(api, era(check([PAID], amount="1.00")))).json()
    resp = await api.client.post(f"/v1/remittances/{body['file_id']}/reject", json={"reason": "wrong check"},
                                 headers=api.headers(**OPERATOR))
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"
    assert (await api.client.post(f"/v1/remittances/{body['file_id']}/release", json={"reason": "x"},
                                  headers=api.headers(**OPERATOR))).status_code == 409
    assert await api.scalar("SELECT count(*) FROM posted_payments") == 0
    assert (await api.client.post(f"/v1/remittances/{uuid.uuid4()}/reject", json={"reason": "x"},
                                  headers=api.headers(**OPERATOR))).status_code == 404


# ---------------------------------------------------------------- ledger


async def test_the_ledger_has_line_entries_and_totals_by_kind(api):
    claim_id = await submit(api, "PCN-1")
    two = clp("PCN-1", "150.00", "90.00", pccn="P1", lines=[
        svc("99213", "100.00", "60.00", [("CO", "45", "15.00"), ("PR", "1", "10.00"), ("PR", "2", "15.00")]),
        svc("85025", "50.00", "30.00", [("PR", "3", "20.00")])])
    await post(api, era(check([two])))
    body = await ledger(api, claim_id)
    assert body["totals"] == {"charge": "150.00", "payer_paid": "90.00", "contractual": "15.00",
                              "patient_responsibility": {"total": "45.00", "deductible": "10.00",
                                                         "coinsurance": "15.00", "copay": "20.00", "other": "0.00"},
                              "other_adjustments": "0.00", "provider_adjustments": "0.00", "balance": "45.00"}
    assert [(e["line_number"], e["kind"], e["amount"]) for e in body["entries"]][:3] == [
        (1, "charge", "100.00"), (1, "payer_payment", "60.00"), (1, "contractual", "15.00")]


async def test_payment_posted_carries_each_line_with_its_own_adjustments_and_the_payee_npi(api):
    """PaymentPosted 1.3: denials sees which procedure was denied with which CARC, and the billing provider."""
    await submit(api, "PCN-1")
    two = clp("PCN-1", "185.00", "60.00", pccn="P1", lines=[
        svc("99213", "100.00", "60.00", [("CO", "45", "20.00"), ("PR", "2", "20.00")]),
        svc("97810", "85.00", "0.00", [("CO", "96", "85.00")])])
    await post(api, era(check([two])))
    [event] = await api.outbox_events("payment-posted")
    data = event["data"]
    assert data["payee_npi"] == "1234567893"  # N1*PE*...*XX*1234567893 of the fixture 835
    assert [(line["line_number"], line["procedure_code"], line["charge"], line["paid"]) for line in data["lines"]] == [
        (1, "99213", "100.00", "60.00"), (2, "97810", "85.00", "0.00")]
    assert data["lines"][1]["adjustments"] == [{"group_code": "CO", "reason_code": "96", "amount": "85.00"}]
    assert event["dataschema"].endswith("/remittance/payment-posted/1.3.json")


@pytest.mark.parametrize("pccn", ["SAME-1", "OTHER-9", None])
async def test_a_reversal_negates_the_original_and_the_correction_posts_anew(api, pccn):
    claim_id = await submit(api, "PCN-1")
    original = clp("PCN-1", "100.00", "80.00", pccn="SAME-1", cas=[("PR", "2", "20.00")])
    await post(api, era(check([original], trace="T-1")))
    reversal = clp("PCN-1", "-100.00", "-80.00", status="22", pccn=pccn, cas=[("PR", "2", "-20.00")])
    correction = clp("PCN-1", "100.00", "90.00", pccn=pccn, cas=[("PR", "2", "10.00")])
    body = (await post(api, era(check([reversal, correction], trace="T-2")))).json()
    assert [c["outcome"] for c in body["claims"]] == ["reversed", "posted"], body["claims"]
    totals = (await ledger(api, claim_id))["totals"]
    assert (totals["charge"], totals["payer_paid"], totals["patient_responsibility"]["coinsurance"], totals["balance"]) == (
        "100.00", "90.00", "10.00", "10.00")
    [reversed_] = await api.outbox_events("payment-reversed")
    assert reversed_["data"]["paid_amount"] == "80.00" and reversed_["data"]["patient_responsibility_total"] == "0.00"
    posted = await api.outbox_events("payment-posted")
    assert [e["data"]["patient_responsibility_total"] for e in posted] == ["20.00", "10.00"]
    assert await api.scalar("SELECT count(*) FROM posted_payments WHERE reversed_by IS NOT NULL") == 1


@pytest.mark.parametrize("pccn", ["SAME-1", None])
async def test_a_reversal_of_a_payment_earlier_in_the_same_file_negates_it(api, pccn):
    """Original, reversal and correction in one check (a payer that reprocessed before it sent the file): the
    reversal finds the original posted just before it, not a hold."""
    claim_id = await submit(api, "PCN-1")
    original = clp("PCN-1", "100.00", "80.00", pccn=pccn, cas=[("PR", "2", "20.00")])
    reversal = clp("PCN-1", "-100.00", "-80.00", status="22", pccn=pccn, cas=[("PR", "2", "-20.00")])
    correction = clp("PCN-1", "100.00", "90.00", pccn=pccn, cas=[("PR", "2", "10.00")])
    body = (await post(api, era(check([original, reversal, correction])))).json()
    assert body["status"] == "posted" and [c["outcome"] for c in body["claims"]] == ["posted", "reversed", "posted"]
    assert body["claims"][1]["reverses"] == body["claims"][0]["remittance_id"]
    totals = (await ledger(api, claim_id))["totals"]
    assert (totals["charge"], totals["payer_paid"], totals["patient_responsibility"]["total"], totals["balance"]) == (
        "100.00", "90.00", "10.00", "10.00")
    assert await api.scalar("SELECT count(*) FROM posted_payments WHERE reversed_by IS NOT NULL") == 1
    assert [e["data"]["patient_responsibility_total"] for e in await api.outbox_events("payment-reversed")] == ["0.00"]


async def test_a_reversal_of_nothing_posted_is_held(api):
    await submit(api, "PCN-1")
    body = (await post(api, era(check([clp("PCN-1", "-100.00", "-80.00", status="22", cas=[("PR", "2", "-20.00")])])))).json()
    assert body["status"] == "partially_posted" and body["claims"][0]["outcome"] == "held"
    assert (await api.client.get("/v1/unmatched-payments", params={"status": "held"}, headers=api.headers())).json()["total"] == 1


async def test_a_secondary_payment_leaves_the_patient_the_remaining_share(api):
    claim_id = await submit(api, "PCN-1")
    await post(api, era(check([clp("PCN-1", "100.00", "80.00", status="19", cas=[("PR", "2", "20.00")])])))
    secondary = clp("PCN-1", "100.00", "15.00", status="2", cas=[("OA", "23", "80.00"), ("PR", "2", "5.00")])
    await post(api, era(check([secondary], trace="T-SEC", payer_id="SECOND1", trn03="1999999999")))
    totals = (await ledger(api, claim_id))["totals"]
    assert (totals["charge"], totals["payer_paid"], totals["patient_responsibility"]["total"], totals["balance"]) == (
        "100.00", "95.00", "5.00", "5.00")
    assert [e["data"]["patient_responsibility_total"] for e in await api.outbox_events("payment-posted")] == ["20.00", "5.00"]


@pytest.mark.parametrize("status,outcome", [("4", "posted"), ("23", "not_our_claim"), ("25", "held")])
async def test_denied_forwarded_and_unknown_statuses(api, status, outcome):
    await submit(api, "PCN-1")
    body = (await post(api, era(check([clp("PCN-1", "100.00", "0.00", status=status, cas=[("CO", "50", "100.00")])])))).json()
    assert body["claims"][0]["outcome"] == outcome
    events = await api.outbox_events("payment-posted")
    assert [e["data"]["outcome"] for e in events] == (["denied"] if status == "4" else [])


async def test_plb_entries_are_posted_once_against_the_check_and_linked_to_a_named_claim(api):
    claim_id = await submit(api, "PCN-1")
    text = era(check([PAID], plb=[("L6", None, "-2.50"), ("WO", "PCN-1", "10.00")]))
    assert (await post(api, text)).json()["status"] == "posted"
    await post(api, era(check([PAID], plb=[("L6", None, "-2.50"), ("WO", "PCN-1", "10.00")]), isa13="000000321"))
    assert await api.scalar("SELECT count(*) FROM ledger_entries WHERE kind = 'provider_adjustment'") == 2
    assert (await ledger(api, claim_id))["totals"]["provider_adjustments"] == "10.00"


async def test_a_plb_quoting_the_payers_claim_number_is_linked_to_that_claim_only_when_it_names_one(api):
    """A recoupment (WO) a later check takes quotes the payer's claim number (CLP07) of the overpaid claim; a claim
    number two claims share links to neither."""
    overpaid, other_a, other_b = [await submit(api, p) for p in ("PCN-1", "PCN-2", "PCN-3")]
    await post(api, era(check([PAID, clp("PCN-2", "100.00", "80.00", pccn="SHARED", cas=[("PR", "2", "20.00")]),
                               clp("PCN-3", "100.00", "80.00", pccn="SHARED", cas=[("PR", "2", "20.00")])])))
    text = era(check([clp("PCN-2", "50.00", "50.00", pccn="LATER")], trace="T-2",
                     plb=[("WO", "PAYER-1", "10.00"), ("WO", "SHARED", "5.00")]))
    assert (await post(api, text)).json()["status"] == "posted"
    assert (await ledger(api, overpaid))["totals"]["provider_adjustments"] == "10.00"
    assert await api.scalar("SELECT count(*) FROM ledger_entries WHERE kind = 'provider_adjustment' "
                            "AND claim_id IS NULL") == 1
    for claim_id in (other_a, other_b):
        assert (await ledger(api, claim_id))["totals"]["provider_adjustments"] == "0.00"


# ---------------------------------------------------------------- unmatched queue


async def test_an_unmatched_payment_is_queued_once_then_matched_by_an_operator(api):
    text = era(check([clp("PCN-X", "100.00", "100.00")]))
    await post(api, text)
    await post(api, era(check([clp("PCN-X", "100.00", "100.00")]), isa13="000000444"))  # re-sent
    queue = (await api.client.get("/v1/unmatched-payments", headers=api.headers())).json()
    assert queue["total"] == 1 and queue["items"][0]["paid_amount"] == "100.00"
    assert (await api.client.get("/v1/unmatched-payments", headers=api.headers("tenant-b"))).json()["total"] == 0
    qid = queue["items"][0]["id"]
    claim_id = await submit(api, "OTHER-PCN")  # the claim was submitted under another CLP01
    theirs = await submit(api, "PCN-T", "tenant-b")
    refused = await api.client.post(f"/v1/unmatched-payments/{qid}/match", json={"claim_id": str(theirs)},
                                    headers=api.headers(**OPERATOR))
    assert refused.status_code == 404
    resp = await api.client.post(f"/v1/unmatched-payments/{qid}/match", json={"claim_id": str(claim_id),
                                 "reason": "patient account renumbered"}, headers=api.headers(**OPERATOR))
    assert resp.status_code == 200 and resp.json()["status"] == "matched"
    assert (await ledger(api, claim_id))["totals"]["payer_paid"] == "100.00"
    assert (await api.client.post(f"/v1/unmatched-payments/{qid}/match", json={"claim_id": str(claim_id)},
                                  headers=api.headers(**OPERATOR))).status_code == 409
    assert (await post(api, text)).json()["status"] == "duplicate"
    assert len(await api.outbox_events("payment-posted")) == 1
    assert await api.scalar("SELECT action FROM remittance_audit") == "match"


async def test_an_unmatched_payment_can_be_returned(api):
    await post(api, era(check([clp("PCN-X", "100.00", "100.00")])))
    [item] = (await api.client.get("/v1/unmatched-payments", headers=api.headers())).json()["items"]
    resp = await api.client.post(f"/v1/unmatched-payments/{item['id']}/return", json={"reason": "not our patient"},
                                 headers=api.headers(**OPERATOR))
    assert resp.status_code == 200 and resp.json()["status"] == "returned"
    assert (await api.client.get("/v1/unmatched-payments", params={"status": "returned"},
                                 headers=api.headers())).json()["total"] == 1
    assert (await api.client.post(f"/v1/unmatched-payments/{item['id']}/return", json={"reason": "x"},
                                  headers=api.headers("tenant-b", **OPERATOR))).status_code == 404


async def test_posting_a_large_file_takes_a_handful_of_statements(api):
    n = 2000
    for k in range(0, n, 500):
        await api.consume(*[(ClaimSubmitted(
            claim_id=uuid.uuid4(), payer_id="SANDBOX1", clearinghouse="sandbox", interchange_control_number="1",
            total_charge="100.00", submitted_at=datetime(2026, 10, 2, tzinfo=timezone.utc),
            patient_control_number=f"P{j}"), "tenant-a", uuid.uuid4()) for j in range(k, k + 500)])
    claims = [clp(f"P{j}", "100.00", "80.00", pccn="SAME", lines=[svc("99213", "100.00", "80.00", [("PR", "2", "20.00")])])
              for j in range(n)]
    import time
    started = time.perf_counter()
    body = (await post(api, era(check(claims)))).json()
    elapsed = time.perf_counter() - started
    assert body["posted"] == n and body["status"] == "posted"
    assert await api.scalar("SELECT count(*) FROM ledger_entries") == 3 * n
    print(f"\nposted {n} claims in {elapsed:.2f}s: {n / elapsed:.0f} claims/s")
    events = await api.outbox_events("payment-posted")
    assert len(events) == n and [e["data"]["claim_id"] for e in events] == [c["claim_id"] for c in body["claims"]]
    assert {e["data"]["patient_responsibility_total"] for e in events} == {"20.00"}
    again = (await post(api, era(check(claims), isa13="000000902"))).json()  # the same payments, other bytes
    assert again["status"] == "posted" and again["duplicates"] == n and again["posted"] == 0
    assert await api.scalar("SELECT count(*) FROM ledger_entries") == 3 * n
    assert await api.scalar("SELECT count(*) FROM posted_payments") == n
    assert len(await api.outbox_events()) == n


async def test_payments_a_concurrent_request_inserted_first_are_duplicates_with_no_entries_nor_events(api, monkeypatch):
    """The posted-keys check saw none of them (a concurrent request had not committed), but the insert meets half the
    payments: those answer duplicate, and only the others' entries and events are written, each event with its
    claim's patient share as if the lost ones had never been read (enough payments for the events to be built while
    they are written; the file read while it is stored)."""
    from sqlalchemy import text

    from rcm_remittance import service

    n = 600
    assert n // 2 >= service.OVERLAP_MIN_EVENTS
    await api.consume(*[(ClaimSubmitted(
        claim_id=uuid.uuid4(), payer_id="SANDBOX1", clearinghouse="sandbox", interchange_control_number="1",
        total_charge="100.00", submitted_at=datetime(2026, 10, 2, tzinfo=timezone.utc),
        patient_control_number=f"P{j}"), "tenant-a", uuid.uuid4()) for j in range(n)])
    claims = [clp(f"P{j}", "100.00", "80.00", pccn="SAME", lines=[svc("99213", "100.00", "80.00", [("PR", "2", "20.00")])])
              for j in range(n)]
    first = (await post(api, era(check(claims[:n // 2]), isa13="000000901"))).json()
    assert first["posted"] == n // 2
    monkeypatch.setattr(service, "_posted_keys", text(
        "SELECT payment_key FROM posted_payments WHERE tenant_id = :tenant "
        "AND payment_key = ANY(CAST(:keys AS text[])) AND false"))  # blind to what is already posted
    monkeypatch.setattr(service, "PARSE_AHEAD_MIN_CHARS", 1)  # read while it is stored, as a large file is
    body = (await post(api, era(check(claims), isa13="000000902"))).json()
    assert body["status"] == "posted" and body["posted"] == n - n // 2 and body["duplicates"] == n // 2
    assert [c["outcome"] for c in body["claims"]] == ["duplicate"] * (n // 2) + ["posted"] * (n - n // 2)
    assert all("remittance_id" not in c for c in body["claims"][:n // 2])
    assert await api.scalar("SELECT count(*) FROM posted_payments") == n
    assert await api.scalar("SELECT count(*) FROM ledger_entries") == 3 * n
    events = await api.outbox_events("payment-posted")
    assert [e["data"]["claim_id"] for e in events] == \
        [c["claim_id"] for c in first["claims"]] + [c["claim_id"] for c in body["claims"][n // 2:]]
    assert [e["data"]["remittance_id"] for e in events[n // 2:]] == [c["remittance_id"] for c in body["claims"][n // 2:]]
    assert {e["data"]["patient_responsibility_total"] for e in events} == {"20.00"}
    stored = (await api.client.get(f"/v1/remittances/{body['file_id']}", headers=api.headers())).json()
    assert stored["outcomes"] == body["claims"]


# ---------------------------------------------------------------- the guide's own samples


async def test_the_guides_many_claims_one_check_example_posts_all_nine_payments_once(api):
    from tests.support.shared import sample_file

    text = sample_file("x12", "835", "badx12_X221-multiple-claims-single-check.835").read_text()
    claim_id = await submit(api, "7722337")  # all nine CLPs name this CLP01 and share one CLP07
    body = (await post(api, text)).json()
    assert body["status"] == "posted" and body["posted"] == 9, body
    assert (await post(api, text.replace("\n", ""))).json()["duplicates"] == 9  # other bytes, the same payments
    events = await api.outbox_events("payment-posted")
    assert len(events) == 9 and {e["partitionkey"] for e in events} == {str(claim_id)}
    paid = sum(D(e["data"]["paid_amount"]) for e in events)
    assert D((await ledger(api, claim_id))["totals"]["payer_paid"]) == paid == D("810.80")


async def test_an_unbalanced_shared_sample_is_held_with_its_line_difference(api):
    from tests.support.shared import sample_file

    text = sample_file("x12", "835", "lfh_tertiary-payment.835").read_text()
    body = (await post(api, text)).json()
    assert body["status"] == "held" and body["posted"] == 0
    found = (await api.client.get(f"/v1/remittances/{body['file_id']}", headers=api.headers())).json()["findings"]
    assert {(i["level"], i["difference"]) for i in found["imbalances"]} == {("line", "-21253.50"), ("claim", "1579.00")}


async def test_the_same_payment_in_two_files_posted_at_once_posts_once(api):
    import asyncio

    claim_id = await submit(api, "PCN-1")
    first, second = await asyncio.gather(post(api, era(check([PAID]), isa13="000000111")),
                                         post(api, era(check([PAID], naming="trn"), isa13="000000222")))
    assert sorted((first.json()["posted"], second.json()["posted"])) == [0, 1]
    assert len(await api.outbox_events("payment-posted")) == 1
    assert (await ledger(api, claim_id))["totals"]["payer_paid"] == "80.00"


# ---------------------------------------------------------------- coordination of benefits (secondary claims)
async def submitted(api, pcn: str, *, claim_id=None, responsibility=None, primary=None, next_payer=None,
                    payer_id: str = "SANDBOX1", tenant: str = "tenant-a") -> uuid.UUID:
    claim_id = claim_id or uuid.uuid4()
    applier = await api.consume((ClaimSubmitted(
        claim_id=claim_id, payer_id=payer_id, clearinghouse="sandbox", interchange_control_number="000000001",
        total_charge="100.00", submitted_at=datetime(2026, 10, 2, tzinfo=timezone.utc), patient_control_number=pcn,
        payer_responsibility=responsibility, primary_claim_id=primary, next_payer_id=next_payer),
        tenant, primary or claim_id))
    assert applier.applied == 1
    return claim_id


async def test_the_secondary_claims_payment_posts_to_the_primary_claims_ledger_and_patient_billing_waits_for_it(api):
    """Primary (CLP01 PCN-P) with secondary coverage on file: its PaymentPosted names the secondary payer the patient's
    share waits for; the secondary claim (its own CLP01 PCN-S, naming the primary) posts to the same ledger, and its
    PaymentPosted bills the patient what is left."""
    primary = await submitted(api, "PCN-P", responsibility="P", next_payer="SECOND1")
    secondary = await submitted(api, "PCN-S", responsibility="S", primary=primary, payer_id="SECOND1")
    assert secondary != primary
    await post(api, era(check([clp("PCN-P", "100.00", "80.00", cas=[("PR", "2", "20.00")])])))
    await post(api, era(check([clp("PCN-S", "100.00", "15.00", status="2", cas=[("OA", "23", "80.00"),
                                                                               ("PR", "2", "5.00")])],
                              trace="T-SEC", payer_id="SECOND1", trn03="1999999999")))
    totals = (await ledger(api, primary))["totals"]
    assert (totals["charge"], totals["payer_paid"], totals["patient_responsibility"]["total"], totals["balance"]) == (
        "100.00", "95.00", "5.00", "5.00")
    events = [e["data"] for e in await api.outbox_events("payment-posted")]
    assert [(e["claim_id"], e["patient_responsibility_total"], e.get("awaiting_payer_id")) for e in events] == [
        (str(primary), "20.00", "SECOND1"), (str(primary), "5.00", None)]


async def test_a_denial_of_the_secondary_claim_does_not_charge_the_claim_again(api):
    primary = await submitted(api, "PCN-P", responsibility="P", next_payer="SECOND1")
    await submitted(api, "PCN-S", responsibility="S", primary=primary, payer_id="SECOND1")
    await post(api, era(check([clp("PCN-P", "100.00", "80.00", cas=[("PR", "2", "20.00")])])))
    await post(api, era(check([clp("PCN-S", "100.00", "0.00", status="4", cas=[("OA", "23", "80.00"),
                                                                              ("PR", "2", "20.00")])],
                              trace="T-SEC", payer_id="SECOND1", trn03="1999999999")))
    totals = (await ledger(api, primary))["totals"]
    assert (totals["charge"], totals["payer_paid"], totals["patient_responsibility"]["total"], totals["balance"]) == (
        "100.00", "80.00", "20.00", "20.00")
    assert [e["data"].get("awaiting_payer_id") for e in await api.outbox_events("payment-posted")] == ["SECOND1", None]


@pytest.mark.parametrize("status,cas,awaiting", [
    ("1", [("PR", "2", "20.00")], "SECOND1"),
    ("19", [("PR", "2", "20.00")], "SECOND1"),  # the payer forwarded it itself: the patient still waits
    ("1", [("CO", "45", "20.00")], None),  # nothing left to the patient
    ("4", [("CO", "50", "100.00")], None)])
async def test_whether_the_patient_share_waits_for_the_next_payer(api, status, cas, awaiting):
    await submitted(api, "PCN-P", responsibility="P", next_payer="SECOND1")
    paid = "0.00" if status == "4" else "80.00"
    await post(api, era(check([clp("PCN-P", "100.00", paid, status=status, cas=cas)])))
    [event] = await api.outbox_events("payment-posted")
    assert event["data"].get("awaiting_payer_id") == awaiting
