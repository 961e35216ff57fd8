"""Money in, end to end through the running services: each case of remittance's in-process posting tests
(services/remittance/tests/api) against the real stack. A claim is made known to remittance the way submission
does it, a ClaimSubmitted on Kafka; 835s are posted over HTTP; what remittance's PaymentPosted/PaymentReversed
do is read back from patient-billing, analytics and denials after they travelled through Kafka.

Every identifier a file carries is fresh per test (tests/support/money_in.Ids), so the suite reruns against the
same long-lived stack without a file or a payment turning into a duplicate of an earlier run's.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from tests.support.bai2 import bai2
from tests.support.client import TENANT_B, Principal, Stack, url
from tests.support.era835 import check, clp, era, svc
from tests.support.money_in import (OPERATOR, Ids, amount_due, analytics_claim, analytics_paid, denial, eventually,
                                    ledger, patient_balance, post_835, queued, remittance_file, submit_claim,
                                    submit_claims)

pytestmark = pytest.mark.e2e  # the `stack` fixture: tests/support/fixtures.py


@pytest.fixture(scope="module")
async def stack_b(stack):
    """Tenant B's client (after `stack` checked every service is up)."""
    b = Stack(TENANT_B)
    yield b
    await b.close()


@pytest.fixture
def ids() -> Ids:
    return Ids()


def paid(pcn: str, pccn: str | None = None):
    """A claim paid 80.00 of 100.00, the patient's coinsurance 20.00 on its one line."""
    return clp(pcn, "100.00", "80.00", pccn=pccn, lines=[svc("99213", "100.00", "80.00", [("PR", "2", "20.00")])])


async def timeline_kinds(stack: Stack, claim_id: uuid.UUID) -> list[str]:
    resp = await stack.http.get(url("analytics", f"/v1/claims/{claim_id}/timeline"))
    return [e["event_type"].split(".")[-2] for e in resp.json()["events"]] if resp.status_code == 200 else []


# ---------------------------------------------------------------- files


async def test_a_file_is_posted_listed_and_read_and_the_same_file_again_is_a_duplicate(stack, stack_b, ids):
    claim_id = await submit_claim(stack, ids.pcn())
    text = era(check([paid(ids.pcn(), ids.pccn("P"))], trace=ids.trace()), isa13=ids.isa13())
    first = (await post_835(stack, text)).json()
    again = (await post_835(stack, text)).json()
    assert first["status"] == "posted" and first["posted"] == 1
    [c] = first["claims"]
    assert (c["outcome"], c["claim_id"], c["payment_outcome"]) == ("posted", str(claim_id), "paid")
    assert again["status"] == "duplicate" and again["file_id"] == first["file_id"] and again["posted"] == 0

    listed = await stack.get("remittance", "/v1/remittances", status="posted", payer="SANDBOX1", limit=500)
    mine = [i for i in listed["items"] if i["id"] == first["file_id"]]
    assert len(mine) == 1 and "content" not in mine[0] and mine[0]["trace_numbers"] == [ids.trace()]
    one = await remittance_file(stack, first["file_id"])
    assert one["status"] == "posted" and one["findings"]["imbalances"] == [] and one["totals"]["paid"] == "80.00"
    assert [(p["claim_id"], p["paid_amount"]) for p in one["payments"]] == [(str(claim_id), "80.00")]
    assert (await stack_b.http.get(url("remittance", f"/v1/remittances/{first['file_id']}"))).status_code == 404

    # once through Kafka: one payment downstream, however many times the file came
    await amount_due(stack, claim_id, "20.00")
    await analytics_paid(stack, claim_id, "80.00", patient="20.00")
    assert (await timeline_kinds(stack, claim_id)).count("payment-posted") == 1


