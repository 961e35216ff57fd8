"""Demo: sends a batch of generated encounters through the running stack three ways (JSON, FHIR R4
Bundle, Kafka intake topic), shows progress while they settle, then prints per-stage counts, one
claim's timeline and the OpenAPI URL of every service. Run by `make demo` after `stack.sh up`."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.client import PORTS, Stack, url  # noqa: E402
from tests.support.encounters import generate, intake_record, to_fhir_bundle  # noqa: E402


async def main(n: int, api_key: str, tenant: str) -> int:
    run = uuid.uuid4().hex[:8]
    source_system = f"demo-ehr-{run}"
    batch = generate(n, seed=int(time.time()), source_system=source_system, run_id=run)
    stack = Stack(api_key, tenant)
    t0 = time.monotonic()
    try:
        await stack.enroll_providers()
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
        print("\nOpenAPI docs:")
        for name in PORTS:
            print(f"  {name:16s} {url(name, '/docs')}")
        mismatch = {s: (p["by_final_state"].get(s, 0), c) for s, c in expected.items() if p["by_final_state"].get(s, 0) != c}
        if mismatch:
            print(f"\nfinal states differ from expected: {mismatch}")
            return 1
        return 0
    finally:
        await stack.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=120)
    ap.add_argument("--api-key", default="dev-key-demo")
    ap.add_argument("--tenant", default="demo")
    args = ap.parse_args()
    sys.exit(asyncio.run(main(args.n, args.api_key, args.tenant)))
