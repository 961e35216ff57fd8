"""The stack's broker enforces who may do what (SASL_SSL, SCRAM-SHA-512, ACLs from rcm_runtime.kafka_acls), and an
intake record's tenant is bound to the integrator that wrote it."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError
from sqlalchemy import select

from rcm_contracts import topics
from rcm_runtime.consumer import ConsumerLoop
from rcm_runtime.kafka_access import KafkaAccess, password_file, stack_dir
from rcm_runtime.kafka_acls import integrator_principal, service_principal
from rcm_runtime.messaging import dead_letters
from tests.support.client import kafka_access
from tests.support.fixtures import unique_topic

from .support import HANDLERS, create_effects, effect_counts, envelope, wait_for

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[4]


async def _write(access: KafkaAccess, topic: str, records: list[tuple[bytes, bytes, list]] | None = None) -> None:
    producer = AIOKafkaProducer(**access.client_options(), enable_idempotence=True, request_timeout_ms=10_000)
    await producer.start()
    try:
        for key, value, headers in records or [(b"k", b"{}", [])]:
            await producer.send_and_wait(topic, key=key, value=value, headers=headers)
    finally:
        await producer.stop()


async def _read_one_partition(access: KafkaAccess, topic: str) -> None:
    consumer = AIOKafkaConsumer(**access.client_options(), group_id=None, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning(TopicPartition(topic, 0))
        await consumer.getmany(timeout_ms=1000)
    finally:
        await consumer.stop()


async def test_a_wrong_password_or_no_credentials_are_refused(kafka):
    with pytest.raises(KafkaError):
        await _write(kafka.as_principal(integrator_principal("tenant-a"), "not-the-password"),
                     topics.intake_topic("tenant-a"))
    with pytest.raises((KafkaError, OSError)):  # a plaintext client finds a TLS listener
        await asyncio.wait_for(_write(KafkaAccess(kafka.bootstrap), topics.intake_topic("tenant-a")), 30)


async def _visible_topics(access: KafkaAccess) -> set[str]:
    """The topics the broker shows this principal (those it may describe: read or write), internal ones aside."""
    consumer = AIOKafkaConsumer(**access.client_options(), group_id=None)
    await consumer.start()
    try:
        return {t for t in await consumer.topics() if not t.startswith("__")}
    finally:
        await consumer.stop()


async def test_a_service_writes_its_own_topic_only_and_reads_only_what_it_consumes(kafka):
    coding, denials = kafka_access(service_principal("coding")), kafka_access(service_principal("denials"))
    assert await _visible_topics(coding) == {topics.ELIGIBILITY, topics.CODING}
    assert await _visible_topics(denials) == {topics.REMITTANCE, topics.DENIALS}
    for topic in (topics.CHARGES, topics.ELIGIBILITY, topics.intake_topic("tenant-a")):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write(coding, topic)
    await _read_one_partition(denials, topics.REMITTANCE)  # what denials consumes
    with pytest.raises(TopicAuthorizationFailedError):  # its own topic is for writing
        await _read_one_partition(denials, topics.DENIALS)


async def test_an_integrator_writes_its_own_tenants_intake_topic_only(kafka):
    integrator = kafka_access(integrator_principal("tenant-b"))
    assert await _visible_topics(integrator) == {topics.intake_topic("tenant-b")}
    for topic in (topics.intake_topic("tenant-a"), topics.RETIRED_SHARED_INTAKE, topics.CHARGES):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write(integrator, topic)
    with pytest.raises(TopicAuthorizationFailedError):  # nor read anything, its own topic included
        await _read_one_partition(integrator, topics.intake_topic("tenant-b"))


async def test_a_new_tenants_integrator_is_added_and_its_intake_bound_to_it(scratch_schema, kafka):
    """The admin command adds a tenant while a consumer runs: the consumer picks the topic up, applies what the
    integrator sends for its tenant, and dead-letters (never applies) a record claiming another tenant."""
    settings, engine = scratch_schema
    await create_effects(engine)
    tenant = f"t-{uuid.uuid4().hex[:10]}"
    topic = topics.intake_topic(tenant)
    # the production pattern matches every tenant's topic: this loop takes the new tenant's alone (the others
    # hold whatever earlier runs sent), by a pattern, so it meets the topic only once it is made
    loop = ConsumerLoop(engine=engine, kafka=kafka, group_id=unique_topic("g-intake"), topics=[re.compile(re.escape(topic))],
                        handlers=HANDLERS, service=settings.service_name, out_topic=unique_topic("unused"),
                        metadata_max_age_ms=500)
    await loop.start()
    task = asyncio.create_task(loop.run())
    try:
        added = subprocess.run(
            [sys.executable, str(ROOT / "deploy" / "kafka_admin.py"), "add-integrator", "--stack-dir", str(stack_dir()),
             "--bootstrap", kafka.bootstrap, "--tenant", tenant], capture_output=True, text=True, timeout=120,
            env={**os.environ})
        assert added.returncode == 0, added.stderr[-2000:]
        assert oct(password_file(stack_dir(), integrator_principal(tenant)).stat().st_mode & 0o777) == "0o600"
        own, claims_b, header_b = envelope(tenant=tenant), envelope(tenant="tenant-b"), envelope(tenant=tenant)
        header_says_b = [(k, b"tenant-b" if k == "ce_tenantid" else v) for k, v in header_b.headers()]
        await _write(kafka_access(integrator_principal(tenant)), topic, [
            (own.partitionkey.encode(), own.to_bytes(), own.headers()),
            (claims_b.partitionkey.encode(), claims_b.to_bytes(), claims_b.headers()),
            (header_b.partitionkey.encode(), header_b.to_bytes(), header_says_b)])

        async def dead() -> list:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(dead_letters.c.event_id, dead_letters.c.reason)
                                           .where(dead_letters.c.topic == topic))).all()
            return rows if len(rows) == 2 else []

        rows = await wait_for(dead, timeout=60)
        await wait_for(lambda: _applied(engine, own.partitionkey), timeout=30)
    finally:
        loop.stop()
        await asyncio.wait_for(task, 15)
        await _delete_topic(kafka, topic)  # the running services read every tenant's topic: leave none behind
    assert {r.event_id for r in rows} == {str(claims_b.id), str(header_b.id)}
    assert {r.reason for r in rows} == {"tenantid: differs from the tenant of its intake topic"}
    assert await effect_counts(engine) == {own.partitionkey: 1}  # only the tenant's own record was applied


async def _delete_topic(kafka: KafkaAccess, topic: str) -> None:
    admin = AIOKafkaAdminClient(**kafka.client_options())
    await admin.start()
    try:
        await admin.delete_topics([topic])
    finally:
        await admin.close()


async def _applied(engine, key: str) -> bool:
    return (await effect_counts(engine)).get(key) == 1