@pytest.mark.parametrize("mangle,reason", [
    (lambda t: t[: t.index("SE*")], "truncated"),
    (lambda t: t.replace("*00501*", "*00401*"), "ISA12"),
    (lambda t: t.replace("005010X221A1", "004010X091A1"), "is not 5010 (005010X221A1)"),
    (lambda t: t.replace("*1*100.00*80.00*", "*1*100000000000.00*80.00*", 1), "out of range"),
    (lambda t: t.replace("SVC*HC:99213*100.00*80.00", "SVC*HC:99213*100.00*80.005", 1), "more than two decimals"),
    (lambda t: t + "\x00", "NUL bytes")],
    ids=["truncated", "isa12-4010", "st03-4010", "huge", "mills", "nul"])
async def test_truncated_or_4010_files_are_rejected_whole_stored_with_the_reason_and_nothing_posted(
        stack, ids, mangle, reason):
    first, second = await submit_claims(stack, ids.pcn(1), ids.pcn(2))
    text = mangle(era(check([paid(ids.pcn(1), ids.pccn("P")), clp(ids.pcn(2), "10.00", "10.00")],
                            trace=ids.trace()), isa13=ids.isa13()))
    resp = await post_835(stack, text)
    body = resp.json()
    assert resp.status_code == 422 and body["code"] == "invalid_835" and reason in body["description"], body
    assert body["status"] == "rejected"
    stored = await remittance_file(stack, body["file_id"])
    assert stored["status"] == "rejected" and stored["payments"] == []
    for claim_id in (first, second):
        assert (await ledger(stack, claim_id))["entries"] == []


async def test_every_interchange_of_a_file_is_posted(stack, ids):
    a, b = await submit_claims(stack, ids.pcn(1), ids.pcn(2))
    text = era(check([paid(ids.pcn(1))], trace=ids.trace(1)), isa13=ids.isa13()) + \
        era(check([clp(ids.pcn(2), "50.00", "50.00")], trace=ids.trace(2)), isa13=ids.isa13())
    body = (await post_835(stack, text)).json()
    assert body["status"] == "posted" and body["posted"] == 2
    assert {c["claim_id"] for c in body["claims"]} == {str(a), str(b)}
    assert (await ledger(stack, a))["totals"]["payer_paid"] == "80.00"
    assert (await ledger(stack, b))["totals"]["payer_paid"] == "50.00"
    await analytics_paid(stack, a, "80.00")
    await analytics_paid(stack, b, "50.00")


# ---------------------------------------------------------------- tenants and identity


