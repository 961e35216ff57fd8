"""Units of work against the real PostgreSQL: state and events commit or roll back together; a unit is bound
to its tenant, actor and cause; the consumer hands each delivery its own bound unit; the inbox is pruned by
age (as the injected clock says), never younger rows."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, select, text

from rcm_runtime.clock import FixedClock
from rcm_runtime.consumer import BatchApplier, Delivery, decode_record
from rcm_runtime.inbox import prune_inbox
from rcm_runtime.messaging import PHI, inbox, outbox
from rcm_runtime.unit_of_work import Cause, UnboundUnitOfWork, UnitOfWork, UnitsOfWork

from .support import balance_event, create_effects, effect_counts, envelope, table_count

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def _units(settings, engine, **kw) -> UnitsOfWork:
    return UnitsOfWork(engine, service=settings.service_name, topic="rcm.test.events", clock=FixedClock(NOW), **kw)


async def _outbox(engine) -> list[dict]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(outbox.c.tenant_id, outbox.c.payload).order_by(outbox.c.seq))
        return [json.loads(r.payload) for r in PHI.open_all(outbox, rows)]  # payloads are sealed at rest


async def test_a_command_writes_state_and_its_event_in_one_commit_bound_to_its_tenant(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    pokes = []
    units = _units(settings, engine, on_commit=lambda: pokes.append(1))
    event = balance_event()
    async with units.begin(tenant_id="tenant-a", actor="jane@practice") as uow:
        assert (uow.tenant_id, uow.actor, uow.now()) == ("tenant-a", "jane@practice", NOW)
        await uow.conn.execute(text("INSERT INTO effects VALUES ('k1', 1)"))
        uow.emit(event, key=event.claim_id)
    [published] = await _outbox(engine)
    assert published["tenantid"] == "tenant-a" and published["partitionkey"] == str(event.claim_id)
    assert await effect_counts(engine) == {"k1": 1} and pokes == [1]


async def test_a_failed_command_leaves_neither_state_nor_events(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    units = _units(settings, engine)
    with pytest.raises(RuntimeError):
        async with units.begin(tenant_id="tenant-a", actor="api") as uow:
            await uow.conn.execute(text("INSERT INTO effects VALUES ('k1', 1)"))
            uow.emit(balance_event(), key=uuid.uuid4())
            raise RuntimeError("boom")
    assert await _outbox(engine) == [] and await effect_counts(engine) == {}


async def test_a_system_unit_binds_per_tenant_and_refuses_to_emit_unbound(scratch_schema):
    settings, engine = scratch_schema
    units = _units(settings, engine)
    async with units.begin_system() as uow:
        with pytest.raises(UnboundUnitOfWork):
            uow.emit(balance_event(), key=uuid.uuid4())
        with pytest.raises(UnboundUnitOfWork):
            _ = uow.tenant_id
        for tenant in ("tenant-a", "tenant-b"):
            uow.bind(Cause(tenant_id=tenant, actor="system:test")).emit(balance_event(), key=uuid.uuid4())
    assert [e["tenantid"] for e in await _outbox(engine)] == ["tenant-a", "tenant-b"]


async def test_a_command_without_a_consumed_cause_must_name_the_key(scratch_schema):
    settings, engine = scratch_schema
    async with _units(settings, engine).begin(tenant_id="tenant-a", actor="api") as uow:
        with pytest.raises(UnboundUnitOfWork):
            uow.emit(balance_event())


async def test_emit_many_writes_a_large_batch_in_order_with_the_rest_of_the_unit(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    events = [balance_event(f"{n}.00") for n in range(1, 1501)]  # past COPY's threshold: the outbox by COPY
    async with _units(settings, engine).begin(tenant_id="tenant-a", actor="api") as uow:
        await uow.conn.execute(text("INSERT INTO effects VALUES ('k1', 1)"))
        uow.emit(events[0], key=events[0].claim_id)
        ids = uow.emit_many((e, e.claim_id) for e in events[1:])
    out = await _outbox(engine)
    assert [e["data"]["amount_due"] for e in out] == [f"{n}.00" for n in range(1, 1501)]
    assert [e["id"] for e in out[1:]] == [str(i) for i in ids]
    assert {(e["tenantid"], e["partitionkey"] == e["data"]["claim_id"]) for e in out} == {("tenant-a", True)}
    with pytest.raises(RuntimeError):
        async with _units(settings, engine).begin(tenant_id="tenant-a", actor="api") as uow:
            uow.emit_many((e, e.claim_id) for e in events)
            raise RuntimeError("boom")
    assert len(await _outbox(engine)) == 1500 and await effect_counts(engine) == {"k1": 1}


async def test_emit_many_needs_a_tenant_and_a_key_or_a_cause(scratch_schema):
    settings, engine = scratch_schema
    async with _units(settings, engine).begin_system() as uow:
        with pytest.raises(UnboundUnitOfWork):
            uow.emit_many([(balance_event(), uuid.uuid4())])
    async with _units(settings, engine).begin(tenant_id="tenant-a", actor="api") as uow:
        with pytest.raises(UnboundUnitOfWork):
            uow.emit_many([(balance_event(), None)])
    cause = envelope(tenant="tenant-b")
    async with _units(settings, engine).begin_system() as uow:
        bound = uow.bind(Cause(tenant_id="tenant-b", actor="event:x", event=cause))
        bound.emit_many([(balance_event(), None)])  # the causing event's key
    [out] = [e for e in await _outbox(engine)]
    assert (out["partitionkey"], out["causationid"], out["correlationid"]) == (
        cause.partitionkey, str(cause.id), str(cause.correlationid))


class _Record:
    def __init__(self, env, offset):
        self.topic, self.partition, self.offset = "rcm.test.in", 0, offset
        self.key, self.value, self.headers = env.partitionkey.encode(), env.to_bytes(), env.headers()


async def test_each_delivery_gets_a_unit_bound_to_its_own_tenant_and_cause(scratch_schema):
    settings, engine = scratch_schema
    seen: list[Delivery] = []

    async def handler(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        for d in deliveries:
            seen.append(d)
            assert d.uow.conn is uow.conn  # one transaction for the batch
            d.uow.emit(balance_event())  # key defaults to the consumed event's key

    envs = [envelope(tenant="tenant-a"), envelope(tenant="tenant-b")]
    applier = BatchApplier(engine, {envs[0].type: handler}, settings.service_name, "rcm.test.events",
                           clock=FixedClock(NOW))
    await applier.apply([decode_record(_Record(env, i)) for i, env in enumerate(envs)])
    assert [d.uow.tenant_id for d in seen] == ["tenant-a", "tenant-b"]
    assert seen[0].uow.actor == f"event:{envs[0].source}" and seen[0].uow.now() == NOW
    out = await _outbox(engine)
    assert [(e["tenantid"], e["partitionkey"], e["causationid"], e["correlationid"]) for e in out] == [
        (env.tenantid, env.partitionkey, str(env.id), str(env.correlationid)) for env in envs]


async def test_the_inbox_keeps_a_bounded_history_by_age(scratch_schema):
    settings, engine = scratch_schema
    clock = FixedClock(NOW)
    old, recent = uuid.uuid4(), uuid.uuid4()
    async with engine.begin() as conn:
        await conn.execute(insert(inbox), [
            {"event_id": old, "event_type": "t", "topic": "x", "received_at": NOW - timedelta(days=15)},
            {"event_id": recent, "event_type": "t", "topic": "x", "received_at": NOW - timedelta(days=13)}])
    assert await prune_inbox(engine, clock, retention=timedelta(days=14)) == 1
    async with engine.connect() as conn:
        assert [r.event_id for r in await conn.execute(select(inbox.c.event_id))] == [recent]
    clock.advance(timedelta(days=2))
    assert await prune_inbox(engine, clock, retention=timedelta(days=14)) == 1
    assert await table_count(engine, "inbox") == 0
