"""Consumer loop against the real broker and database: exactly-once effects, dead letters, crash safety."""

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import select

from rcm_runtime.consumer import ConsumerLoop
from rcm_runtime.messaging import PHI, dead_letters, inbox
from tests.support.fixtures import unique_topic

from .support import HANDLERS, POISON_AMOUNT, create_effects, effect_counts, envelope, table_count, wait_for

pytestmark = pytest.mark.integration


async def _produce(kafka, topic, records, partition=None):
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for key, value, headers in records:
            await producer.send_and_wait(topic, key=key, value=value, headers=headers or [], partition=partition)
    finally:
        await producer.stop()


def _rec(env):
    return env.partitionkey.encode(), env.to_bytes(), env.headers()


def _loop(settings, engine, kafka, topic, group, **kw):
    return ConsumerLoop(engine=engine, kafka=kafka, group_id=group, topics=[topic], handlers=HANDLERS,
                        service=settings.service_name, out_topic=unique_topic("unused"), batch_max=50,
                        retry_backoff_s=0.01, **kw)


async def _run_until(loop, predicate, timeout=30):
    task = asyncio.create_task(loop.run())
    try:
        await wait_for(predicate, timeout)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 15)


async def test_same_event_delivered_twice_is_applied_once(scratch_schema, kafka):
    settings, engine = scratch_schema
    await create_effects(engine)
    topic = unique_topic("dup")
    env, other = envelope(), envelope()
    # the duplicate in the same poll, and again after other records (a redelivery)
    await _produce(kafka, topic, [_rec(env), _rec(env), _rec(other), _rec(env)])
    loop = _loop(settings, engine, kafka, topic, f"g-{topic}")

    async def done():
        return await table_count(engine, "inbox") == 2 and loop.applier.duplicates >= 2

    await _run_until(loop, done)
    assert await effect_counts(engine) == {env.partitionkey: 1, other.partitionkey: 1}
    assert loop.applier.applied == 2


async def test_bad_records_are_dead_lettered_and_the_consumer_goes_on(scratch_schema, kafka):
    settings, engine = scratch_schema
    await create_effects(engine)
    topic = unique_topic("dlq")
    good_before, good_after = envelope(), envelope()
    unknown = json.loads(envelope().to_bytes())
    unknown["type"] = "org.openrcm.rcm.nowhere.mystery.v1"
    invalid = json.loads(envelope().to_bytes())
    invalid["data"]["amount_due"] = "Jane Doe"
    poison = envelope(str(POISON_AMOUNT))
    await _produce(kafka, topic, [
        _rec(good_before),
        (b"k1", b"{not json", []),
        (unknown["partitionkey"].encode(), json.dumps(unknown).encode(), []),
        (invalid["partitionkey"].encode(), json.dumps(invalid).encode(), []),
        (b"another-claim", good_after.to_bytes(), []),  # record key must be the envelope's partition key
        (poison.partitionkey.encode(), poison.to_bytes(), poison.headers()),
        _rec(good_after),
    ], partition=0)  # one partition, so offsets 0..6 are the order above
    loop = _loop(settings, engine, kafka, topic, f"g-{topic}")

    async def done():
        return await table_count(engine, "dead_letters") == 5 and len(await effect_counts(engine)) == 2

    await _run_until(loop, done)
    async with engine.connect() as conn:
        rows = {r.offset: r for r in await conn.execute(select(dead_letters).order_by(dead_letters.c.offset))}
    reasons = {off: r.reason for off, r in rows.items()}
    assert set(reasons) == {1, 2, 3, 4, 5}
    assert "not JSON" in reasons[1]
    assert "unknown event type" in reasons[2]
    assert "data.amount_due" in reasons[3]
    assert "key does not match" in reasons[4]
    assert "statement amount rejected" in reasons[5]
    assert all("Jane" not in r for r in reasons.values())  # reasons name fields, never values
    assert bytes(rows[1].payload).startswith(b"phi1.")  # the record is kept for replay, sealed (rcm_runtime.phi)
    assert PHI.open(dead_letters, rows[1]).payload == b"{not json"
    assert rows[5].event_id == str(poison.id) and rows[5].tenant_id == "tenant-a"
    assert await effect_counts(engine) == {good_before.partitionkey: 1, good_after.partitionkey: 1}
    async with engine.connect() as conn:  # the rejected event left no inbox row: a fixed replay can apply it
        assert (await conn.execute(select(inbox.c.event_id).where(inbox.c.event_id == poison.id))).first() is None