async def test_another_tenant_naming_my_claim_is_unmatched_for_it_and_changes_nothing_of_mine(stack, stack_b, ids):
    mine = await submit_claim(stack, ids.pcn("A"))
    assert (await post_835(stack, era(check([paid(ids.pcn("A"), ids.pccn("A"))], trace=ids.trace("A")),
                                      isa13=ids.isa13()))).json()["posted"] == 1
    balance_before = await amount_due(stack, mine, "20.00")
    analytics_before = await analytics_paid(stack, mine, "80.00", patient="20.00")
    ledger_before = await ledger(stack, mine)

    # tenant b's 835 naming tenant a's CLP01, and b's JSON advice naming a's claim id: unmatched for b
    theirs = (await post_835(stack_b, era(check([clp(ids.pcn("A"), "100.00", "100.00", pccn=ids.pccn("B"))],
                                                trace=ids.trace("B")), isa13=ids.isa13()))).json()
    assert (theirs["status"], theirs["posted"], theirs["unmatched"]) == ("partially_posted", 0, 1)
    assert theirs["claims"][0]["outcome"] == "unmatched" and theirs["claims"][0]["claim_id"] is None
    json_era = {"payer_id": "SANDBOX1", "payment_date": "2026-11-02", "trace_number": ids.trace("J"), "claims": [
        {"claim_id": str(mine), "payer_claim_control_number": ids.pccn("J"), "total_charge": "100.00",
         "allowed_amount": "100.00", "paid_amount": "100.00", "patient_responsibility": "0.00"}]}
    advice = await stack_b.http.post(url("remittance", "/v1/remittances"), json=json_era)
    assert advice.status_code == 200 and (advice.json()["posted"], advice.json()["unmatched"]) == (0, 1), advice.text
    queued_for_b = await queued(stack_b, ids.pcn("A")) + await queued(stack_b, str(mine))
    assert [q["paid_amount"] for q in queued_for_b] == ["100.00", "100.00"]
    assert await queued(stack, ids.pcn("A")) == []

    # b's files posted nothing, so they emitted nothing; b's own claim paid afterwards is a barrier that gives a
    # stray event (were there one) the time a real one takes to reach the consumers before a's state is compared
    # (a barrier, not a proof: another claim key may sit on another partition).
    own = await submit_claim(stack_b, ids.pcn("B"))
    await post_835(stack_b, era(check([clp(ids.pcn("B"), "100.00", "70.00", cas=[("PR", "2", "30.00")])],
                                      trace=ids.trace("B2")), isa13=ids.isa13()))
    await amount_due(stack_b, own, "30.00")
    assert await ledger(stack, mine) == ledger_before and ledger_before["totals"]["payer_paid"] == "80.00"
    assert await patient_balance(stack, mine) == balance_before
    after = await analytics_claim(stack, mine)
    assert (after["paid_amount"], after["patient_responsibility"]) == (
        analytics_before["paid_amount"], analytics_before["patient_responsibility"])
    assert (await timeline_kinds(stack, mine)).count("payment-posted") == 1

    # b sees nothing of a's claim anywhere, and cannot act on a's queue (nor a on b's)
    for service, path in (("remittance", f"/v1/claims/{mine}/ledger"), ("patient-billing", f"/v1/claims/{mine}"),
                          ("analytics", f"/v1/claims/{mine}"), ("remittance", f"/v1/claims/{mine}")):
        assert (await stack_b.http.get(url(service, path))).status_code == 404, (service, path)
    assert (await stack.http.get(url("remittance", f"/v1/claims/{uuid.uuid4()}/ledger"))).status_code == 404
    for q in queued_for_b:
        refused = await stack.http.post(url("remittance", f"/v1/unmatched-payments/{q['id']}/return"),
                                        json={"reason": "not ours"}, headers=OPERATOR)
        assert refused.status_code == 404
        returned = await stack_b.http.post(url("remittance", f"/v1/unmatched-payments/{q['id']}/return"),
                                           json={"reason": "not our patient"}, headers=OPERATOR)
        assert returned.status_code == 200 and returned.json()["status"] == "returned"
    assert [q["status"] for q in await queued(stack_b, ids.pcn("A"), status="returned")] == ["returned"]


async def test_claims_sharing_clp07_all_post_and_claims_without_clp07_both_post(stack, ids):
    claim_ids = await submit_claims(stack, *(ids.pcn(n) for n in range(5)))
    shared = [clp(ids.pcn(n), "10.00", "10.00", pccn=ids.pccn("ONE-CHECK")) for n in range(3)]
    none = [clp(ids.pcn(n), "10.00", "10.00") for n in (3, 4)]
    body = (await post_835(stack, era(check(shared + none, trace=ids.trace()), isa13=ids.isa13()))).json()
    assert (body["status"], body["posted"], body["duplicates"]) == ("posted", 5, 0)
    assert [c["claim_id"] for c in body["claims"]] == [str(i) for i in claim_ids]
    for claim_id in claim_ids:
        assert (await ledger(stack, claim_id))["totals"]["payer_paid"] == "10.00"
        await analytics_paid(stack, claim_id, "10.00")


async def test_the_same_payment_with_the_payer_named_three_ways_posts_once(stack, ids):
    claim_id = await submit_claim(stack, ids.pcn())
    outcomes = []
    for naming in ("n1", "ref", "trn"):  # three different files (ISA13 differs), one payment
        text = era(check([paid(ids.pcn(), ids.pccn("P"))], trace=ids.trace(), naming=naming), isa13=ids.isa13())
        body = (await post_835(stack, text)).json()
        outcomes.append((body["status"], body["posted"], body["duplicates"]))
    assert outcomes == [("posted", 1, 0), ("posted", 0, 1), ("posted", 0, 1)]
    assert (await ledger(stack, claim_id))["totals"]["payer_paid"] == "80.00"
    await amount_due(stack, claim_id, "20.00")
    await analytics_paid(stack, claim_id, "80.00", patient="20.00")
    assert (await timeline_kinds(stack, claim_id)).count("payment-posted") == 1


