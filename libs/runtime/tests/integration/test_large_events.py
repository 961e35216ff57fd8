"""A whole 835 as an event (submission's RemittanceReceived, up to its 8 MB limit) goes through the relay and the
consumer's decode with the settings submission runs with: gzip, records up to the topic's max.message.bytes
(rcm_contracts.topics), a consumer with the default fetch sizes. With the defaults (no compression, 1 MiB) the
relay refuses it and the row stays in the outbox: that is why submission quarantines anything larger."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import datetime, timezone

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import MessageSizeTooLargeError
from sqlalchemy import func, insert, select

from rcm_contracts import topics
from rcm_contracts.envelope import new_envelope
from rcm_contracts.events import RemittanceReceived
from rcm_runtime.consumer import decode_record
from rcm_runtime.messaging import outbox
from rcm_runtime.outbox import OutboxRelay, make_producer, outbox_row
from rcm_runtime.kafka_access import KafkaAccess
from tests.support.era835 import check, clp, era, svc
from tests.support.fixtures import unique_topic

pytestmark = pytest.mark.integration

LIMIT = 8_000_000  # submission's default era_event_max_bytes


def large_835() -> str:
    """A realistic 835 just under the limit: one check paying many claims, a line each."""
    claims = [clp(f"{n:020X}", "150.00", "90.00", pccn=f"SBX{n:07d}",
                  lines=[svc("99213", "150.00", "90.00", [("CO", "45", "40.00"), ("PR", "3", "20.00")])])
              for n in range(1, 46_000)]
    text = era(check(claims, payer_id="SBX02"))
    assert 7_000_000 < len(text) < LIMIT
    return text


def envelope_of(text: str):
    event = RemittanceReceived(clearinghouse="sandbox", file_name="000000042.835", content=text,
                               content_sha256=hashlib.sha256(text.encode()).hexdigest(),
                               received_at=datetime(2026, 11, 30, tzinfo=timezone.utc))
    return new_envelope(event, service="submission", tenant_id="tenant-a", key="tenant-a")


async def _topic(kafka: KafkaAccess, configs: dict[str, str]) -> str:
    name = unique_topic("large")
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=1, replication_factor=1, topic_configs=configs)])
    finally:
        await admin.close()
    return name


async def _outbox_rows(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(outbox))).scalar()


async def test_an_8_mb_835_event_is_relayed_gzipped_and_consumed_whole(scratch_schema, kafka):
    settings, engine = scratch_schema
    topic = await _topic(kafka, topics.topic_config(topics.SUBMISSION))
    text = large_835()
    env = envelope_of(text)
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), [outbox_row(env, topic)])
    producer = make_producer(kafka, "test-large", compression="gzip",
                             max_request_size=topics.MAX_MESSAGE_BYTES[topics.SUBMISSION])
    await producer.start()
    try:
        relay = OutboxRelay(engine, producer, settings.db_schema)
        started = time.perf_counter()
        async with engine.connect() as conn:
            assert await relay.relay_once(conn) == 1
        relayed_s = time.perf_counter() - started
    finally:
        await producer.stop()
    assert await _outbox_rows(engine) == 0

    consumer = AIOKafkaConsumer(topic, **kafka.client_options(), group_id=f"reader-{uuid.uuid4().hex[:8]}",
                                enable_auto_commit=False, auto_offset_reset="earliest", isolation_level="read_committed")
    await consumer.start()
    try:
        started = time.perf_counter()
        records = []
        while not records and time.perf_counter() - started < 30:
            batch = await consumer.getmany(timeout_ms=500)
            records = [r for recs in batch.values() for r in recs]
        decoded = decode_record(records[0])
        consumed_s = time.perf_counter() - started
    finally:
        await consumer.stop()
    assert decoded.error is None and decoded.event.content == text
    assert decoded.event.content_sha256 == hashlib.sha256(text.encode()).hexdigest()
    print(f"\n835 of {len(text):,} bytes; record {len(records[0].value):,} bytes; relayed (gzip) in {relayed_s:.2f}s; "
          f"fetched and decoded in {consumed_s:.2f}s")


async def test_with_the_default_producer_and_topic_the_relay_refuses_it_and_keeps_the_row(scratch_schema,
                                                                                       kafka):
    settings, engine = scratch_schema
    topic = await _topic(kafka, {})
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), [outbox_row(envelope_of(large_835()), topic)])
    producer = make_producer(kafka, "test-large-default")
    await producer.start()
    try:
        relay = OutboxRelay(engine, producer, settings.db_schema)
        async with engine.connect() as conn:
            with pytest.raises(MessageSizeTooLargeError):
                await asyncio.wait_for(relay.relay_once(conn), 30)
    finally:
        await producer.stop()
    assert await _outbox_rows(engine) == 1
