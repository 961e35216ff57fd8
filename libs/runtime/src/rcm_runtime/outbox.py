"""Transactional outbox: events are rows written with the business state, published by one relay.

The relay holds a PostgreSQL advisory lock on its own connection, so among replicas exactly one
relays; the others wait and take over if that connection drops. It reads committed rows in sequence
order, publishes them with an idempotent producer (acks=all), then deletes them. A crash between
publish and delete republishes those rows: consumers de-duplicate on the event id (inbox).
An outage of PostgreSQL or Kafka (rcm_runtime.failures.is_transient) is waited out with exponential backoff and
jitter, logged once when it starts and once when it ends; the rows wait in the outbox meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
import zlib
from datetime import datetime, timezone
from typing import Any, Iterable

from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from rcm_contracts.base import Event
from rcm_contracts.envelope import Envelope, envelope_bytes, new_envelope
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.failures import is_transient
from rcm_runtime.kafka_access import KafkaAccess
from rcm_runtime.outage import Backoff, Outage
from rcm_runtime.messaging import PHI, outbox
from rcm_runtime.telemetry import current_traceparent
from rcm_runtime.tenant_scope import SYSTEM, enter_scope

log = logging.getLogger("rcm.outbox")


def outbox_row(envelope: Envelope, topic: str) -> dict[str, Any]:
    return {
        "event_id": envelope.id,
        "topic": topic,
        "key": envelope.partitionkey,
        "event_type": envelope.type,
        "tenant_id": envelope.tenantid,
        "traceparent": envelope.traceparent,
        "payload": envelope.to_bytes(),
    }


class Emitter:
    """Collects events for one transaction; flushes them into the outbox in one multi-row insert (COPY when
    they are many: rcm_runtime.bulk)."""

    def __init__(self, service: str, topic: str) -> None:
        self.service = service
        self.topic = topic
        self.rows: list[dict[str, Any]] = []

    def emit(
        self,
        event: Event,
        *,
        tenant_id: str,
        key: uuid.UUID | str,
        cause: Envelope | None = None,
        correlation_id: uuid.UUID | None = None,
        traceparent: str | None = None,
        subject: str | None = None,
    ) -> Envelope:
        env = new_envelope(
            event,
            service=self.service,
            tenant_id=tenant_id,
            key=str(key),
            subject=subject,
            correlation_id=cause.correlationid if cause else correlation_id,
            causation_id=cause.id if cause else None,
            traceparent=traceparent or current_traceparent(),
        )
        self.rows.append(outbox_row(env, self.topic))
        return env

    def emit_many(
        self,
        events: Iterable[tuple[Event, uuid.UUID | str]],
        *,
        tenant_id: str,
        cause: Envelope | None = None,
        correlation_id: uuid.UUID | None = None,
        traceparent: str | None = None,
    ) -> list[uuid.UUID]:
        """(event, key) pairs, in order: the same rows and envelopes as emit() for each, serialised without an
        Envelope model per event (a posted 835 emits one event a claim). Returns the event ids."""
        correlation = cause.correlationid if cause else correlation_id
        causation = cause.id if cause else None
        traceparent = traceparent or current_traceparent()
        ids = []
        for event, key in events:
            key, eid = str(key), uuid.uuid4()
            payload = envelope_bytes(event, service=self.service, tenant_id=tenant_id, key=key, event_id=eid,
                                     time=datetime.now(timezone.utc), correlation_id=correlation,
                                     causation_id=causation, traceparent=traceparent)
            self.rows.append({"event_id": eid, "topic": self.topic, "key": key, "event_type": event.event_type(),
                              "tenant_id": tenant_id, "traceparent": traceparent, "payload": payload})
            ids.append(eid)
        return ids

    async def flush(self, conn: AsyncConnection) -> int:
        if not self.rows:
            return 0
        n = len(self.rows)
        await _insert_outbox.execute(conn, PHI.seal_all(outbox, self.rows))
        self.rows = []
        return n


_insert_outbox = BulkInsert(outbox, ["event_id", "topic", "key", "event_type", "tenant_id", "traceparent", "payload"],
                           on_conflict=None)


def advisory_key(schema: str) -> int:
    return zlib.crc32(f"rcm.outbox.relay.{schema}".encode())


def make_producer(kafka: KafkaAccess, client_id: str, *, compression: str | None = None,
                  max_request_size: int = 1 << 20) -> AIOKafkaProducer:
    """`compression` (None or "gzip") and `max_request_size` (the largest record it may send, uncompressed) come
    from the service's settings: a service whose topic carries large records (submission: whole 835 files) raises
    both, and the topic's max.message.bytes (rcm_contracts.topics) lets the broker take them."""
    return AIOKafkaProducer(
        **kafka.client_options(),
        client_id=client_id,
        enable_idempotence=True,  # implies acks=all; no duplicates from producer retries
        linger_ms=5,
        max_batch_size=1 << 20,  # a record larger than a batch gets a batch of its own
        max_request_size=max_request_size,
        compression_type=compression,
        request_timeout_ms=30000,
    )