# ---------------------------------------------------------------- balancing and holds


def unbalanced(level: str, ids: Ids) -> tuple[str, dict, str]:
    """A file unbalanced at `level`, where its imbalance shows, and the patient's share it posts when released
    as it is."""
    pcn, trace, isa13 = ids.pcn(), ids.trace(), ids.isa13()
    if level == "file":  # BPR02 disagrees with the claims
        return era(check([paid(pcn)], trace=trace, amount="79.00"), isa13=isa13), {
            "level": "file", "claim_index": None, "difference": "1.00"}, "20.00"
    if level == "claim":  # CLP03 - CLP04 is not the claim's adjustments
        return era(check([clp(pcn, "100.00", "80.00", cas=[("PR", "2", "15.00")])], trace=trace), isa13=isa13), {
            "level": "claim", "claim_index": 0, "difference": "-5.00"}, "15.00"
    # the line's charge - paid is not its adjustments (they sit at claim level)
    return era(check([clp(pcn, "100.00", "80.00", cas=[("PR", "2", "20.00")], lines=[svc("99213", "100.00", "80.00")])],
                     trace=trace, amount="80.00"), isa13=isa13), {
        "level": "line", "claim_index": 0, "line_index": 0, "difference": "-20.00"}, "20.00"


@pytest.mark.parametrize("level", ["file", "claim", "line"])
async def test_an_unbalanced_file_is_held_with_the_difference_and_posted_only_when_released(stack, ids, level):
    claim_id = await submit_claim(stack, ids.pcn())
    text, where, patient_share = unbalanced(level, ids)
    body = (await post_835(stack, text)).json()
    assert body["status"] == "held" and body["posted"] == 0
    held = await remittance_file(stack, body["file_id"])
    assert any(all(i.get(k) == v for k, v in where.items()) for i in held["findings"]["imbalances"]), held["findings"]
    assert held["payments"] == [] and (await ledger(stack, claim_id))["entries"] == []

    release = url("remittance", f"/v1/remittances/{body['file_id']}/release")
    # releasing moves money: an auditor (read-only) is refused, and so is a request without credentials
    auditor = Principal(stack.tenant_id, "audit.ann", ("auditor",)).headers()
    refused = await stack.http.post(release, json={"reason": "x"}, headers=auditor)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden", refused.text
    assert (await stack.http.post(release, json={"reason": "x"}, headers={"authorization": "Bearer x"})).status_code == 401
    released = await stack.http.post(release, json={"reason": "payer confirmed the amounts by phone"},
                                     headers=OPERATOR)
    assert released.status_code == 200 and released.json()["status"] == "posted", released.text
    assert (await ledger(stack, claim_id))["totals"]["payer_paid"] == "80.00"
    stored = await remittance_file(stack, body["file_id"])
    assert (stored["status"], stored["reviewed_by"]) == ("posted", "poster.pat")
    again = await stack.http.post(release, json={"reason": "twice"}, headers=OPERATOR)
    assert again.status_code == 409
    # released, the payment travels on like any other (the claim-level file's CAS says 15.00: posted as it is)
    await amount_due(stack, claim_id, patient_share)
    await analytics_paid(stack, claim_id, "80.00", patient=patient_share)


async def test_a_held_file_can_be_rejected_and_then_nothing_of_it_posts(stack, ids):
    claim_id = await submit_claim(stack, ids.pcn())
    body = (await post_835(stack, era(check([paid(ids.pcn())], trace=ids.trace(), amount="1.00"),
                                      isa13=ids.isa13()))).json()
    assert body["status"] == "held"
    file_url = url("remittance", f"/v1/remittances/{body['file_id']}")
    resp = await stack.http.post(f"{file_url}/reject", json={"reason": "wrong check"}, headers=OPERATOR)
    assert resp.status_code == 200 and resp.json()["status"] == "rejected"
    assert (await stack.http.post(f"{file_url}/release", json={"reason": "x"}, headers=OPERATOR)).status_code == 409
    assert (await ledger(stack, claim_id))["entries"] == []
    assert (await remittance_file(stack, body["file_id"]))["payments"] == []
    assert (await stack.http.post(url("remittance", f"/v1/remittances/{uuid.uuid4()}/reject"), json={"reason": "x"},
                                  headers=OPERATOR)).status_code == 404


