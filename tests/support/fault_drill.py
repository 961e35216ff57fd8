"""The fault drill (issue 13), shared by the suite's test (tests/e2e/test_fault_drill.py, a few hundred
encounters) and the script (bench/fault_drill.py, 10,000).

Encounters are published to the intake topic in chunks spread over the drill while, one after another:
PostgreSQL is stopped for longer than the retry budget that used to dead-letter records (10 s), two consumers
are killed with SIGKILL and started again, one service is stopped with SIGTERM (it must exit within the grace
period) and started again, and Kafka is restarted. A chunk the broker does not acknowledge (Kafka is away) is
sent again with a fresh producer, as an EHR would resend: charges must take the encounter once.

Then every claim of the run is followed through each service's own tables (read as the database superuser):
how many reached the stage, how many are there more than once where once is right, and how many are stuck
before it; plus the dead letters written since the drill began, and the longest stall (the longest time the
pipeline took no claim further, PostgreSQL's downtime included)."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.support import faults
from rcm_runtime.kafka_acls import integrator_principal
from tests.support.client import kafka_access
from tests.support.encounters import generate, intake_record

# scenarios whose claims end in exactly one posted payment (the others stop at a hold by design)
POSTING_SCENARIOS = ["paid", "copay", "deductible", "coinsurance", "with_auth", "non_covered", "non_covered_line"]

# Each stage after intake, in pipeline order: (name, SQL of the run's claims' rows there, rows per claim when
# right). `c` is the run's claims (charges.encounters of the run's source system).
STAGES: list[tuple[str, str]] = [
    ("eligibility", "SELECT x.claim_id FROM eligibility.coverage_checks x JOIN c USING (claim_id)"),
    ("coding", "SELECT x.claim_id FROM coding.coded_claims x JOIN c USING (claim_id)"),
    ("scrubber", "SELECT x.claim_id FROM scrubber.scrubbed_claims x JOIN c USING (claim_id)"),
    ("submission", "SELECT x.claim_id FROM submission.submissions x JOIN c USING (claim_id) WHERE x.status = 'accepted'"),
    # the payer simulator keeps its own claim ids: matched on the patient control number (CLM01) of the 837
    ("payer", "SELECT c.claim_id FROM sandbox.payer_claims x JOIN submission.submissions s "
              "ON x.tenant_id = s.tenant_id AND split_part(x.claim->>'source_encounter_id', ':', 3) = "
              "s.patient_control_number JOIN c ON c.claim_id = s.claim_id"),
    ("remittance", "SELECT x.claim_id FROM remittance.posted_payments x JOIN c USING (claim_id) WHERE x.reverses IS NULL"),
    ("patient-billing", "SELECT x.claim_id FROM patient_billing.balance_postings x JOIN c USING (claim_id)"),
    ("analytics", "SELECT x.claim_id FROM analytics.claim_payments x JOIN c USING (claim_id)"),
]
FAULT_STEPS = 5  # groups of encounters sent during the faults, after the first burst
DEAD_LETTER_SCHEMAS = ["charges", "eligibility", "coding", "scrubber", "submission", "remittance", "denials",
                       "patient_billing", "analytics", "sandbox"]


@dataclass
class DrillPlan:
    encounters: int
    chunks: int = 10  # records per group are sent in this many chunks (a chunk is resent whole)
    first_fault_after_s: float = 3.0
    postgres_down_s: float = 12.0  # longer than the 10 s the old retry budget lasted
    killed: tuple[str, ...] = ("eligibility", "scrubber")  # SIGKILL, mid-batch
    terminated: str = "coding"  # SIGTERM: a graceful stop
    grace_s: float = 30.0  # docker-compose's stop_grace_period
    settle_timeout_s: float = 600.0


@dataclass
class StageResult:
    name: str
    reached: int
    duplicated: int
    stuck: int


@dataclass
class DrillReport:
    encounters: int
    claims: int
    duplicate_encounters: int
    stages: list[StageResult]
    dead_letters: dict[str, int]
    longest_stall_s: float = 0.0
    faults: list[str] = field(default_factory=list)
    resent_chunks: int = 0
    terminated_exit_s: float | None = None
    wall_s: float = 0.0

    @property
    def posted_once(self) -> int:
        remittance = next(s for s in self.stages if s.name == "remittance")
        return remittance.reached - remittance.duplicated

    @property
    def ok(self) -> bool:
        return (self.claims == self.encounters and self.duplicate_encounters == 0
                and all(s.reached == self.encounters and s.duplicated == 0 and s.stuck == 0 for s in self.stages)
                and not any(self.dead_letters.values()))

    def lines(self) -> list[str]:
        out = [f"encounters published: {self.encounters} ({self.resent_chunks} chunk(s) sent again after the broker "
               f"did not acknowledge them)",
               f"claims captured: {self.claims} (duplicates: {self.duplicate_encounters})",
               *[f"fault: {f}" for f in self.faults],
               "",
               f"{'stage':16s} {'reached':>8s} {'duplicated':>11s} {'stuck':>6s}"]
        out += [f"{s.name:16s} {s.reached:8d} {s.duplicated:11d} {s.stuck:6d}" for s in self.stages]
        out += ["",
                f"posted exactly once: {self.posted_once} of {self.encounters}",
                "dead letters written during the drill: "
                + (", ".join(f"{k} {v}" for k, v in self.dead_letters.items() if v) or "none"),
                f"longest stall (no stage taking a claim): {self.longest_stall_s:.1f}s",
                f"wall time, first publish to last check: {self.wall_s:.1f}s",
                f"verdict: {'PASS' if self.ok else 'FAIL'}"]
        return out


class Publisher:
    """Intake records in chunks; a chunk the broker does not acknowledge is sent again with a fresh producer."""

    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        self.producer = None
        self.resent = 0

    async def _fresh(self):
        from aiokafka import AIOKafkaProducer

        if self.producer is not None:
            try:
                await self.producer.stop()
            except Exception:  # noqa: BLE001 - a broken producer is dropped either way
                pass
        self.producer = AIOKafkaProducer(**kafka_access(integrator_principal(self.tenant_id)).client_options(),
                                         enable_idempotence=True, linger_ms=10,
                                         request_timeout_ms=5000, retry_backoff_ms=250)
        await self.producer.start()

    async def send(self, bodies: list[dict]) -> None:
        from rcm_contracts import topics

        attempt = 0
        while True:
            try:
                if self.producer is None:
                    await self._fresh()
                records = [intake_record(b, tenant_id=self.tenant_id) for b in bodies]
                futures = [await self.producer.send(topics.intake_topic(self.tenant_id), key=k, value=v, headers=h)
                           for k, v, h in records]
                await asyncio.wait_for(asyncio.gather(*futures), 15)
                return
            except Exception:  # noqa: BLE001 - the broker is away: send the whole chunk again (charges dedupes)
                attempt += 1
                self.resent += 1
                if self.producer is not None:
                    try:
                        await self.producer.stop()
                    except Exception:  # noqa: BLE001
                        pass
                    self.producer = None
                await asyncio.sleep(min(5.0, 0.5 * attempt))

    async def close(self) -> None:
        if self.producer is not None:
            await self.producer.stop()


async def _faults(plan: DrillPlan, log: Callable[[str], None], report_faults: list[str],
                  publish_next: Callable[[], None]) -> float:
    """The faults, one after another; `publish_next()` starts sending the next group of encounters (in the
    background) at each step, so every fault meets work in flight, and one group is sent while Kafka is away."""
    await asyncio.sleep(plan.first_fault_after_s)
    t = time.monotonic()
    await faults.postgres_down()
    publish_next()
    log(f"postgresql stopped; down for {plan.postgres_down_s:.0f}s")
    await asyncio.sleep(plan.postgres_down_s)
    await faults.postgres_up()
    report_faults.append(f"postgresql stopped for {time.monotonic() - t:.1f}s")
    log("postgresql started")

    for name in plan.killed:
        await faults.kill(name)
    publish_next()
    log(f"killed (SIGKILL): {', '.join(plan.killed)}")
    await asyncio.sleep(2.0)
    await faults.start_services(*plan.killed)
    report_faults.append(f"SIGKILL then restart: {', '.join(plan.killed)}")
    log(f"restarted: {', '.join(plan.killed)}")

    publish_next()
    exit_s = await faults.terminate(plan.terminated, plan.grace_s)
    report_faults.append(f"SIGTERM {plan.terminated}: exited in {exit_s:.1f}s (grace {plan.grace_s:.0f}s), restarted")
    log(f"{plan.terminated} stopped by SIGTERM in {exit_s:.1f}s")
    await faults.start_services(plan.terminated)

    t = time.monotonic()
    await faults.stack("kafka-down")
    publish_next()  # the broker is away: the publisher sends again until it is back
    await faults.stack("kafka-up")
    report_faults.append(f"kafka restarted ({time.monotonic() - t:.1f}s from stop to ready)")
    log(f"kafka restarted in {time.monotonic() - t:.1f}s")
    publish_next()
    return exit_s


RUN_CLAIMS = "WITH c AS (SELECT claim_id FROM charges.encounters WHERE tenant_id = :t AND source_system = :s) "


async def _stages(engine: AsyncEngine, tenant_id: str, source: str) -> tuple[int, int, list[StageResult]]:
    """(claims captured, distinct encounters, each stage's result) for the run's claims."""
    params = {"t": tenant_id, "s": source}
    stages: list[StageResult] = []
    async with engine.connect() as conn:
        claims, distinct = (await conn.execute(text(
            "SELECT count(*), count(DISTINCT source_encounter_id) FROM charges.encounters "
            "WHERE tenant_id = :t AND source_system = :s"), params)).one()
        previous: set = set((await conn.execute(text(RUN_CLAIMS + "SELECT claim_id FROM c"), params)).scalars())
        for name, rows in STAGES:
            ids = list((await conn.execute(text(RUN_CLAIMS + rows), params)).scalars())
            reached = set(ids)
            stages.append(StageResult(name, len(reached), len(ids) - len(reached), len(previous - reached)))
            previous = reached
    return claims, distinct, stages


class Progress:
    """Polls every stage once a second: the pipeline's progress is the claims captured plus the claims each
    stage holds; a stall is a time it did not grow while work was left (PostgreSQL's downtime included)."""

    def __init__(self, engine: AsyncEngine, tenant_id: str, source: str, expected: int,
                 log: Callable[[str], None]) -> None:
        self.engine, self.tenant_id, self.source, self.expected, self.log = engine, tenant_id, source, expected, log
        self.done = asyncio.Event()
        self.longest_stall_s = 0.0
        self.every_s = 1.0 if expected <= 1000 else 3.0  # the poll is work for PostgreSQL too

    async def run(self, t0: float) -> None:
        last, last_change, last_posted = -1, t0, -1
        total = self.expected * (len(STAGES) + 1)
        while True:
            now = time.monotonic()
            counts = await _reached(self.engine, self.tenant_id, self.source)
            if counts is not None:
                value = sum(counts.values())
                if value > last:
                    self.longest_stall_s = max(self.longest_stall_s, now - last_change)
                    last, last_change = value, now
                if counts["remittance"] != last_posted:
                    self.log(f"  [{now - t0:6.1f}s] {counts['charges']} captured, {counts['remittance']} posted")
                    last_posted = counts["remittance"]
                if value >= total:
                    self.done.set()
                    return
            self.longest_stall_s = max(self.longest_stall_s, now - last_change)
            await asyncio.sleep(self.every_s)


async def _reached(engine: AsyncEngine, tenant_id: str, source: str) -> dict[str, int] | None:
    """Claims of the run each stage holds (one statement; None while PostgreSQL is down)."""
    counts = ", ".join(f"(SELECT count(DISTINCT claim_id) FROM ({rows}) x{i})" for i, (_, rows) in enumerate(STAGES))
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text(f"{RUN_CLAIMS} SELECT (SELECT count(*) FROM c), {counts}"),
                                      {"t": tenant_id, "s": source})).one()
    except Exception:  # noqa: BLE001 - PostgreSQL is down in the drill: no progress seen
        return None
    return dict(zip(["charges", *(name for name, _ in STAGES)], row))


