"""Fault drill (a script, not a test; issue 13). Needs the stack running (`make up`); it stops and starts
PostgreSQL, Kafka and services of that stack through deploy/stack.sh, and leaves them running.

N encounters (default 10,000) go to the intake topic, half in a burst, the rest in groups as PostgreSQL is stopped for 12 s,
eligibility and scrubber are killed with SIGKILL and restarted, coding is stopped with SIGTERM and restarted,
and Kafka is restarted. Prints, per stage, the claims that reached it, were duplicated there or are stuck
before it; the dead letters written meanwhile; the longest stall. Exits 1 unless every claim was posted
exactly once with no dead letter (tests/support/fault_drill.py)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from tests.support.client import Stack  # noqa: E402
from tests.support.fault_drill import DrillPlan, run_drill  # noqa: E402
from tests.support.fixtures import ADMIN_URL  # noqa: E402


async def main(args) -> int:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # the drill's own producer while Kafka is away
    stack = Stack(args.api_key, args.tenant)
    engine = create_async_engine(ADMIN_URL, pool_size=2, pool_pre_ping=True)
    t0 = time.monotonic()
    try:
        await stack.enroll_providers()
        plan = DrillPlan(encounters=args.n, chunks=args.chunks,
                         postgres_down_s=args.postgres_down_s, settle_timeout_s=args.timeout)
        report = await run_drill(plan, engine, args.tenant,
                                 log=lambda m: print(f"[{time.monotonic() - t0:6.1f}s] {m}", flush=True))
    finally:
        await stack.close()
        await engine.dispose()
    print("\n=== fault drill ===")
    print("\n".join(report.lines()))
    return 0 if report.ok else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10_000)
    ap.add_argument("--chunks", type=int, default=10)
    ap.add_argument("--postgres-down-s", type=float, default=12.0)
    ap.add_argument("--timeout", type=float, default=1800)
    ap.add_argument("--api-key", default="dev-key-demo")
    ap.add_argument("--tenant", default="demo")
    sys.exit(asyncio.run(main(ap.parse_args())))