# ---------------------------------------------------------------- the ledger and what follows it downstream


@pytest.mark.parametrize("same", ["same-clp07", "other-clp07", "no-clp07"])
async def test_a_reversal_negates_the_original_and_the_correction_posts_anew(stack, ids, same):
    claim_id = await submit_claim(stack, ids.pcn())
    original_pccn = ids.pccn("SAME")
    pccn = {"same-clp07": original_pccn, "other-clp07": ids.pccn("OTHER"), "no-clp07": None}[same]
    original = clp(ids.pcn(), "100.00", "80.00", pccn=original_pccn, cas=[("PR", "2", "20.00")])
    assert (await post_835(stack, era(check([original], trace=ids.trace(1)), isa13=ids.isa13()))).json()["posted"] == 1
    await amount_due(stack, claim_id, "20.00")

    reversal = clp(ids.pcn(), "-100.00", "-80.00", status="22", pccn=pccn, cas=[("PR", "2", "-20.00")])
    correction = clp(ids.pcn(), "100.00", "90.00", pccn=pccn, cas=[("PR", "2", "10.00")])
    body = (await post_835(stack, era(check([reversal, correction], trace=ids.trace(2)), isa13=ids.isa13()))).json()
    assert [c["outcome"] for c in body["claims"]] == ["reversed", "posted"], body["claims"]
    totals = (await ledger(stack, claim_id))["totals"]
    assert (totals["charge"], totals["payer_paid"], totals["patient_responsibility"]["coinsurance"], totals["balance"]) == (
        "100.00", "90.00", "10.00", "10.00")

    # downstream: the patient owes the correction's share (not 20 + 10), analytics nets 80 - 80 + 90
    await amount_due(stack, claim_id, "10.00")
    seen = await analytics_paid(stack, claim_id, "90.00", patient="10.00")
    assert seen["payment_outcome"] == "paid"
    kinds = await timeline_kinds(stack, claim_id)
    assert (kinds.count("payment-posted"), kinds.count("payment-reversed")) == (2, 1)


async def test_a_reversed_denial_is_voided_in_denials_and_the_correction_pays(stack, ids):
    claim_id = await submit_claim(stack, ids.pcn())
    pccn = ids.pccn("DENIED")
    denied = clp(ids.pcn(), "100.00", "0.00", status="4", pccn=pccn, cas=[("CO", "50", "100.00")])
    first = (await post_835(stack, era(check([denied], trace=ids.trace(1)), isa13=ids.isa13()))).json()
    assert first["claims"][0]["payment_outcome"] == "denied"
    recorded = await eventually(lambda: denial(stack, claim_id), lambda d: d is not None, "denials' denial")
    assert (recorded["category"], recorded["status"], recorded["denied_amount"]) == (
        "medical_necessity", "open", "100.00")
    assert recorded["remittance_id"] == first["claims"][0]["remittance_id"]

    reversal = clp(ids.pcn(), "-100.00", "0.00", status="22", pccn=pccn, cas=[("CO", "50", "-100.00")])
    correction = clp(ids.pcn(), "100.00", "80.00", pccn=pccn, cas=[("PR", "2", "20.00")])
    body = (await post_835(stack, era(check([reversal, correction], trace=ids.trace(2)), isa13=ids.isa13()))).json()
    assert [c["outcome"] for c in body["claims"]] == ["reversed", "posted"], body["claims"]
    assert body["claims"][0]["reverses"] == first["claims"][0]["remittance_id"]
    voided = await eventually(lambda: denial(stack, claim_id), lambda d: d["status"] == "voided",
                              "denials voiding the reversed denial")
    assert voided["voided_by_remittance_id"] == body["claims"][0]["remittance_id"]
    await amount_due(stack, claim_id, "20.00")
    assert (await analytics_paid(stack, claim_id, "80.00", patient="20.00"))["payment_outcome"] == "paid"