class OutboxRelay:
    def __init__(self, engine: AsyncEngine, producer: AIOKafkaProducer, schema: str,
                 batch_max: int = 1000, idle_poll_s: float = 0.05, backoff: Backoff | None = None) -> None:
        self.engine = engine
        self.producer = producer
        self.schema = schema
        self.batch_max = batch_max
        self.idle_poll_s = idle_poll_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self.is_leader = False
        self.published = 0
        self.backoff = backoff or Backoff()
        self.outage = Outage(log, "outbox relay")

    def poke(self) -> None:
        """Called after a commit that wrote outbox rows: publish now rather than at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.is_leader = False
                if is_transient(exc):
                    self.outage.failed(exc)
                else:
                    log.exception("outbox relay failed; retrying")
                await self._sleep(self.backoff.next(), wake=False)

    def _answered(self) -> None:
        """A round trip (and the publishing of what was due) succeeded: any outage is over."""
        self.backoff.reset()
        self.outage.recovered()

    async def _sleep(self, seconds: float, *, wake: bool = True) -> None:
        """Wait `seconds`, or less if poked (`wake`; a commit's poke must not cut an outage's backoff short)
        or stopped."""
        try:
            await asyncio.wait_for((self._wake if wake else self._stopping).wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass
        if wake:
            self._wake.clear()

    async def _lead(self) -> None:
        async with self.engine.connect() as conn:
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": advisory_key(self.schema)})).scalar()
            await conn.commit()
            if not got:
                self.is_leader = False
                self._answered()
                await self._sleep(2.0)
                return
            self.is_leader = True
            if not self.outage.active:  # once, not on every attempt of an outage (the end is logged)
                log.info("outbox relay leading", extra={"status": "leader"})
            try:
                while not self._stopping.is_set():
                    n = await self.relay_once(conn)
                    self._answered()
                    if n == 0:
                        await self._sleep(self.idle_poll_s)
            except BaseException as exc:
                self.is_leader = False
                try:  # the connection is usually gone, and its session's lock with it
                    await conn.rollback()
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(self.schema)})
                    await conn.commit()
                except Exception:  # noqa: BLE001 - the first failure is the one to classify and report
                    log.debug("advisory unlock after a failure failed", extra={"reason": type(exc).__name__})
                raise
            self.is_leader = False
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": advisory_key(self.schema)})
            await conn.commit()

    async def relay_once(self, conn: AsyncConnection) -> int:
        # The relay publishes every tenant's events: the system scope, in each of its two transactions.
        await enter_scope(conn, SYSTEM)
        rows = (
            await conn.execute(
                select(outbox.c.seq, outbox.c.event_id, outbox.c.topic, outbox.c.key, outbox.c.event_type,
                       outbox.c.tenant_id, outbox.c.traceparent, outbox.c.payload)
                .order_by(outbox.c.seq)
                .limit(self.batch_max)
            )
        ).all()
        await conn.commit()
        if not rows:
            return 0
        rows = PHI.open_all(outbox, rows)
        futures = []
        for r in rows:
            headers = [("ce_id", str(r.event_id).encode()), ("ce_type", r.event_type.encode()),
                       ("ce_tenantid", r.tenant_id.encode())]
            if r.traceparent:
                headers.append(("traceparent", r.traceparent.encode()))
            futures.append(await self.producer.send(r.topic, value=r.payload, key=r.key.encode(), headers=headers))
        await asyncio.gather(*futures)
        await enter_scope(conn, SYSTEM)
        await conn.execute(delete(outbox).where(outbox.c.seq.in_([r.seq for r in rows])))
        await conn.commit()
        self.published += len(rows)
        return len(rows)
