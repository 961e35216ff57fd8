"""MLLP benchmark (a script, not a test): HL7 v2 DFT^P03 messages/s through charges' MLLP listener of a running
stack (`deploy/stack.sh up`), each answered with its ACK only once its capture committed.

    .venv/bin/python bench/mllp.py -n 500 --connections 8

Phase 1: one connection, messages one after another (send, wait for the ACK, send the next): what one interface
engine in original mode gets. Phase 2: N connections at once, the same number of messages split between them.
Each message is a new encounter (captured, emitted); a run's control ids are unique, so no message is a resend.
Uses tenant-a's MLLP client certificate from $RCM_STACK_DIR/tls (issued when missing), or plain TCP with RCM_TLS=0.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.client import TLS  # noqa: E402
from tests.support.encounters import generate, to_hl7_dft  # noqa: E402
from tests.support.mllp import MllpClient, stack_context, stack_port  # noqa: E402

MLLP_PORT = stack_port()


def messages(n: int, seed: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [to_hl7_dft(g.body) for g in generate(n, seed=seed, scenarios=["paid"], run_id=run)]


async def run(batch: list[str], connections: int, tenant: str) -> tuple[float, list[float], int]:
    ctx = stack_context(tenant)
    latencies: list[float] = []
    not_aa = 0

    async def one_connection(part: list[str]) -> None:
        nonlocal not_aa
        client = await MllpClient.connect(MLLP_PORT, ctx)
        try:
            for message in part:
                t0 = time.perf_counter()
                ack = await client.send(message)
                latencies.append(time.perf_counter() - t0)
                if "MSA|AA|" not in ack:
                    not_aa += 1
        finally:
            await client.close()

    parts = [batch[i::connections] for i in range(connections)]
    start = time.perf_counter()
    await asyncio.gather(*(one_connection(p) for p in parts if p))
    return time.perf_counter() - start, latencies, not_aa


def report(label: str, n: int, wall: float, latencies: list[float], not_aa: int) -> None:
    lat = sorted(latencies)
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"{label:<28} {n:>6} msgs  {wall:7.2f} s  {n / wall:8.1f} msgs/s  ack p50 {statistics.median(lat) * 1000:6.1f}"
          f" ms  p99 {p99 * 1000:6.1f} ms  not AA: {not_aa}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=500, help="messages per phase")
    parser.add_argument("--connections", type=int, default=8, help="connections of phase 2")
    parser.add_argument("--tenant", default="tenant-a")
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()
    await run(messages(args.warmup, 1), 1, args.tenant)
    print(f"MLLP on 127.0.0.1:{MLLP_PORT} ({'TLS, client certificate' if TLS else 'plain TCP'}), DFT^P03 "
          f"with 1-3 lines each, every message a new encounter")
    wall, lat, bad = await run(messages(args.n, 2), 1, args.tenant)
    report("1 connection, sequential", args.n, wall, lat, bad)
    wall, lat, bad = await run(messages(args.n, 3), args.connections, args.tenant)
    report(f"{args.connections} connections at once", args.n, wall, lat, bad)


if __name__ == "__main__":
    asyncio.run(main())