async def test_a_secondary_payment_leaves_the_patient_the_remaining_share_not_the_sum(stack, ids):
    claim_id = await submit_claim(stack, ids.pcn())
    primary = clp(ids.pcn(), "100.00", "80.00", status="19", pccn=ids.pccn("PRI"), cas=[("PR", "2", "20.00")])
    assert (await post_835(stack, era(check([primary], trace=ids.trace(1)), isa13=ids.isa13()))).json()["posted"] == 1
    await amount_due(stack, claim_id, "20.00")

    secondary = clp(ids.pcn(), "100.00", "15.00", status="2", pccn=ids.pccn("SEC"),
                    cas=[("OA", "23", "80.00"), ("PR", "2", "5.00")])
    body = (await post_835(stack, era(check([secondary], trace=ids.trace(2), payer_id="SECOND1", trn03="1999999999"),
                                      isa13=ids.isa13()))).json()
    assert body["posted"] == 1, body
    totals = (await ledger(stack, claim_id))["totals"]
    assert (totals["charge"], totals["payer_paid"], totals["patient_responsibility"]["total"], totals["balance"]) == (
        "100.00", "95.00", "5.00", "5.00")
    balance = await amount_due(stack, claim_id, "5.00")  # the secondary's patient share, not 20 + 5
    assert balance["status"] == "open"
    await analytics_paid(stack, claim_id, "95.00", patient="5.00")  # primary + secondary


async def test_plb_entries_are_posted_once_against_the_check_and_linked_to_a_named_claim(stack, ids):
    claim_id = await submit_claim(stack, ids.pcn())
    plb = [("L6", None, "-2.50"), ("WO", ids.pcn(), "10.00")]
    first = (await post_835(stack, era(check([paid(ids.pcn())], trace=ids.trace(), plb=plb), isa13=ids.isa13()))).json()
    assert first["status"] == "posted"
    assert (await remittance_file(stack, first["file_id"]))["totals"]["provider_adjustments"] == "7.50"
    resent = (await post_835(stack, era(check([paid(ids.pcn())], trace=ids.trace(), plb=plb), isa13=ids.isa13()))).json()
    assert (resent["status"], resent["posted"], resent["duplicates"]) == ("posted", 0, 1)
    body = await ledger(stack, claim_id)
    assert body["totals"]["provider_adjustments"] == "10.00"
    assert [(e["kind"], e["reason_code"], e["amount"]) for e in body["entries"] if e["kind"] == "provider_adjustment"] \
        == [("provider_adjustment", "WO", "10.00")]


# ---------------------------------------------------------------- the unmatched queue


async def test_an_unmatched_payment_is_queued_once_then_matched_by_an_operator(stack, stack_b, ids):
    text = era(check([clp(ids.pcn("X"), "100.00", "100.00")], trace=ids.trace()), isa13=ids.isa13())
    first = (await post_835(stack, text)).json()
    assert (first["status"], first["unmatched"]) == ("partially_posted", 1)
    await post_835(stack, era(check([clp(ids.pcn("X"), "100.00", "100.00")], trace=ids.trace()), isa13=ids.isa13()))
    [item] = await queued(stack, ids.pcn("X"))  # re-sent, queued once
    assert item["paid_amount"] == "100.00" and item["file_id"] == first["file_id"]
    assert await queued(stack_b, ids.pcn("X")) == []

    claim_id = await submit_claim(stack, ids.pcn("OTHER"))  # the claim went out under another CLP01
    theirs = await submit_claim(stack_b, ids.pcn("T"))
    match = url("remittance", f"/v1/unmatched-payments/{item['id']}/match")
    refused = await stack.http.post(match, json={"claim_id": str(theirs)}, headers=OPERATOR)
    assert refused.status_code == 404
    by_b = await stack_b.http.post(match, json={"claim_id": str(theirs)}, headers=OPERATOR)
    assert by_b.status_code == 404
    resp = await stack.http.post(match, json={"claim_id": str(claim_id), "reason": "patient account renumbered"},
                                 headers=OPERATOR)
    assert resp.status_code == 200 and resp.json()["status"] == "matched", resp.text
    assert (await ledger(stack, claim_id))["totals"]["payer_paid"] == "100.00"
    assert (await stack.http.post(match, json={"claim_id": str(claim_id)}, headers=OPERATOR)).status_code == 409
    assert (await post_835(stack, text)).json()["status"] == "duplicate"
    [matched] = await queued(stack, ids.pcn("X"), status="matched")
    assert (matched["claim_id"], matched["resolved_by"]) == (str(claim_id), "poster.pat")
    await analytics_paid(stack, claim_id, "100.00", patient="0.00")
    assert (await timeline_kinds(stack, claim_id)).count("payment-posted") == 1


