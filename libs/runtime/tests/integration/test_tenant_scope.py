"""The tenant scope the runtime sets on every transaction, against the real PostgreSQL, as a runtime role under
row-level security (rcm_runtime.tenant_scope, rcm_runtime.row_security): a consumer batch sees the rows of its
records' tenants only; a record whose tenant id no scope can hold is dead-lettered; large batches into a tenant
table (where PostgreSQL refuses COPY) still go through; the relay publishes every tenant's events; migrations
refuse a tenant-scoped table left without a policy."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest
from aiokafka import ConsumerRecord
from sqlalchemy import Column, MetaData, Numeric, Table, Text, select, text
from sqlalchemy.exc import DBAPIError

from rcm_contracts.envelope import new_envelope
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import BatchApplier, Delivery, decode_record
from rcm_runtime.clock import FixedClock
from rcm_runtime.db import make_engine
from rcm_runtime.dead_letters import DeadLetters, Selection
from rcm_runtime.failures import sqlstate_of
from rcm_runtime.messaging import dead_letters, outbox
from rcm_runtime.migrations import UnprotectedTables, secure
from rcm_runtime.outbox import OutboxRelay
from rcm_runtime.row_security import has_row_security, unprotected_tables
from rcm_runtime.tenant_scope import InvalidTenant, tenant_scope
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork
from tests.support.api import RUNTIME_URL, secure_test_schema

from .support import balance_event

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)

md = MetaData()
ledger = Table("ledger", md, Column("tenant_id", Text, nullable=False), Column("claim_key", Text, nullable=False),
               Column("amount", Numeric(12, 2), nullable=False))

payments = Table("payments", md, Column("tenant_id", Text, nullable=False),
                 Column("payment_key", Text, nullable=False, unique=True), Column("amount", Numeric(12, 2), nullable=False))


@pytest.fixture
async def runtime(scratch_schema):
    """(settings, engine of the runtime role) over a scratch schema with `ledger` and the messaging tables under
    row-level security; a row of tenant-c already in the ledger."""
    settings, admin = scratch_schema
    async with admin.begin() as conn:
        await conn.run_sync(md.create_all)
        await conn.execute(ledger.insert().values(tenant_id="tenant-c", claim_key="seen-by-c-only", amount=1))
        await secure_test_schema(conn)
    engine = make_engine(settings.model_copy(update={"database_url": RUNTIME_URL}), pool_size=2)
    yield settings, engine, admin
    await engine.dispose()


class RecordingProducer:
    """Stands in for Kafka: what the relay sent, by tenant header (the relay's DB side is what is tested)."""

    def __init__(self) -> None:
        self.tenants: list[str] = []

    async def send(self, topic, value, key, headers):
        self.tenants.append(dict(headers)["ce_tenantid"].decode())
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def _record(env, offset: int) -> ConsumerRecord:
    return ConsumerRecord(topic="test.events", partition=0, offset=offset, timestamp=0, timestamp_type=0,
                          key=env.partitionkey.encode(), value=env.to_bytes(), checksum=None,
                          serialized_key_size=0, serialized_value_size=0, headers=())


async def test_a_consumer_batch_sees_and_writes_the_rows_of_its_records_tenants_only(runtime):
    settings, engine, admin = runtime
    seen: list[set[str]] = []

    async def handler(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        # the handler "forgets" its tenant filter: the batch's scope still hides tenant-c's row
        seen.append(set((await uow.conn.execute(select(ledger.c.tenant_id))).scalars()))
        for d in deliveries:
            await d.uow.conn.execute(ledger.insert().values(tenant_id=d.tenant_id, claim_key=d.key, amount=2))
            d.uow.emit(balance_event(), key=d.key)
        seen.append(set((await uow.conn.execute(select(ledger.c.tenant_id))).scalars()))

    envs = [new_envelope(ev := balance_event(), service="test", tenant_id=t, key=str(ev.claim_id))
            for t in ("tenant-a", "tenant-b", "tenant-a")]
    applier = BatchApplier(engine, {envs[0].type: handler}, settings.service_name, "rcm.test.events")
    await applier.apply([decode_record(_record(e, n)) for n, e in enumerate(envs)])
    assert seen == [set(), {"tenant-a", "tenant-b"}] and applier.applied == 3
    async with admin.connect() as conn:
        assert sorted((await conn.execute(select(outbox.c.tenant_id))).scalars()) == ["tenant-a", "tenant-a", "tenant-b"]

    async def writes_elsewhere(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await uow.conn.execute(ledger.insert().values(tenant_id="tenant-c", claim_key="not-ours", amount=3))

    other = new_envelope(ev := balance_event(), service="test", tenant_id="tenant-a", key=str(ev.claim_id))
    with pytest.raises(DBAPIError) as refused:
        await BatchApplier(engine, {other.type: writes_elsewhere}, settings.service_name, "rcm.test.events").apply(
            [decode_record(_record(other, 10))])
    assert sqlstate_of(refused.value) == "42501"


async def test_a_record_whose_tenant_no_scope_can_hold_is_dead_lettered(runtime):
    settings, engine, admin = runtime
    env = new_envelope(ev := balance_event(), service="test", tenant_id="tenant-a,tenant-c", key=str(ev.claim_id))
    decoded = decode_record(_record(env, 0))
    assert decoded.error == "tenantid: not a valid tenant id"
    applier = BatchApplier(engine, {env.type: lambda uow, ds: None}, settings.service_name, "rcm.test.events")
    await applier.apply([decoded])
    async with admin.connect() as conn:
        assert (await conn.execute(select(dead_letters.c.reason))).scalars().all() == [decoded.error]


async def test_a_dead_letter_without_a_tenant_is_redriven_in_its_records_tenant_scope(runtime):
    settings, engine, admin = runtime
    env = new_envelope(ev := balance_event(), service="test", tenant_id="tenant-a", key=str(ev.claim_id))
    async with admin.begin() as conn:  # written when its record did not decode: no tenant known then
        dl_id = (await conn.execute(dead_letters.insert().values(
            topic="test.events", partition=0, offset=7, key=env.partitionkey, reason="unknown type",
            payload=env.to_bytes()).returning(dead_letters.c.id))).scalar_one()
    applied = []

    async def handler(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        applied.extend(d.tenant_id for d in deliveries)

    letters = DeadLetters(engine, lambda: BatchApplier(engine, {env.type: handler}, settings.service_name,
                                                       "rcm.test.events"), FixedClock(NOW))
    result = await letters.redrive(Selection.of(id=dl_id), operator="ops@billing")
    assert result.applied == [dl_id] and applied == ["tenant-a"], result.as_dict()


def test_tenant_scopes_hold_real_tenants_only():
    assert tenant_scope(["tenant-b", "tenant-a", "tenant-b"]) == "tenant-a,tenant-b"
    assert tenant_scope([]) == ""
    for bad in ("", "*", "a,b"):
        with pytest.raises(InvalidTenant):
            tenant_scope([bad])


async def test_a_large_batch_into_a_tenant_table_is_staged_not_copied_and_still_checked(runtime):
    settings, engine, admin = runtime
    units = UnitsOfWork(engine, service=settings.service_name, topic="rcm.test.events")
    bulk = BulkInsert(ledger, ["tenant_id", "claim_key", "amount"], on_conflict=None, copy_min_rows=10)
    assert has_row_security(ledger)
    async with units.begin(tenant_id="tenant-a", actor="test") as uow:
        await bulk.execute(uow.conn, [{"tenant_id": "tenant-a", "claim_key": f"k{i}", "amount": i} for i in range(50)])
    with pytest.raises(DBAPIError) as refused:
        async with units.begin(tenant_id="tenant-a", actor="test") as uow:
            await bulk.execute(uow.conn, [{"tenant_id": "tenant-b", "claim_key": f"k{i}", "amount": i} for i in range(50)])
    assert sqlstate_of(refused.value) == "42501"
    async with units.read("tenant-a") as conn:
        assert (await conn.execute(text("SELECT count(*) FROM ledger"))).scalar() == 50


@pytest.mark.parametrize("clash", [False, True])
async def test_rare_conflicts_into_a_tenant_table_answer_the_new_rows_either_way(runtime, clash):
    settings, engine, admin = runtime
    units = UnitsOfWork(engine, service=settings.service_name, topic="rcm.test.events")
    bulk = BulkInsert(payments, ["tenant_id", "payment_key", "amount"], on_conflict="(payment_key) DO NOTHING",
                      returning=["payment_key"], copy_min_rows=10, conflicts_rare=True)
    async with units.begin(tenant_id="tenant-a", actor="test") as uow:
        await uow.conn.execute(payments.insert().values(tenant_id="tenant-a", payment_key="p0", amount=1))
    keys = [f"p{i}" for i in range(0 if clash else 1, 30)]
    async with units.begin(tenant_id="tenant-a", actor="test") as uow:
        new = await bulk.execute(uow.conn, [{"tenant_id": "tenant-a", "payment_key": k, "amount": 2} for k in keys])
    assert [r.payment_key for r in new] == [f"p{i}" for i in range(1, 30)]
    async with units.read("tenant-a") as conn:
        assert (await conn.execute(text("SELECT count(*) FROM payments"))).scalar() == 30


async def test_the_relay_scope_publishes_every_tenants_events_and_deletes_them(runtime):
    settings, engine, admin = runtime
    units = UnitsOfWork(engine, service=settings.service_name, topic="rcm.test.events")
    for tenant in ("tenant-a", "tenant-b"):
        async with units.begin(tenant_id=tenant, actor="test") as uow:
            uow.emit(balance_event(), key=uuid.uuid4())
    producer = RecordingProducer()
    relay = OutboxRelay(engine, producer, settings.db_schema)
    async with engine.connect() as conn:
        assert await relay.relay_once(conn) == 2
    assert sorted(producer.tenants) == ["tenant-a", "tenant-b"]
    async with admin.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM outbox"))).scalar() == 0


async def test_migrations_refuse_a_tenant_table_left_without_row_security(runtime):
    settings, engine, admin = runtime
    async with admin.begin() as conn:
        await conn.execute(text("CREATE TABLE forgotten (tenant_id text NOT NULL, note text)"))
        assert await conn.run_sync(unprotected_tables) == ["forgotten"]
        with pytest.raises(UnprotectedTables, match="forgotten"):
            await conn.run_sync(secure, settings)
