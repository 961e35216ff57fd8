"""The relay publishes exactly the committed outbox rows, once, and only one replica relays."""

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import insert

from rcm_runtime.messaging import outbox
from rcm_runtime.outbox import OutboxRelay, make_producer, outbox_row
from rcm_runtime.kafka_access import KafkaAccess
from tests.support.fixtures import unique_topic

from .support import envelope, table_count, wait_for

pytestmark = pytest.mark.integration


async def _read_all(kafka: KafkaAccess, topic: str, expect: int, timeout: float = 20.0) -> list:
    consumer = AIOKafkaConsumer(topic, **kafka.client_options(), auto_offset_reset="earliest",
                                enable_auto_commit=False, group_id=f"reader-{uuid.uuid4().hex[:8]}")
    await consumer.start()
    got = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                got += recs
            if len(got) > expect:
                break
            if len(got) == expect:
                # linger a little: anything extra (e.g. rolled-back rows) would show up now
                extra = await consumer.getmany(timeout_ms=1500)
                got += [r for recs in extra.values() for r in recs]
                break
    finally:
        await consumer.stop()
    return got


async def test_relay_publishes_committed_rows_only(scratch_schema, kafka):
    settings, engine = scratch_schema
    topic = unique_topic("relay")
    committed = [envelope() for _ in range(5)]
    rolled_back = [envelope() for _ in range(3)]

    async with engine.begin() as conn:
        await conn.execute(insert(outbox), [outbox_row(e, topic) for e in committed])
    with pytest.raises(RuntimeError):
        async with engine.begin() as conn:
            await conn.execute(insert(outbox), [outbox_row(e, topic) for e in rolled_back])
            raise RuntimeError("business rule failed after the outbox insert")

    producer = make_producer(kafka, "test-relay")
    await producer.start()
    relay = OutboxRelay(engine, producer, settings.db_schema, idle_poll_s=0.05)
    task = asyncio.create_task(relay.run())
    try:
        await wait_for(lambda: _zero(engine))
        records = await _read_all(kafka, topic, expect=len(committed))
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)
        await producer.stop()

    ids = [dict(r.headers)["ce_id"].decode() for r in records]
    assert sorted(ids) == sorted(str(e.id) for e in committed)  # all committed, none rolled back, no duplicates
    for r in records:
        headers = dict(r.headers)
        assert headers["ce_type"] == committed[0].type.encode()
        assert r.key.decode() == next(e.partitionkey for e in committed if str(e.id) == headers["ce_id"].decode())
    assert relay.published == len(committed)


async def _zero(engine):
    return await table_count(engine, "outbox") == 0


async def test_only_one_relay_leads(scratch_schema, kafka):
    settings, engine = scratch_schema
    producer = make_producer(kafka, "test-relay-2")
    await producer.start()
    a = OutboxRelay(engine, producer, settings.db_schema)
    b = OutboxRelay(engine, producer, settings.db_schema)
    ta, tb = asyncio.create_task(a.run()), asyncio.create_task(b.run())
    try:
        await wait_for(lambda: _any_leader(a, b))
        await asyncio.sleep(0.5)
        assert [a.is_leader, b.is_leader].count(True) == 1
        leader, standby, leader_task = (a, b, ta) if a.is_leader else (b, a, tb)
        leader.stop()
        await asyncio.wait_for(leader_task, 10)
        await wait_for(lambda: _is_leader(standby), timeout=10)  # the standby takes over
    finally:
        a.stop()
        b.stop()
        await asyncio.wait_for(asyncio.gather(ta, tb, return_exceptions=True), 10)
        await producer.stop()


async def _any_leader(a, b):
    return a.is_leader or b.is_leader


async def _is_leader(r):
    return r.is_leader