async def test_a_payment_that_arrived_before_its_claim_posts_when_the_claim_is_submitted(stack, ids):
    early = (await post_835(stack, era(check([paid(ids.pcn())], trace=ids.trace()), isa13=ids.isa13()))).json()
    assert early["unmatched"] == 1 and len(await queued(stack, ids.pcn())) == 1
    claim_id = await submit_claim(stack, ids.pcn())  # its ClaimSubmitted through Kafka posts the queued payment
    await eventually(lambda: ledger(stack, claim_id), lambda b: b["totals"]["payer_paid"] == "80.00",
                     "remittance posting the waiting payment")
    [posted] = await queued(stack, ids.pcn(), status="posted")
    assert posted["claim_id"] == str(claim_id)
    await amount_due(stack, claim_id, "20.00")
    await analytics_paid(stack, claim_id, "80.00", patient="20.00")


# ---------------------------------------------------------------- deposits (ERA-to-deposit reassociation)


async def test_bank_deposits_are_reassociated_with_the_eras_by_trace_for_their_tenant_only(stack, stack_b, ids):
    await submit_claims(stack, ids.pcn(1), ids.pcn(2))
    files = []
    for n, amount in ((1, "80.00"), (2, "50.00")):
        pr = str(Decimal("100.00") - Decimal(amount))  # the patient's coinsurance balances the line
        text = era(check([clp(ids.pcn(n), "100.00", amount, lines=[svc("99213", "100.00", amount, [("PR", "2", pr)])])],
                         trace=ids.trace(n)), isa13=ids.isa13())
        body = (await post_835(stack, text)).json()
        assert body["status"] == "posted", body
        files.append(body["file_id"])
    # the first EFT deposited as paid; the second 55.00 for an ERA of 50.00
    bank = bai2([("165", 8000, "BR001", f"ACH CREDIT TRN*1*{ids.trace(1)}*1512345678\\"),
                 ("169", 5500, "BR002", f"TRN*1*{ids.trace(2)}*1512345678\\")])
    deposits = url("remittance", "/v1/deposits")
    resp = await stack.http.post(deposits, content=bank.encode(), headers={"content-type": "text/plain"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["format"], body["deposits_in_file"], body["stored"], body["already_stored"]) == ("bai2", 2, 2, 0)
    assert "1234567890" not in resp.text  # never the account number
    r = body["reassociation"]
    [m] = [m for m in r["matched"] if m["deposit"]["trace"] == ids.trace(1)]
    assert (m["deposit"]["amount"], m["by"], m["file_ids"]) == ("80.00", "trace", [files[0]])
    [x] = [x for x in r["amount_mismatches"] if x["deposit"]["trace"] == ids.trace(2)]
    assert (x["file_ids"], x["era_amount"], x["difference"]) == ([files[1]], "50.00", "5.00")

    again = (await stack.http.post(deposits, content=bank.encode(), headers={"content-type": "text/plain"})).json()
    assert (again["stored"], again["already_stored"]) == (0, 2)
    theirs = await stack_b.get("remittance", "/v1/deposits/reassociation")
    traces = {d["deposit"]["trace"] for d in theirs["matched"] + theirs["amount_mismatches"]} | {
        d["trace"] for d in theirs["unmatched_deposits"]} | {e["trace"] for e in theirs["eras_without_deposit"]}
    assert not traces & {ids.trace(1), ids.trace(2)}
