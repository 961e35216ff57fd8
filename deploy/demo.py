"""Demo: sends a batch of generated encounters through the running stack three ways (JSON, FHIR R4
Bundle, Kafka intake topic), shows progress while they settle, then prints per-stage counts, one
claim's timeline, the ledgers of a paid, a partly paid, a reversed-and-corrected, a secondary-paid and an
underpaid claim (waiting for the payer's later 835s), the OpenAPI URL of every service and, last, each
service's open dead letters and the oldest one's time. Run by `make demo` after `stack.sh up`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.client import OPERATOR, PORTS, Principal, Stack, acting_as, eventually, url  # noqa: E402
from tests.support.encounters import (  # noqa: E402
    UNDERPAID_CODE,
    generate,
    intake_record,
    to_fhir_bundle,
    to_hl7_dft,
)
from tests.support.fhir_exports import patient_export  # noqa: E402
from tests.support.mllp import MllpClient, stack_context, stack_port  # noqa: E402

# The demo tenant's contract with SBX01 expects more for the underpaid scenario's code than the sandbox pays
# (175.00): remittance flags those payments (PaymentUnderpaid, the denials service's underpayment queue).
CONTRACT_PAYER, CONTRACT_RATE = "SBX01", "190.00"
LATER_835_TIMEOUT_S = 90


async def main(n: int, tenant: str) -> int:
    run = uuid.uuid4().hex[:8]
    source_system = f"demo-ehr-{run}"
    batch = generate(n, seed=int(time.time()), source_system=source_system, run_id=run)
    stack = Stack(Principal(tenant, "demo.admin"))  # tokens of the stack's development issuer
    t0 = time.monotonic()
    try:
        await stack.enroll_providers()
        contract = await stack.http.put(
            url("remittance", f"/v1/payers/{CONTRACT_PAYER}/contract"), headers=acting_as("demo"),
            json={"fee_table": f"code,modifier,amount,effective_from,effective_to\n{UNDERPAID_CODE},,{CONTRACT_RATE},"
                               "2020-01-01,\n", "reason": "demo contract"})
        if contract.status_code != 200:
            raise SystemExit(f"contract refused: HTTP {contract.status_code} {contract.text[:300]}")
        # denials: a write-off above 50.00 waits for a second person; a payer denying one code with one CARC on more
        # than 2 claims in 30 days recommends a scrubber rule (demo values; the defaults are 100.00 and 5)
        for service, path, body in (("denials", "/v1/denial-settings", {"appeal_days": 90, "timely_filing_days": 365,
                                                                         "write_off_approval_above": "50.00"}),
                                    ("denials", "/v1/settings/denial-rule-threshold", {"rule_threshold": 2})):
            r = await stack.http.put(url(service, path), json=body, headers=acting_as("demo"))
            if r.status_code != 200:
                raise SystemExit(f"{path} refused: HTTP {r.status_code} {r.text[:300]}")
        json_part, fhir_part, kafka_part = batch[0::3], batch[1::3], batch[2::3]
        sem = asyncio.Semaphore(16)

        async def send(coro):
            async with sem:
                r = await coro
                if r.status_code not in (200, 201):
                    raise SystemExit(f"intake refused: HTTP {r.status_code} {r.text[:300]}")

        await asyncio.gather(*(send(stack.post_json(g.body)) for g in json_part),
                             *(send(stack.post_fhir(to_fhir_bundle(g.body), source_system)) for g in fhir_part))
        await stack.publish_intake(intake_record(g.body, tenant_id=tenant) for g in kafka_part)
        print(f"sent {len(batch)} encounters (source system {source_system}): {len(json_part)} as JSON, "
              f"{len(fhir_part)} as FHIR R4 Bundles, {len(kafka_part)} on the Kafka intake topic")

        dup = await stack.post_json(json_part[0].body)
        print(f"resent one encounter with the same source id -> HTTP {dup.status_code} {dup.json()['status']}")
        bad = to_fhir_bundle(json_part[0].body)
        bad["entry"][0]["resource"]["birthDate"] = "not-a-date"
        r = await stack.post_fhir(bad, source_system)
        print(f"malformed FHIR Bundle -> HTTP {r.status_code}: {json.dumps(r.json()['errors'][:2])}")
        await show_patient_export(stack, run)
        await show_mllp(run, tenant)

        def progress(p):
            settled = p["claims"] - p["in_flight"]
            print(f"  [{time.monotonic() - t0:5.1f}s] {p['claims']:4d}/{n} claims seen by analytics, "
                  f"{settled:4d} settled", flush=True)

        p = await stack.wait_settled(source_system, n, timeout_s=300, on_progress=progress)
        claims = await stack.claims(source_system)
        print(f"\nall {n} settled in {time.monotonic() - t0:.1f}s\n")
        print("claims by furthest stage reached:")
        for stage, count in sorted(p["by_stage"].items(), key=lambda kv: -kv[1]):
            print(f"  {stage:22s} {count:5d}")
        print("claims by final state (expected from the generated scenarios):")
        expected = Counter(g.expected_final_state for g in batch)
        for state in sorted(set(expected) | set(p["by_final_state"])):
            print(f"  {state:22s} {p['by_final_state'].get(state, 0):5d}   (expected {expected.get(state, 0)})")
        kpis = await stack.get("analytics", "/v1/kpis", source_system=source_system)
        print("KPIs:", json.dumps(kpis))

        sample = next((c for c in claims if c["final_state"] == "patient_balance"), claims[0])
        tl = await stack.get("analytics", f"/v1/claims/{sample['claim_id']}/timeline")
        print(f"\ntimeline of claim {sample['claim_id']} ({sample['final_state']}):")
        start = None
        for e in tl["events"]:
            from datetime import datetime
            ts = datetime.fromisoformat(e["occurred_at"])
            start = start or ts
            print(f"  +{(ts - start).total_seconds() * 1000:7.0f} ms  {e['source']:22s} "
                  f"{e['event_type'].split('.')[-2]:20s} {json.dumps(e['summary'])}")
        missing = await show_ledgers(stack, batch, claims, run)
        await show_denials(stack, {c['claim_id'] for c in claims})

        print("\nOpenAPI docs:")
        for name in PORTS:
            print(f"  {name:16s} {url(name, '/docs')}")
        mismatch = {s: (p["by_final_state"].get(s, 0), c) for s, c in expected.items() if p["by_final_state"].get(s, 0) != c}
        if mismatch:
            print(f"\nfinal states differ from expected: {mismatch}")
        if missing:
            print(f"\nthe payer's later 835s did not all arrive within {LATER_835_TIMEOUT_S}s: missing {missing}")
        await show_dead_letters(stack)
        return 1 if mismatch or missing else 0
    finally:
        await stack.close()


EXPORT_SHAPES = ("focal", "focal_second", "no_subscriber", "ambiguous", "self_pay", "bad_code")


async def show_patient_export(stack: Stack, run: str) -> None:
    """A patient's history export as EHRs send it (a FHIR transaction Bundle, several Coverages without order,
    Claims naming theirs with focal/sequence, a self-pay visit, a Coverage without member id, a bad code): each
    encounter is captured, held or rejected on its own. Its own source system: not counted in the batch above."""
    bundle, expected = patient_export(len(EXPORT_SHAPES), shapes=EXPORT_SHAPES, run_id=f"{run}x")
    r = await stack.post_fhir(bundle, f"demo-export-{run}")
    if r.status_code not in (200, 201):
        raise SystemExit(f"patient export refused: HTTP {r.status_code} {r.text[:300]}")
    print(f"\na patient's FHIR export ({len(bundle['entry'])} entries, {len(expected)} encounters) -> HTTP "
          f"{r.status_code} {json.dumps(r.json()['summary'])}")
    for item, (_, shape) in zip(r.json()["encounters"], expected):
        why = "; ".join(f"{m['field']}: {m['reason']}" for m in item.get("missing") or item.get("errors") or [])
        print(f"  {item['source_encounter_id']:18s} {shape:14s} -> {item['status']:9s} {why[:110]}")
    self_pay = next((i for i in r.json()["encounters"] if i["status"] == "self_pay"), None)
    if self_pay is not None:  # no 270, no 837: the charges go straight to a patient balance
        balance = None
        for _ in range(60):
            b = await stack.http.get(url("patient-billing", f"/v1/claims/{self_pay['claim_id']}"))
            if b.status_code == 200:
                balance = b.json()
                break
            await asyncio.sleep(0.5)
        print(f"  self-pay encounter {self_pay['source_encounter_id']}: "
              + (f"patient balance {balance['amount_due']} due ({balance.get('origin', '')}), never billed to a payer"
                 if balance else "no patient balance within 30s"))


async def show_mllp(run: str, tenant: str) -> None:
    """An interface engine sending HL7 v2 over MLLP to charges (TLS, a client certificate naming the tenant): a
    DFT^P03 accepted (AA), the same message resent (the same ACK, captured once), one whose performer is an e-mail
    address where the NPI belongs (AA: held for the NPI, not rejected), and a message type charges does not take
    (AR)."""
    body = generate(1, seed=int(time.time()) + 2, source_system=f"demo-mllp-{run}", run_id=f"{run}m",
                    scenarios=["paid"])[0].body
    dft = to_hl7_dft(body)
    held = to_hl7_dft({**body, "source_encounter_id": body["source_encounter_id"] + "-2"}).replace(
        f"|{body['rendering_provider']['npi']}^Demo^Dana", "|dana.demo@example.org^Demo^Dana")
    oru = dft.replace("DFT^P03^DFT_P03", "ORU^R01^ORU_R01").replace(f"|{body['source_encounter_id']}|P|",
                                                                    f"|{body['source_encounter_id']}-3|P|", 1)
    ctx = stack_context(tenant)
    print(f"\nHL7 v2 over MLLP to charges (port {stack_port()}, "
          f"{'TLS client certificate of ' + tenant if ctx else 'plain TCP'}):")
    client = await MllpClient.connect(stack_port(), ctx)
    try:
        for label, message in (("DFT^P03", dft), ("the same DFT resent", dft),
                               ("DFT^P03, performer an e-mail address", held), ("ORU^R01", oru)):
            ack = await client.send(message)
            segments = ack.strip("\r").split("\r")
            print(f"  {label:38s} -> " + " | ".join(seg for seg in segments if not seg.startswith("MSH")))
        print(f"  ACK header: {segments[0]}")
    finally:
        await client.close()


PRACTICE = {"name": "Demo Family Practice", "npi": "1234567893", "signer_name": "Dana Demo",
            "address": {"lines": ["100 Main St"], "city": "Springfield", "state": "IL", "postal_code": "62701"}}


async def show_denials(stack: Stack, run_claims: set[str]) -> None:
    """The denial work queue by priority (root cause from CARC + RARC, deadline, days left), the top item's appeal
    letter (PDF), a write-off above the tenant's approval amount waiting for a second person, and the scrubber's
    rule proposals from denial patterns."""
    queue = (await stack.http.get(url("denials", "/v1/denials"), params={"sort": "priority", "limit": 5})).json()
    print(f"\ndenial work queue (tenant {stack.tenant_id}): {json.dumps(queue['summary'])[:300]}")
    causes, total = queue["summary"]["by_root_cause"], queue["summary"]["total"]
    print("  items by root cause: " + ", ".join(f"{cause} {count} ({100 * count / total:.0f}%)"
                                                for cause, count in sorted(causes.items(), key=lambda kv: -kv[1])))
    for item in queue["items"]:
        print(f"  {item['root_cause']:18s} {item['payer_id']:6s} {item['denied_amount']:>9s}  deadline {item['deadline']}"
              f" ({item['days_left']} days)  priority {item['priority']}  {', '.join(item['reason_codes'])}")
    if not queue["items"]:
        return
    top, *rest = queue["items"]
    pdf = await stack.http.post(url("denials", f"/v1/denials/{top['denial_id']}/appeal-packet"),
                                json={"practice": PRACTICE, "attachments": ["Visit note", "Itemized bill"]})
    print(f"  appeal packet for the top item -> HTTP {pdf.status_code}, {pdf.headers.get('content-type')}, "
          f"{len(pdf.content)} bytes, starts {pdf.content[:5]!r}")
    if rest:
        amount = rest[0]["denied_amount"]
        w = await stack.http.post(url("denials", f"/v1/denials/{rest[0]['denial_id']}/write-off"),
                                  json={"reason_code": "SMALL_BALANCE", "amount": amount}, headers=acting_as("sam.specialist"))
        print(f"  write-off of {amount} by sam.specialist -> HTTP {w.status_code} {w.json().get('status')} "
              "(above the tenant's 50.00 it waits for another person's approval)")
    await show_corrected_claim(stack, run_claims, exclude={top["denial_id"], *(r["denial_id"] for r in rest[:1])})
    proposals = (await stack.http.get(url("scrubber", "/v1/rule-proposals"))).json()
    items = proposals.get("items", proposals.get("proposals", []))
    print(f"  scrubber rule proposals from denial patterns: {len(items)}"
          + (f"; first: {json.dumps(items[0])[:200]}" if items else ""))


CORRECTED_TIMEOUT_S = 90


async def show_corrected_claim(stack: Stack, run_claims: set[str], exclude: set[str]) -> None:
    """A denied claim corrected and paid: a CO-96 (97810 not covered) item whose service was manual therapy
    (97140) goes back as a replacement claim (frequency 7, REF*F8 the payer's claim number) through the scrubber and
    submission; the payer reverses its denial and pays; the item ends recovered."""
    listed = (await stack.http.get(url("denials", "/v1/denials"),
                                   params={"root_cause": "non_covered", "status": "open", "limit": 1000})).json()
    item = next((i for i in listed["items"] if i["claim_id"] in run_claims and i["denial_id"] not in exclude
                 and i["reason_codes"] == ["CO-96"]), None)  # one of this run's claims
    if item is None:
        print("  corrected claim: no open CO-96 item to correct in this run")
        return
    billed = (await stack.http.get(url("scrubber", f"/v1/claims/{item['claim_id']}"))).json()["claim"]
    lines = [{**ln, "procedure_code": "97140"} if ln["procedure_code"] == "97810" else ln for ln in billed["lines"]]
    r = await stack.http.post(url("denials", f"/v1/denials/{item['denial_id']}/corrected"),
                              json={"correction": {"lines": lines}}, headers=acting_as("sam.specialist"))
    if r.status_code != 200:
        print(f"  corrected claim for {item['claim_id']} refused: HTTP {r.status_code} {r.text[:200]}")
        return
    print(f"  corrected claim for {item['claim_id']} (97810 -> 97140) by sam.specialist -> HTTP {r.status_code} "
          f"{r.json()['status']}, replacing payer claim {r.json()['payer_claim_number']}")
    try:
        answered = await eventually(lambda: stack.get("denials", f"/v1/denials/{item['denial_id']}"),
                                    lambda i: i["status"] != "corrected", "the payer's answer to the corrected claim",
                                    timeout_s=CORRECTED_TIMEOUT_S, poll_s=1.0)
    except AssertionError as exc:
        print(f"  {str(exc)[:120]}")
        return
    sent = (await stack.http.get(url("submission", f"/v1/claims/{item['claim_id']}"))).json()
    ledger = await _ledger(stack, item["claim_id"]) or {"totals": {}}
    t = ledger["totals"]
    print(f"  -> sent as frequency {sent.get('frequency_code')} ({sent.get('status')} by the payer); item "
          f"{answered['status']}, recovered {answered.get('recovered_amount')}; ledger: charge {t.get('charge')}, "
          f"paid {t.get('payer_paid')}, contractual {t.get('contractual')}, balance {t.get('balance')} "
          "(the denial reversed by the payer, CLP02 22)")


async def show_dead_letters(stack: Stack) -> None:
    """Each service's open dead letters (GET /v1/ops/dead-letters/summary): how many, since when, and why."""
    print("\nopen dead letters (redrive: POST /v1/ops/dead-letters/redrive with a platform operator's token):")
    for name in PORTS:
        try:
            r = await stack.http.get(url(name, "/v1/ops/dead-letters/summary"), headers=OPERATOR.headers())
        except Exception as exc:  # noqa: BLE001 - one service not answering does not end the report
            print(f"  {name:16s} unreachable ({type(exc).__name__})")
            continue
        if r.status_code != 200:
            print(f"  {name:16s} HTTP {r.status_code}")
            continue
        s = r.json()
        oldest = f", oldest {s['oldest_at']}" if s["oldest_at"] else ""
        print(f"  {name:16s} {s['open']:5d} open{oldest}")
        for reason, count in list(s["by_reason"].items())[:3]:
            print(f"  {'':16s} {count:5d}  {reason[:100]}")


# ---------------------------------------------------------------- ledgers of one claim of each kind
KINDS = [("paid", "paid"), ("partly paid", "non_covered_line"), ("reversed-and-corrected", "reprocessed"),
         ("secondary-paid", "secondary"), ("underpaid", "underpaid"), ("late, with interest", "late_paid")]


def _entries(ledger: dict, kind: str, reason: str | None = None) -> list[dict]:
    return [e for e in ledger["entries"] if e["kind"] == kind and (reason is None or e["reason_code"] == reason)]


# What each kind's ledger shows once the payer's later 835s have been posted (None: nothing later to wait for).
LATER = {
    "reprocessed": ("a reversal (CLP02 22) and its correction",
                    lambda ld: any(Decimal(e["amount"]) < 0 for e in _entries(ld, "charge"))),
    "recovered": ("the overpayment recovered from a later check (PLB WO)",
                  lambda ld: any(Decimal(e["amount"]) > 0 for e in _entries(ld, "provider_adjustment", "WO"))),
    "secondary": ("the supplement's payment (CLP02 2, OA-23)", lambda ld: bool(_entries(ld, "prior_payer"))),
    "late_paid": ("interest (PLB L6)", lambda ld: bool(_entries(ld, "provider_adjustment", "L6"))),
}


async def _ledger(stack: Stack, claim_id: str) -> dict | None:
    r = await stack.http.get(url("remittance", f"/v1/claims/{claim_id}/ledger"))
    return r.json() if r.status_code == 200 else None


async def _wait_for(stack: Stack, waits: dict[str, tuple[str, str]], deadline: float) -> set[str]:
    """Poll the ledgers until every awaited later 835 shows (key -> (claim id, what)); the keys still missing."""
    left = dict(waits)
    while left and time.monotonic() < deadline:
        for key, (claim_id, _) in list(left.items()):
            ledger = await _ledger(stack, claim_id)
            if ledger and LATER[key][1](ledger):
                left.pop(key)
        if left:
            await asyncio.sleep(1.0)
    return set(left)


async def _send_follow_up(stack: Stack, payer: tuple[str, str], run: str) -> None:
    """The payer recovers an overpayment from its next check to the practice: a few more visits billed to it."""
    follow = generate(3, seed=int(time.time()) + 1, source_system=f"demo-ehr-{run}-next", run_id=f"{run}n",
                      scenarios=["paid"])
    for g in follow:
        body = {**g.body, "coverage": {**g.body["coverage"], "payer_id": payer[0], "payer_name": payer[1]}}
        r = await stack.post_json(body)
        if r.status_code not in (200, 201):
            raise SystemExit(f"intake refused: HTTP {r.status_code} {r.text[:300]}")


async def show_ledgers(stack: Stack, batch, claims: list[dict], run: str) -> list[str]:
    """One claim of each kind: wait (bounded) for the payer's later 835s, then print its ledger totals and the
    patient balance. Returns what did not arrive."""
    by_source = {c["source_encounter_id"]: c for c in claims}
    picked: dict[str, tuple[dict, dict]] = {}  # scenario -> (generated body, analytics claim)
    for g in batch:
        claim = by_source.get(g.body["source_encounter_id"])
        if claim and g.scenario not in picked and claim["final_state"] == g.expected_final_state:
            picked[g.scenario] = (g.body, claim)
    waits = {key: (picked[scenario][1]["claim_id"], LATER[key][0])
             for key, scenario in (("reprocessed", "reprocessed"), ("secondary", "secondary"),
                                   ("late_paid", "late_paid")) if scenario in picked}
    deadline = time.monotonic() + LATER_835_TIMEOUT_S
    if waits:
        print(f"\nwaiting up to {LATER_835_TIMEOUT_S}s for the payer's later 835s: "
              + "; ".join(what for _, what in waits.values()))
    missing = await _wait_for(stack, waits, deadline)
    if "reprocessed" in picked and "reprocessed" not in missing:
        body = picked["reprocessed"][0]
        await _send_follow_up(stack, (body["coverage"]["payer_id"], body["coverage"]["payer_name"]), run)
        missing |= await _wait_for(stack, {"recovered": (picked["reprocessed"][1]["claim_id"],
                                                         LATER["recovered"][0])}, deadline)

    print("\nledgers (remittance) and patient balances (patient-billing), one claim of each kind:")
    print(f"  {'kind':24s} {'charge':>9s} {'paid':>9s} {'contract':>9s} {'patient':>9s} {'balance':>9s} "
          f"{'pt due':>9s}  notes")
    for label, scenario in KINDS:
        if scenario not in picked:
            print(f"  {label:24s} (no such claim in this batch)")
            continue
        claim_id = picked[scenario][1]["claim_id"]
        ledger = await _ledger(stack, claim_id)
        if ledger is None:
            print(f"  {label:24s} {claim_id}: no ledger")
            continue
        t = ledger["totals"]
        r = await stack.http.get(url("patient-billing", f"/v1/claims/{claim_id}"))
        due = r.json()["amount_due"] if r.status_code == 200 else "-"
        notes = []
        reversals = sum(1 for e in _entries(ledger, "charge") if Decimal(e["amount"]) < 0)
        if reversals:
            notes.append(f"{reversals} line(s) reversed and re-paid")
        for e in _entries(ledger, "provider_adjustment"):
            notes.append(f"PLB {e['reason_code']} {e['amount']}")
        if _entries(ledger, "prior_payer"):
            notes.append("secondary paid (OA-23 memo)")
        if scenario == "underpaid":
            u = await stack.http.get(url("remittance", f"/v1/claims/{claim_id}/underpayments"))
            items = u.json()["items"] if u.status_code == 200 else []
            notes += [f"underpaid: allowed {i['actual_allowed']}, contract expects {i['expected_allowed']}" for i in items]
            if not items:
                notes.append("no underpayment flagged")
        print(f"  {label:24s} {t['charge']:>9s} {t['payer_paid']:>9s} {t['contractual']:>9s} "
              f"{t['patient_responsibility']['total']:>9s} {t['balance']:>9s} {str(due):>9s}  {'; '.join(notes)}")
    return sorted(LATER[key][0] for key in missing)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=120)
    ap.add_argument("--tenant", default="demo")
    args = ap.parse_args()
    sys.exit(asyncio.run(main(args.n, args.tenant)))
