"""Restore drill (a script, not a test). Needs the stack running with WAL archiving on (`deploy/stack.sh up`, the
default). It takes a base backup, loses and restores the stack's PostgreSQL through deploy/stack.sh, and leaves
the stack running on the restored database.

N encounters (default 2,000) go to the intake topic in three batches (tests/support/fault_drill.py's Publisher);
a base backup is taken while the first flows, the second follows; T2 is noted; the third (the last batch) is sent.
1. Bad deploy: `stack.sh restore --to T2`, before the last batch was sent; the services replay it from Kafka.
2. Disk lost: PostgreSQL is stopped at once (no checkpoint) and its data directory moved away; `stack.sh restore`
   rebuilds it from the base backup and the archived WAL (latest point: what the archive holds, up to
   archive_timeout behind) and rewinds the consumer groups; the services start and replay from Kafka.
After each, every claim is followed through every stage (Progress; reached / duplicated / stuck) and claims no
encounter owns are counted at every stage (phantoms: effects of events the restore made orphans).
Prints the base backup's size and time, the WAL archived, per scenario the restore time, the time until the
services answer again (RTO) and until every claim is through again, what the restored database lacked (RPO:
seconds of commits and claims lost before the replay) and the claims missing after it. Exits 1 unless every claim
reached every stage exactly once with no phantom in both scenarios."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine  # noqa: E402

from tests.support.client import Principal, Stack  # noqa: E402
from tests.support.encounters import generate  # noqa: E402
from tests.support.fault_drill import POSTING_SCENARIOS, Progress, Publisher, StageResult, _stages  # noqa: E402
from tests.support.fixtures import ADMIN_URL  # noqa: E402

STACK_SH = ROOT / "deploy" / "stack.sh"
_spec = importlib.util.spec_from_file_location("rcm_deploy_backup", ROOT / "deploy" / "backup.py")
backup = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = backup
_spec.loader.exec_module(backup)
LAYOUT = backup.Layout(Path(os.environ.get("RCM_BACKUP_DIR")
                            or Path(os.environ.get("RCM_STACK_DIR") or ROOT / ".stack") / "backups"))

# claims a stage holds that no encounter owns: effects of an orphan event (its producing transaction was undone)
PHANTOMS = [(name, f"SELECT count(DISTINCT x.claim_id) FROM {table} x WHERE NOT EXISTS "
                   "(SELECT 1 FROM charges.encounters e WHERE e.claim_id = x.claim_id)")
            for name, table in [("eligibility", "eligibility.coverage_checks"), ("coding", "coding.coded_claims"),
                                ("scrubber", "scrubber.scrubbed_claims"), ("submission", "submission.submissions"),
                                ("remittance", "remittance.posted_payments"),
                                ("patient-billing", "patient_billing.balance_postings"),
                                ("analytics", "analytics.claim_payments")]]
PHANTOMS.append(("payer", "SELECT count(*) FROM sandbox.payer_claims x WHERE NOT EXISTS (SELECT 1 FROM "
                          "submission.submissions s WHERE s.tenant_id = x.tenant_id AND s.patient_control_number = "
                          "split_part(x.claim->>'source_encounter_id', ':', 3))"))


def stack(*args: str) -> str:
    proc = subprocess.run([str(STACK_SH), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"stack.sh {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-2000:]}")
    return proc.stdout


@dataclass
class Scenario:
    name: str
    lost_at: datetime | None = None
    claims_before: int = 0  # the run's claims in the database when it was lost (or restored)
    restore_s: float = 0.0
    restore_output: str = ""
    recovered_to: datetime | None = None
    claims_restored: int = 0  # the run's claims in the restored database, before any replay
    services_s: float = 0.0
    rto_s: float = 0.0  # from the loss (or the restore command) until every service answers again
    settled_s: float | None = None  # from the services' start until every claim is through every stage again
    stages: list[StageResult] = field(default_factory=list)
    claims: int = 0
    phantoms: dict[str, int] = field(default_factory=dict)

    def ok(self, n: int) -> bool:
        return (self.claims == n and not any(self.phantoms.values())
                and all(s.reached == n and s.duplicated == 0 and s.stuck == 0 for s in self.stages))

    def lines(self, n: int) -> list[str]:
        lag = (self.lost_at - self.recovered_to).total_seconds() if self.lost_at and self.recovered_to else None
        out = [f"--- {self.name}",
               *("  " + line for line in self.restore_output.strip().splitlines()),
               f"  restore (stop services, rebuild, replay WAL, check, rewind Kafka): {self.restore_s:.1f}s; services "
               f"ready {self.services_s:.1f}s later; RTO {self.rto_s:.1f}s",
               f"  recovered to {self.recovered_to.isoformat() if self.recovered_to else '?'}"
               + (f" ({lag:.1f}s of commits before the loss were not in the archive)" if lag is not None else ""),
               f"  RPO in the database: {self.claims_before - self.claims_restored} of the run's {self.claims_before} "
               f"claims were not in the restored database (replayed from Kafka)",
               f"  every claim through every stage again after {self.settled_s:.1f}s" if self.settled_s is not None
               else "  NOT settled",
               f"  {'stage':16s} {'reached':>8s} {'duplicated':>11s} {'stuck':>6s}"]
        out += [f"  {s.name:16s} {s.reached:8d} {s.duplicated:11d} {s.stuck:6d}" for s in self.stages]
        missing = n - min([self.claims, *(s.reached for s in self.stages)])
        out += [f"  claims captured {self.claims} of {n}; claims missing after the replay (RPO): {missing}",
                "  phantom claims (no encounter owns them) since the drill began: "
                + (", ".join(f"{k} {v}" for k, v in self.phantoms.items() if v) or "none"),
                f"  verdict: {'PASS' if self.ok(n) else 'FAIL'}"]
        return out


async def run_claims(engine: AsyncEngine, tenant: str, source: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT count(*) FROM charges.encounters WHERE tenant_id = :t AND "
                                        "source_system = :s"), {"t": tenant, "s": source})).scalar_one()


async def wait_for(cond, timeout_s: float, every_s: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if await cond():
                return True
        except Exception:  # noqa: BLE001 - the database is down or restarting
            pass
        await asyncio.sleep(every_s)
    return False


async def start_services(timeout_s: float) -> None:
    """stack.sh services-up waits 120 s for each service; on a loaded machine they may take longer: then wait for
    every /readyz, and run services-up again (it starts whatever is not running)."""
    import httpx

    from tests.support.client import PORTS, url

    try:
        await asyncio.to_thread(stack, "services-up")
        return
    except RuntimeError:
        pass

    async def all_ready() -> bool:
        async with httpx.AsyncClient(timeout=3) as c:
            for svc in PORTS:
                if (await c.get(url(svc, "/readyz"))).status_code != 200:
                    return False
        return True

    await wait_for(all_ready, timeout_s, 2.0)
    await asyncio.to_thread(stack, "services-up")


async def db_now(engine: AsyncEngine) -> datetime:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT clock_timestamp()"))).scalar_one()


async def phantom_counts(engine: AsyncEngine) -> dict[str, int]:
    """Database-wide: the drill reports the ones that appeared since it began (earlier runs may have left some)."""
    async with engine.connect() as conn:
        return {name: (await conn.execute(text(sql))).scalar_one() for name, sql in PHANTOMS}


phantoms_before: dict[str, int] = {}


async def recover(scenario: Scenario, engine: AsyncEngine, tenant: str, source: str, n: int, timeout_s: float,
                  log, t_origin: float, *restore_args: str) -> None:
    t0 = time.monotonic()
    scenario.restore_output = await asyncio.to_thread(stack, "restore", *restore_args)
    scenario.restore_s = time.monotonic() - t0
    for line in scenario.restore_output.splitlines():
        if " to " in line and "restored base backup" in line:
            scenario.recovered_to = datetime.fromisoformat(line.split(" to ", 1)[1].split(" ", 1)[0])
    await engine.dispose()
    scenario.claims_restored = await run_claims(engine, tenant, source)
    log(f"restored in {scenario.restore_s:.1f}s: {scenario.claims_restored} of the run's claims in the database")
    t1 = time.monotonic()
    await start_services(timeout_s)
    scenario.services_s = time.monotonic() - t1
    scenario.rto_s = time.monotonic() - t_origin
    log(f"services ready in {scenario.services_s:.1f}s; replaying")
    progress = Progress(engine, tenant, source, n, log)
    try:
        await asyncio.wait_for(progress.run(t1), timeout_s)
        scenario.settled_s = time.monotonic() - t1
    except asyncio.TimeoutError:
        log(f"not settled within {timeout_s:.0f}s")
    await asyncio.sleep(3.0)  # late duplicates, if any, would land now
    scenario.claims, _distinct, scenario.stages = await _stages(engine, tenant, source)
    now = await phantom_counts(engine)
    scenario.phantoms = {name: now[name] - phantoms_before.get(name, 0) for name in now}


async def main(args) -> int:
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    t_start = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - t_start:6.1f}s] {message}", flush=True)

    engine = create_async_engine(ADMIN_URL, pool_size=2, pool_pre_ping=True)
    client = Stack(Principal(args.tenant, "bench.admin"))
    publisher = Publisher(args.tenant)
    run = uuid.uuid4().hex[:8]
    source = f"restore-{run}"
    n = args.n
    try:
        async with engine.connect() as conn:
            if (await conn.execute(text("SHOW archive_mode"))).scalar_one() != "on":
                print("WAL archiving is off: start PostgreSQL with RCM_WAL_ARCHIVE on (the default)", file=sys.stderr)
                return 2
        await client.enroll_providers()
        phantoms_before.update(await phantom_counts(engine))
        bodies = [g.body for g in generate(n, seed=17, source_system=source, run_id=run, scenarios=POSTING_SCENARIOS)]
        first, second = int(n * 0.4), int(n * 0.7)
        batches = [bodies[:first], bodies[first:second], bodies[second:]]
        wal0 = backup.wal_archived(LAYOUT)

        async def publish(batch: list[dict]) -> None:
            for i in range(0, len(batch), 100):
                await publisher.send(batch[i:i + 100])

        await publish(batches[0])
        log(f"batch 1: {len(batches[0])} encounters sent")
        await wait_for(lambda: _at_least(engine, args.tenant, source, len(batches[0]) // 2), 600, 0.5)
        log("base backup while the pipeline works")
        base = await asyncio.to_thread(backup.take_base_backup, LAYOUT, int(os.environ.get("RCM_PG_PORT", "55432")))
        log(f"base backup {base.name}: {base.bytes / 2**20:.1f} MiB in {base.seconds:.1f}s, verified in "
            f"{base.verified_s:.1f}s")
        await publish(batches[1])
        log(f"batch 2: {len(batches[1])} encounters sent")
        await wait_for(lambda: _at_least(engine, args.tenant, source, second), 600, 0.5)
        await asyncio.sleep(2.0)
        t2 = await db_now(engine)
        await asyncio.sleep(1.0)
        await publish(batches[2])
        log(f"T2 = {t2.isoformat()}; batch 3 (the last): {len(batches[2])} encounters sent")
        await wait_for(lambda: _at_least(engine, args.tenant, source, n), 600, 0.5)
        await asyncio.sleep(args.lose_after_s)

        # 1. a bad deploy: back to T2, before the last batch. First, while the history T2 belongs to is the current
        # one: a restore follows the newest timeline, on which a later restore would have redone T2's work after it.
        bad = Scenario("1. bad deploy: restore to T2, before the last batch")
        bad.claims_before = await run_claims(engine, args.tenant, source)
        t_bad = time.monotonic()
        pgdata = Path(stack("pg-data").strip())
        await recover(bad, engine, args.tenant, source, n, args.timeout, log, t_bad, "--to", t2.isoformat())
        for replaced in pgdata.parent.glob(f"{pgdata.name}.replaced-*"):
            shutil.rmtree(replaced, ignore_errors=True)

        # 2. the disk is lost
        await asyncio.sleep(args.lose_after_s)
        lost = Scenario("2. disk lost: restore to the latest archived point")
        lost.claims_before = await run_claims(engine, args.tenant, source)
        lost.lost_at = await db_now(engine)
        t_loss = time.monotonic()
        await asyncio.to_thread(stack, "pg-crash")
        gone = pgdata.with_name(f"{pgdata.name}.lost-{run}")
        pgdata.rename(gone)
        log(f"postgresql stopped at once, data directory moved away ({lost.claims_before} claims of the run in it)")
        await recover(lost, engine, args.tenant, source, n, args.timeout, log, t_loss)
        shutil.rmtree(gone, ignore_errors=True)
        wal1 = backup.wal_archived(LAYOUT)
    finally:
        await publisher.close()
        await client.close()
        await engine.dispose()

    print("\n=== restore drill ===")
    print(f"encounters: {n} in three batches ({len(batches[0])}, {len(batches[1])}, {len(batches[2])}); "
          f"tenant {args.tenant}, source {source}")
    print(f"base backup (taken while batch 1 flowed): {base.bytes / 2**20:.1f} MiB compressed, {base.seconds:.1f}s; "
          f"verified (pg_verifybackup) in {base.verified_s:.1f}s")
    print(f"WAL archived during the drill: {wal1[0] - wal0[0]} segment(s), {(wal1[1] - wal0[1]) / 2**20:.1f} MiB "
          f"compressed (archive now {wal1[0]} segments)")
    for s in (bad, lost):
        print("\n".join(s.lines(n)))
    print(f"total wall time: {time.monotonic() - t_start:.1f}s")
    return 0 if lost.ok(n) and bad.ok(n) else 1


async def _at_least(engine: AsyncEngine, tenant: str, source: str, count: int) -> bool:
    return await run_claims(engine, tenant, source) >= count


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--tenant", default="demo")
    ap.add_argument("--lose-after-s", type=float, default=5.0, help="after the last batch is captured")
    ap.add_argument("--timeout", type=float, default=1800, help="for each replay to settle")
    sys.exit(asyncio.run(main(ap.parse_args())))
