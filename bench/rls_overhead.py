"""Row-level security overhead benchmark (a script, not a test): the same work with and without RLS.

Two schemas with the same tables (a consumer's state table keyed by (tenant_id, claim_id), and the outbox),
seeded alike (--seed rows over 20 tenants); one has row-level security on its tenant-scoped tables
(rcm_runtime.row_security), the other none. Both are written and read by the same non-owner login role
(a runtime role, as deployed), through the runtime's own pieces:
  1. batch: a consumer batch's transaction: --batch records of 3 tenants, inserted with one multi-row
     statement (BulkInsert, unnest) plus their outbox rows, then read back by (tenant, claim) and updated.
     Without RLS: engine.begin() as before; with: UnitsOfWork.begin_tenants (one set_config per transaction).
  2. bulk: one --bulk-row insert into the state table (a posted 835's size): COPY straight into the table
     without RLS; with RLS PostgreSQL refuses COPY FROM, so BulkInsert stages it (COPY into a temporary table,
     then INSERT ... SELECT, checked by the policy).
  3. reads: --reads point reads of one claim, each its own connection checkout and transaction (an API GET):
     engine.connect() vs UnitsOfWork.read(tenant).
  4. scan: a query with a tenant filter over the whole table (a work-queue count), --scans times.
Prints each step's time per operation both ways and the overhead. Asserts nothing.

    .venv/bin/python bench/rls_overhead.py [--pg-port 55432] [--batch 500] [--batches 40] [--seed 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
import uuid
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import (Column, MetaData, Numeric, PrimaryKeyConstraint, Table, Text, func, select, text,  # noqa: E402
                        tuple_, update)
from sqlalchemy.dialects.postgresql import JSONB, UUID  # noqa: E402

from rcm_runtime.bulk import BulkInsert  # noqa: E402
from rcm_runtime.db import make_engine  # noqa: E402
from rcm_runtime.messaging import metadata as messaging_metadata  # noqa: E402
from rcm_runtime.messaging import outbox  # noqa: E402
from rcm_runtime.row_security import grant_runtime, protect_tenant_tables  # noqa: E402
from rcm_runtime.settings import ServiceSettings  # noqa: E402
from rcm_runtime.unit_of_work import UnitsOfWork  # noqa: E402

ROLE = "rcm_bench_runtime"
TENANTS = [f"tenant-{n:02d}" for n in range(20)]

md = MetaData()
claims = Table("bench_claims", md,
               Column("tenant_id", Text, nullable=False), Column("claim_id", UUID(as_uuid=True), nullable=False),
               Column("status", Text, nullable=False), Column("amount", Numeric(12, 2), nullable=False),
               Column("claim", JSONB, nullable=False),
               PrimaryKeyConstraint("tenant_id", "claim_id"))
_insert_claims = BulkInsert(claims, ["tenant_id", "claim_id", "status", "amount", "claim"], on_conflict="DO NOTHING",
                            copy_min_rows=None)
_insert_outbox = BulkInsert(outbox, ["event_id", "topic", "key", "event_type", "tenant_id", "traceparent", "payload"],
                            on_conflict=None, copy_min_rows=None)
_CLAIM = {"lines": [{"code": "99213", "units": 1, "charge": "125.00"}], "payer_id": "SBX01"}


def rows(tenants: list[str], n: int) -> list[dict]:
    return [{"tenant_id": tenants[i % len(tenants)], "claim_id": uuid.uuid4(), "status": "new",
             "amount": Decimal("125.00"), "claim": _CLAIM} for i in range(n)]


def outbox_rows(batch: list[dict]) -> list[dict]:
    return [{"event_id": uuid.uuid4(), "topic": "rcm.bench.events", "key": str(r["claim_id"]), "event_type": "bench",
             "tenant_id": r["tenant_id"], "traceparent": None, "payload": b"{}"} for r in batch]


class Side:
    """One schema, with or without RLS, and how a transaction / a read opens on it."""

    def __init__(self, name: str, rls: bool, admin_url: str, runtime_url: str) -> None:
        self.name, self.rls = name, rls
        settings = ServiceSettings(service_name="bench", db_schema=name, database_url=runtime_url)
        self.admin = make_engine(settings.model_copy(update={"database_url": admin_url}), pool_size=1)
        self.engine = make_engine(settings, pool_size=2)
        self.units = UnitsOfWork(self.engine, service="bench", topic="rcm.bench.events")

    def begin(self, tenants: set[str]):
        return self.units.begin_tenants(tenants) if self.rls else self.engine.begin()

    def read(self, tenant: str):
        return self.units.read(tenant) if self.rls else self.engine.connect()

    @asynccontextmanager
    async def bulk(self, tenant: str):
        if self.rls:
            async with self.units.begin(tenant_id=tenant, actor="bench") as uow:
                yield uow.conn
        else:
            async with self.engine.begin() as conn:
                yield conn

    async def create(self, seed: int) -> None:
        async with self.admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
            await conn.execute(text(f'CREATE SCHEMA "{self.name}"'))
        async with self.admin.begin() as conn:
            for m in (messaging_metadata, md):
                await conn.run_sync(m.create_all)
            for start in range(0, seed, 10_000):
                await _insert_claims.execute(conn, rows(TENANTS, min(10_000, seed - start)))
            if self.rls:
                await conn.run_sync(protect_tenant_tables)
            await conn.run_sync(grant_runtime, ROLE)
            await conn.execute(text("ANALYZE bench_claims"))

    async def drop(self) -> None:
        await self.engine.dispose()
        async with self.admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE'))
        await self.admin.dispose()


async def consumer_batch(side: Side, size: int) -> float:
    tenants = TENANTS[:3]
    batch = rows(tenants, size)
    t0 = time.perf_counter()
    async with side.begin(set(tenants)) as conn_or_uow:
        conn = getattr(conn_or_uow, "conn", conn_or_uow)
        await _insert_claims.execute(conn, batch)
        await _insert_outbox.execute(conn, outbox_rows(batch))
        keys = [(r["tenant_id"], r["claim_id"]) for r in batch]
        found = (await conn.execute(select(claims.c.claim_id, claims.c.status).where(
            tuple_(claims.c.tenant_id, claims.c.claim_id).in_(keys)))).all()
        assert len(found) == size
        await conn.execute(update(claims).where(claims.c.tenant_id.in_(tenants),
                                                claims.c.claim_id.in_([r["claim_id"] for r in batch]))
                           .values(status="done"))
    return time.perf_counter() - t0


async def bulk_insert(side: Side, size: int) -> float:
    bulk = BulkInsert(claims, ["tenant_id", "claim_id", "status", "amount", "claim"], on_conflict=None,
                      copy_min_rows=1000)
    batch = rows(["tenant-bulk"], size)
    t0 = time.perf_counter()
    async with side.bulk("tenant-bulk") as conn:
        await bulk.execute(conn, batch)
    return time.perf_counter() - t0


async def point_read(side: Side, tenant: str, claim_id: uuid.UUID) -> float:
    t0 = time.perf_counter()
    async with side.read(tenant) as conn:
        row = (await conn.execute(select(claims).where(claims.c.tenant_id == tenant,
                                                       claims.c.claim_id == claim_id))).first()
    assert row is not None
    return time.perf_counter() - t0


async def scan(side: Side, tenant: str) -> float:
    t0 = time.perf_counter()
    async with side.read(tenant) as conn:
        (await conn.execute(select(func.count()).select_from(claims).where(claims.c.tenant_id == tenant,
                                                                             claims.c.status == "new"))).scalar()
    return time.perf_counter() - t0


async def timed(label: str, sides: list[Side], run, n: int, unit: str, per: int = 1) -> None:
    # Alternate the sides run by run so drift (a checkpoint, another process) hits both alike.
    times: dict[str, list[float]] = {s.name: [] for s in sides}
    for _ in range(2):  # warm-up: plans cached, pools filled
        for s in sides:
            await run(s)
    for _ in range(n):
        for s in sides:
            times[s.name].append(await run(s))
    off, on = (statistics.median(times[s.name]) for s in sides)
    print(f"{label:<8} median per op: without RLS {off * 1000:8.2f} ms | with RLS {on * 1000:8.2f} ms | "
          f"overhead {100 * (on - off) / off:+6.1f}% | {per / off:10,.0f} vs {per / on:10,.0f} {unit}/s")


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg-port", type=int, default=int(os.environ.get("RCM_PG_PORT", "55432")))
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--bulk-rows", type=int, default=20_000)
    ap.add_argument("--bulks", type=int, default=8)
    ap.add_argument("--reads", type=int, default=2000)
    ap.add_argument("--scans", type=int, default=50)
    ap.add_argument("--seed", type=int, default=200_000)
    args = ap.parse_args()
    admin_url = f"postgresql+asyncpg://postgres@/openrcm?host=/tmp&port={args.pg_port}"
    runtime_url = f"postgresql+asyncpg://{ROLE}@/openrcm?host=/tmp&port={args.pg_port}"
    off = Side("bench_rls_off", False, admin_url, runtime_url)
    on = Side("bench_rls_on", True, admin_url, runtime_url)
    async with off.admin.begin() as conn:
        await conn.execute(text(f"DO $$ BEGIN CREATE ROLE {ROLE} LOGIN NOBYPASSRLS; "
                                "EXCEPTION WHEN duplicate_object THEN NULL; END $$"))
    try:
        t0 = time.perf_counter()
        for side in (off, on):
            await side.create(args.seed)
        print(f"setup: {args.seed:,} claims over {len(TENANTS)} tenants in each schema "
              f"({time.perf_counter() - t0:.1f} s); PostgreSQL on port {args.pg_port}")
        sides = [off, on]
        await timed("batch", sides, lambda s: consumer_batch(s, args.batch), args.batches, "records", args.batch)
        await timed("bulk", sides, lambda s: bulk_insert(s, args.bulk_rows), args.bulks, "rows", args.bulk_rows)
        async with off.admin.connect() as conn:
            probe = (await conn.execute(text(f"SELECT tenant_id, claim_id FROM {off.name}.bench_claims LIMIT 1"))).one()
        async with off.admin.begin() as conn:  # the same claim on both sides
            await conn.execute(text(f"INSERT INTO {on.name}.bench_claims SELECT * FROM {off.name}.bench_claims "
                                    "WHERE tenant_id = :t AND claim_id = :c ON CONFLICT DO NOTHING"),
                               {"t": probe.tenant_id, "c": probe.claim_id})
        await timed("read", sides, lambda s: point_read(s, probe.tenant_id, probe.claim_id), args.reads, "reads")
        await timed("scan", sides, lambda s: scan(s, TENANTS[5]), args.scans, "scans")
    finally:
        await off.drop()
        await on.drop()


if __name__ == "__main__":
    asyncio.run(main())