async def run_drill(plan: DrillPlan, engine: AsyncEngine, tenant_id: str,
                    log: Callable[[str], None] = print) -> DrillReport:
    run = uuid.uuid4().hex[:8]
    source = f"drill-{run}"
    bodies = [g.body for g in generate(plan.encounters, seed=13, source_system=source, run_id=run,
                                       scenarios=POSTING_SCENARIOS)]
    # a burst first (half), then a group at each fault step (see _faults)
    half = len(bodies) // 2
    rest = -(-(len(bodies) - half) // FAULT_STEPS)
    groups = [bodies[:half]] + [bodies[i:i + rest] for i in range(half, len(bodies), rest)]
    publisher = Publisher(tenant_id)
    started = datetime.now(timezone.utc)
    t0 = time.monotonic()
    fault_log: list[str] = []
    progress = Progress(engine, tenant_id, source, plan.encounters, log)

    sending: list[asyncio.Task] = []
    lock = asyncio.Lock()  # one producer: groups go out one after another, in order

    async def publish(group: list[dict]) -> None:
        async with lock:
            size = max(1, len(group) // plan.chunks)
            for i in range(0, len(group), size):
                await publisher.send(group[i:i + size])

    def publish_next() -> None:
        if len(sending) < len(groups):
            sending.append(asyncio.create_task(publish(groups[len(sending)])))

    publish_next()
    watching = asyncio.create_task(progress.run(t0))
    try:
        exit_s = await _faults(plan, log, fault_log, publish_next)
        while len(sending) < len(groups):
            publish_next()
        await asyncio.gather(*sending)
        log(f"published {len(bodies)} encounters in {time.monotonic() - t0:.1f}s")
        try:  # every stage holds every claim, or the time is up
            await asyncio.wait_for(asyncio.shield(watching), plan.settle_timeout_s)
        except asyncio.TimeoutError:
            log(f"not settled within {plan.settle_timeout_s:.0f}s")
    except BaseException:
        await faults.restore_all()
        raise
    finally:
        for task in (*sending, watching):
            task.cancel()
        await publisher.close()
    await asyncio.sleep(2.0)  # late duplicates, if any, would land now
    claims, distinct, stages = await _stages(engine, tenant_id, source)
    async with engine.connect() as conn:
        dead = {schema: (await conn.execute(text(f"SELECT count(*) FROM {schema}.dead_letters WHERE created_at >= :since"),
                                            {"since": started})).scalar_one()
                for schema in DEAD_LETTER_SCHEMAS}
    return DrillReport(encounters=plan.encounters, claims=claims, duplicate_encounters=claims - distinct,
                       stages=stages, dead_letters=dead, longest_stall_s=progress.longest_stall_s, faults=fault_log,
                       resent_chunks=publisher.resent, terminated_exit_s=exit_s, wall_s=time.monotonic() - t0)
