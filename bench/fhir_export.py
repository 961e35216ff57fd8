"""FHIR export intake benchmark (a script, not a test). Needs the stack running (`make up`).

A patient's history export as EHRs send it (tests/support/fhir_exports.py): a transaction Bundle of 300
encounters, about 10 MB, with Observations and ExplanationOfBenefits no claim reads, in mixed shapes (captured,
held, self-pay, rejected). Prints, for each of `--runs` new exports POSTed to charges: the response time and
the per-encounter outcome counts; then charges' peak RSS before and after (bounded memory), and the mapping
alone in-process (time and Python heap peak, tracemalloc).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import tracemalloc
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.client import STACK_DIR, Principal, Stack, url  # noqa: E402
from tests.support.fhir_exports import SHAPES, patient_export  # noqa: E402


def charges_process() -> psutil.Process | None:
    try:
        return psutil.Process(int((STACK_DIR / "run" / "charges.pid").read_text()))
    except (OSError, ValueError, psutil.Error):
        return None


def peak_rss_mib(process: psutil.Process | None) -> float | None:
    """VmHWM: the process's peak resident set since it started."""
    if process is None:
        return None
    for line in Path(f"/proc/{process.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def export(encounters: int, filler: int) -> tuple[bytes, int]:
    bundle, _ = patient_export(encounters, shapes=tuple(SHAPES), filler=filler, run_id=uuid.uuid4().hex[:8])
    return json.dumps(bundle).encode(), len(bundle["entry"])


def in_process(body: bytes) -> tuple[float, float]:
    from rcm_charges.domain.fhir_bundle import read_encounters

    t0 = time.perf_counter()
    read_encounters(json.loads(body), source_system="bench")
    elapsed = time.perf_counter() - t0
    tracemalloc.start()  # a second pass: tracing slows allocation several times over
    read_encounters(json.loads(body), source_system="bench")
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return elapsed, peak


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--encounters", type=int, default=300)
    ap.add_argument("--filler", type=int, default=26, help="Observations per encounter (26: about 10 MB for 300)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tenant", default=f"bench-fhir-{uuid.uuid4().hex[:6]}")
    args = ap.parse_args()

    stack = Stack(Principal(args.tenant))
    process = charges_process()
    rss_before = peak_rss_mib(process)
    try:
        await stack.enroll_providers()
        print(f"=== FHIR export intake: {args.encounters} encounters per Bundle, {args.runs} runs ===")
        for run in range(args.runs):
            body, entries = export(args.encounters, args.filler)
            t0 = time.perf_counter()
            resp = await stack.http.post(url("charges", "/v1/encounters/fhir"), content=body,
                                         params={"source_system": "bench-export"},
                                         headers={"content-type": "application/fhir+json"})
            elapsed = time.perf_counter() - t0
            if resp.status_code not in (200, 201):
                raise SystemExit(f"charges answered {resp.status_code}: {resp.text[:500]}")
            summary = resp.json()["summary"]
            print(f"run {run + 1}: {len(body) / 1e6:5.1f} MB, {entries} entries -> HTTP {resp.status_code} in "
                  f"{elapsed:.2f} s  {summary}")
        retry_t0 = time.perf_counter()
        resp = await stack.http.post(url("charges", "/v1/encounters/fhir"), content=body,
                                     params={"source_system": "bench-export"})
        print(f"retry of the last export: HTTP {resp.status_code} in {time.perf_counter() - retry_t0:.2f} s "
              f"{resp.json()['summary']}")
    finally:
        await stack.close()
    rss_after = peak_rss_mib(process)
    if rss_before is not None:
        print(f"charges peak RSS: {rss_before:.0f} MiB before, {rss_after:.0f} MiB after")
    elapsed, heap = in_process(body)
    print(f"mapping alone (in-process, JSON parse included): {elapsed:.2f} s, Python heap peak {heap:.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
