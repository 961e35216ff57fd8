"""Pipeline benchmark (a script, not a test). Needs the stack running (`make up`).

Phase 1, throughput: N encounters (default 10,000) published to the Kafka intake topic in one burst;
sustained encounters/s from the first send to the last posted payment.
Phase 2, latency: encounters sent at a steady rate below capacity; p50/p99 from send to posted
payment (the remittance service's PaymentPosted time).
Prints each service's CPU seconds and peak memory over the run (from /proc via psutil).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.client import PORTS, STACK_DIR, Principal, Stack  # noqa: E402
from tests.support.encounters import generate, intake_record  # noqa: E402

# scenarios whose claims reach a posted payment (the others stop at a hold by design)
POSTING_SCENARIOS = ["paid", "copay", "deductible", "coinsurance", "with_auth", "non_covered", "non_covered_line"]


def postgres_processes() -> list[psutil.Process]:
    """This stack's PostgreSQL server and its backends (not another cluster on the machine): the postmaster of the
    data directory deploy/stack.sh uses ($RCM_STACK_DIR/pg, or its /var/tmp copy when run as root)."""
    tag = hashlib.md5(str(STACK_DIR).encode()).hexdigest()[:12]
    for data in (STACK_DIR / "pg", Path(f"/var/tmp/openrcm-pg-{tag}")):
        try:
            postmaster = psutil.Process(int((data / "postmaster.pid").read_text().split()[0]))
            return [postmaster, *postmaster.children()]
        except (OSError, ValueError, IndexError, psutil.Error):
            continue
    return []


def processes() -> dict[str, psutil.Process]:
    run = STACK_DIR / "run"
    out = {}
    for name in list(PORTS) + ["kafka"]:
        pidf = run / f"{name}.pid"
        if pidf.exists():
            try:
                out[name] = psutil.Process(int(pidf.read_text()))
            except psutil.NoSuchProcess:
                pass
    out.update({f"postgres#{p.pid}": p for p in postgres_processes()})
    return out


class ResourceMeter:
    """CPU seconds consumed during the run and peak resident memory, sampled every 0.25 s."""

    def __init__(self) -> None:
        self.procs = processes()
        self.cpu0 = {n: self._cpu(p) for n, p in self.procs.items()}
        self.peak = {n: 0 for n in self.procs}
        self._task = None

    @staticmethod
    def _cpu(p: psutil.Process) -> float:
        try:
            t = p.cpu_times()
            return t.user + t.system
        except psutil.Error:
            return 0.0

    async def _sample(self) -> None:
        while True:
            for n, p in self.procs.items():
                try:
                    self.peak[n] = max(self.peak[n], p.memory_info().rss)
                except psutil.Error:
                    pass
            await asyncio.sleep(0.25)

    def start(self) -> None:
        self._task = asyncio.create_task(self._sample())

    def report(self) -> list[tuple[str, float, float]]:
        self._task.cancel()
        rows = []
        pg_cpu = pg_mem = 0.0
        for n, p in self.procs.items():
            cpu = self._cpu(p) - self.cpu0[n]
            if n.startswith("postgres#"):
                pg_cpu += cpu
                pg_mem += self.peak[n]
            else:
                rows.append((n, cpu, self.peak[n] / 2**20))
        rows.append(("postgres (all backends)", pg_cpu, pg_mem / 2**20))
        return rows


async def send_burst(stack: Stack, bodies: list[dict], sent_at: dict[str, float]) -> None:
    chunk = 1000
    for i in range(0, len(bodies), chunk):
        part = bodies[i:i + chunk]
        now = time.time()
        for b in part:
            sent_at[b["source_encounter_id"]] = now
        await stack.publish_intake(intake_record(b, tenant_id=stack.tenant_id) for b in part)


async def send_paced(stack: Stack, bodies: list[dict], rate: float, sent_at: dict[str, float]) -> None:
    start = time.monotonic()
    for i, b in enumerate(bodies):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        sent_at[b["source_encounter_id"]] = time.time()
        await stack.publish_intake([intake_record(b, tenant_id=stack.tenant_id)])


def latencies(claims: list[dict], sent_at: dict[str, float]) -> list[float]:
    out = []
    for c in claims:
        if c.get("posted_at") and c["source_encounter_id"] in sent_at:
            posted = datetime.fromisoformat(c["posted_at"]).timestamp()
            out.append(posted - sent_at[c["source_encounter_id"]])
    return sorted(out)


def pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


async def wait_posted(stack: Stack, source: str, n: int, timeout: float, label: str) -> list[dict]:
    t0 = time.monotonic()
    last = -1
    while True:
        p = await stack.get("analytics", "/v1/pipeline", source_system=source)
        posted = p["by_stage"].get("posted", 0)
        if posted != last:
            print(f"  [{label} {time.monotonic() - t0:6.1f}s] {p['claims']:6d} seen, {posted:6d} posted", flush=True)
            last = posted
        if posted >= n:
            return await stack.claims(source)
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{posted}/{n} posted after {timeout}s")
        await asyncio.sleep(3.0)  # polling analytics costs CPU the pipeline needs


async def main(args) -> None:
    stack = Stack(Principal(args.tenant, "bench.admin"))  # tokens of the stack's development issuer
    run = uuid.uuid4().hex[:8]
    try:
        await stack.enroll_providers()
        await stack.publish_intake([])  # connect the producer before timing
        meter = ResourceMeter()
        meter.start()

        src = f"bench-{run}-burst"
        bodies = [g.body for g in generate(args.n, seed=11, source_system=src, run_id=f"{run}b", scenarios=POSTING_SCENARIOS)]
        sent_at: dict[str, float] = {}
        print(f"phase 1: {args.n} encounters in one burst on the intake topic")
        t0 = time.time()
        await send_burst(stack, bodies, sent_at)
        print(f"  published in {time.time() - t0:.1f}s")
        claims = await wait_posted(stack, src, args.n, args.timeout, "burst")
        last_post = max(datetime.fromisoformat(c["posted_at"]).timestamp() for c in claims)
        wall = last_post - t0
        burst_lat = latencies(claims, sent_at)

        src2 = f"bench-{run}-paced"
        paced = [g.body for g in generate(args.paced_n, seed=12, source_system=src2, run_id=f"{run}p", scenarios=POSTING_SCENARIOS)]
        sent2: dict[str, float] = {}
        print(f"phase 2: {args.paced_n} encounters at {args.rate:.0f}/s")
        await send_paced(stack, paced, args.rate, sent2)
        claims2 = await wait_posted(stack, src2, args.paced_n, args.timeout, "paced")
        lat = latencies(claims2, sent2)
        resources = meter.report()

        print("\n=== pipeline benchmark ===")
        print(f"throughput: {args.n} encounters intake -> posted payment in {wall:.1f}s = {args.n / wall:.0f} encounters/s sustained")
        print(f"burst latency (queueing included): p50 {pct(burst_lat, .5):.2f}s  p99 {pct(burst_lat, .99):.2f}s")
        print(f"steady latency at {args.rate:.0f}/s ({len(lat)} claims): p50 {pct(lat, .5) * 1000:.0f} ms  "
              f"p99 {pct(lat, .99) * 1000:.0f} ms  max {lat[-1] * 1000:.0f} ms")
        print(f"\n{'process':28s} {'CPU s':>8s} {'peak RSS MiB':>13s}")
        for name, cpu, mem in resources:
            print(f"{name:28s} {cpu:8.1f} {mem:13.0f}")
    finally:
        await stack.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--paced-n", type=int, default=1_000)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--tenant", default="demo")
    asyncio.run(main(ap.parse_args()))