CRASHY = Path(__file__).with_name("crashy_consumer.py")


async def test_consumer_killed_between_db_commit_and_offset_commit(scratch_schema, kafka):
    """A process that dies after its DB commit but before committing offsets loses and duplicates nothing."""
    settings, engine = scratch_schema
    await create_effects(engine)
    topic = unique_topic("crash")
    group = f"g-{topic}"
    first = [envelope() for _ in range(20)]
    await _produce(kafka, topic, [_rec(e) for e in first])

    env = {**os.environ, "CRASH_SCHEMA": settings.db_schema, "CRASH_DB_URL": settings.database_url,
           "CRASH_BOOTSTRAP": kafka.bootstrap, "CRASH_TOPIC": topic, "CRASH_GROUP": group}
    proc = await asyncio.create_subprocess_exec(sys.executable, str(CRASHY), env=env,
                                                cwd=str(Path(__file__).resolve().parents[4]))
    assert await asyncio.wait_for(proc.wait(), 120) == 137  # killed itself right after the DB commit
    applied_before_restart = await effect_counts(engine)
    assert applied_before_restart and all(v == 1 for v in applied_before_restart.values())

    second = [envelope() for _ in range(5)]
    await _produce(kafka, topic, [_rec(e) for e in second])
    loop = _loop(settings, engine, kafka, topic, group)

    async def done():
        return len(await effect_counts(engine)) == 25 and loop.applier.duplicates >= len(applied_before_restart)

    await _run_until(loop, done)
    counts = await effect_counts(engine)
    assert counts == {e.partitionkey: 1 for e in first + second}  # nothing lost, nothing applied twice
    assert loop.applier.duplicates >= len(applied_before_restart)  # redelivered and recognised by the inbox


async def test_stop_mid_batch_finishes_and_commits_the_batch_in_hand_and_takes_no_more(scratch_schema, kafka):
    """Graceful shutdown (what SIGTERM triggers through the app's lifespan): the batch being applied when stop()
    comes is committed with its offsets; no further record is taken; a new consumer starts after that batch."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    settings, engine = scratch_schema
    await create_effects(engine)
    topic = unique_topic("graceful")
    group = f"g-{topic}"
    events = [envelope() for _ in range(30)]
    await _produce(kafka, topic, [_rec(e) for e in events], partition=0)

    in_batch, release = asyncio.Event(), asyncio.Event()
    (event_type, count_effect), = HANDLERS.items()

    async def slow_count(uow, deliveries):
        in_batch.set()
        await release.wait()  # the batch is in hand when stop() comes
        await count_effect(uow, deliveries)

    loop = ConsumerLoop(engine=engine, kafka=kafka, group_id=group, topics=[topic],
                        handlers={event_type: slow_count}, service=settings.service_name,
                        out_topic=unique_topic("unused"), batch_max=10, retry_backoff_s=0.01)
    task = asyncio.create_task(loop.run())
    await asyncio.wait_for(in_batch.wait(), 30)
    loop.stop()
    release.set()
    await asyncio.wait_for(task, 15)

    counts = await effect_counts(engine)
    assert 0 < len(counts) <= 10 and set(counts.values()) == {1}  # that batch, whole, once; nothing after it
    applied = [e.partitionkey for e in events if e.partitionkey in counts]
    assert applied == [e.partitionkey for e in events[:len(counts)]]
    probe = AIOKafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    await probe.start()
    try:
        committed = await probe.committed(TopicPartition(topic, 0))
    finally:
        await probe.stop()
    assert committed == len(counts)  # the next consumer starts right after the committed batch
