"""Consumer loop: Kafka records -> inbox + handler effects + outbox rows in one DB transaction.

A batch of records (up to consumer_batch_max) shares one transaction, which is what lets nine stages
keep up on one PostgreSQL. Records are applied in partition order, so per-claim order holds.
Exactly-once effects: the inbox insert (ON CONFLICT DO NOTHING) decides which events are new, in the
same transaction as their effects; offsets are committed to Kafka only after the DB commit.
If a batch fails, its records are retried one by one (bounded); one that still fails is written to
the dead-letter table with its reason and the loop moves on. Records that do not decode, or carry an
unknown type, go to the dead-letter table straight away.

An outage is not a bad record. A failure whose cause is transient (rcm_runtime.failures.is_transient: the
database, the broker or an outside party not answering, a serialization failure or deadlock), wherever it is
raised, never counts against a record: the loop stops taking records, retries the same batch with exponential
backoff and jitter (rcm_runtime.outage; logged once when the outage starts and once when it ends), commits no
offsets meanwhile and dead-letters nothing for it. Records of the batch applied before the outage are found in
the inbox on the retry and not applied again.

Handlers that need an outside party (a payer's 271) before they can apply an event are `PreparedHandler`s:
their `prepare(deliveries)` runs for the batch's not-yet-applied events BEFORE the batch transaction opens,
with no connection held (short reads of its own, then the outside calls), and returns one value per
delivery; the loop puts each on `delivery.prepared`, then opens the transaction and calls `apply(uow,
deliveries)` like any handler. So no transaction (and no row lock) is held while waiting for the outside
party (DESIGN.md §2 rule 7). Events already in the inbox (a redelivery) are not prepared, so a redelivered
batch asks no outside party again. A `TransientError` from `prepare` retries the batch later, as from any
handler. Plain handlers (`Handler`) are unchanged.

A tenant's intake topic (`rcm.intake.encounters.<tenant>`) binds its records to that tenant: only the tenant's
integrator principal may write it (the broker's ACLs), so a record there whose envelope (or ce_tenantid header)
names another tenant is dead-lettered, never applied. Topics are named or matched by a pattern (every tenant's
intake topic): the loop subscribes by one pattern then, and picks up topics made while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from rcm_contracts import topics as topic_names
from rcm_contracts.base import Event
from rcm_contracts.envelope import Envelope, EnvelopeError, decode_envelope
from rcm_contracts.registry import REGISTRY, Registry
from pydantic import ValidationError

from rcm_runtime.audit import AuditSpec, append, batch_row, route_audit
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.errors import DomainError, TransientError
from rcm_runtime.failures import is_transient, safe_reason
from rcm_runtime.kafka_access import KafkaAccess
from rcm_runtime.outage import Backoff, Outage
from rcm_runtime.messaging import PHI, dead_letters, inbox
from rcm_runtime.clock import Clock
from rcm_runtime.tenant_scope import InvalidTenant, system_transaction, tenant_scope
from rcm_runtime.unit_of_work import Cause, UnitOfWork, UnitsOfWork
from rcm_runtime.telemetry import start_consumer_span, traceparent_of

log = logging.getLogger("rcm.consumer")


@dataclass
class Delivery:
    """One new (not yet applied) event of the batch, with the trace context its effects continue and its
    unit of work (the batch's transaction, bound to this event's tenant and cause)."""

    envelope: Envelope
    event: Any
    traceparent: str | None = None  # of this consumer's span for the event
    uow: UnitOfWork | None = None
    prepared: Any = None  # what a PreparedHandler's prepare step returned for this event

    @property
    def tenant_id(self) -> str:
        return self.envelope.tenantid

    @property
    def key(self) -> str:
        return self.envelope.partitionkey

    def cause(self) -> Cause:
        return Cause(tenant_id=self.envelope.tenantid, actor=f"event:{self.envelope.source}", event=self.envelope,
                     traceparent=self.traceparent)


# A handler applies a run of consecutive new events (of the types it is registered for), in record
# order, inside the batch's transaction (`uow`, not bound to a tenant but scoped to the batch's tenants; each
# delivery's `uow` is bound to its own): it should
# write them with multi-row statements (one round trip, not one per event).
Handler = Callable[[UnitOfWork, list[Delivery]], Awaitable[None]]


class PreparedHandler:
    """A handler in two steps: `prepare(deliveries) -> list` (one value per delivery, in order) runs before the
    batch transaction, outside any transaction: do the outside calls there; `apply(uow, deliveries)` runs
    inside it, with each delivery's value on `delivery.prepared`. Calling the object is `apply`, so it is a
    Handler wherever one is expected."""

    def __init__(self, prepare: Callable[[list[Delivery]], Awaitable[list[Any]]], apply: Handler) -> None:
        self.prepare = prepare
        self.apply = apply

    async def __call__(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await self.apply(uow, deliveries)


class NotPrepared(TransientError):
    """An event found new in the transaction that the prepare step had seen as already applied (its inbox
    row was pruned meanwhile): retry the batch, which prepares it then."""


@dataclass
class Decoded:
    record: ConsumerRecord
    envelope: Envelope | None = None
    event: Event | None = None
    error: str | None = None


def decode_record(record: ConsumerRecord, registry: Registry = REGISTRY) -> Decoded:
    try:
        env = decode_envelope(record.value)
        if record.key is not None and record.key.decode(errors="replace") != env.partitionkey:
            raise EnvelopeError("record key does not match envelope partitionkey")
        tenant_scope([env.tenantid])  # a tenant id no scope can hold (',' or '*') is a bad record
        bound = topic_names.intake_tenant(record.topic)
        if bound is not None and _claims_another_tenant(bound, env, record):
            # the broker let only this tenant's integrator write here: a record naming another tenant is refused
            return Decoded(record, error="tenantid: differs from the tenant of its intake topic")
        return Decoded(record, env, registry.parse(env))
    except EnvelopeError as exc:
        return Decoded(record, error=str(exc))
    except InvalidTenant:
        return Decoded(record, error="tenantid: not a valid tenant id")


_insert_inbox = BulkInsert(inbox, ["event_id", "event_type", "topic"], returning=["event_id"])
_insert_dead_letters = BulkInsert(dead_letters, ["topic", "partition", "offset", "key", "event_id", "event_type",
                                                 "tenant_id", "reason", "payload"])


def consecutive_runs(deliveries: list[Delivery], handlers: dict[str, Handler]) -> list[list[Delivery]]:
    """Split into runs that one handler takes, keeping record order (so per-claim order holds).
    A handler registered for several types gets them together, in order."""
    runs: list[list[Delivery]] = []
    for dv in deliveries:
        if runs and handlers[runs[-1][0].event.event_type()] is handlers[dv.event.event_type()]:
            runs[-1].append(dv)
        else:
            runs.append([dv])
    return runs


def batch_audit_rows(service: str, handlers: dict[str, Handler], fresh: list[Delivery],
                     records: dict[uuid.UUID, ConsumerRecord]) -> list[dict[str, Any]]:
    """The audit trail of a batch (rcm_runtime.audit): for each tenant and each audited handler (`@audited.money`
    and the like on the handler), one row naming the claims (the records' keys), the records (topic, partition
    and offsets) and the count per event type. One row per batch and tenant, not per event: the events themselves
    name every change, and the pipeline pays one chained insert per batch."""
    groups: dict[tuple[str, AuditSpec], tuple[set[str], dict[tuple[str, int], list[int]], dict[str, int]]] = {}
    for dv in fresh:
        spec = route_audit(handlers[dv.event.event_type()])
        if not isinstance(spec, AuditSpec):
            continue
        keys, offsets, types = groups.setdefault((dv.tenant_id, spec), (set(), {}, {}))
        keys.add(str(getattr(dv.event, spec.id_param)) if spec.id_param else dv.key)  # an event field, or the key
        record = records[dv.envelope.id]
        offsets.setdefault((record.topic, record.partition), []).append(record.offset)
        event_type = dv.envelope.type
        types[event_type] = types.get(event_type, 0) + 1
    return [batch_row(tenant_id=tenant, service=service, category=spec.category, action=spec.action,
                      resource_type=spec.resource_type, resource_ids=keys,
                      source=" ".join(f"kafka:{t}/{p}:{min(o)}-{max(o)}" for (t, p), o in sorted(offsets.items())),
                      detail={"events": types})
            # in tenant order: two batches lock their tenants' chain heads in the same order, so never each other's
            for (tenant, spec), (keys, offsets, types) in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1].action))]


def dead_letter_row(d: Decoded, reason: str) -> dict[str, Any]:
    r = d.record
    return {
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "key": r.key.decode(errors="replace") if r.key is not None else None,
        "event_id": str(d.envelope.id) if d.envelope else _header(r, "ce_id"),
        "event_type": d.envelope.type if d.envelope else _header(r, "ce_type"),
        "tenant_id": d.envelope.tenantid if d.envelope else _header(r, "ce_tenantid"),
        "reason": reason,
        "payload": r.value,
    }


def failure_reason(exc: BaseException, attempts: int) -> str:
    """The dead letter's reason for a record whose handler failed with `exc` (not an outage)."""
    if isinstance(exc, (DomainError, ValidationError, EnvelopeError)):
        return safe_reason(exc)  # a permanent rejection, tried once
    return f"handler failed after {attempts} attempts: {safe_reason(exc)}"


def _claims_another_tenant(tenant: str, env: Envelope, record: ConsumerRecord) -> bool:
    """Whether the record's envelope, or its ce_tenantid header if it has one, names a tenant other than `tenant`."""
    header = _header(record, "ce_tenantid")
    return env.tenantid != tenant or (header is not None and header != tenant)


def _header(record: ConsumerRecord, name: str) -> str | None:
    for k, v in record.headers or ():
        if k == name and v is not None:
            return v.decode(errors="replace")[:200]
    return None


@dataclass
class BatchApplier:
    """The transactional core, separate from Kafka so it can be tested and reused directly."""

    engine: AsyncEngine
    handlers: dict[str, Handler]
    service: str
    topic: str
    on_commit: Callable[[], None] = lambda: None
    clock: Clock | None = None
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0

    def __post_init__(self) -> None:
        self.units = UnitsOfWork(self.engine, service=self.service, topic=self.topic, clock=self.clock,
                                 on_commit=self.on_commit)

    def _start_span(self, dv: Delivery):
        env = dv.envelope
        span = start_consumer_span(f"handle {env.type.rsplit('.', 2)[-2]}", env.traceparent, **{
            "rcm.event_id": str(env.id), "rcm.tenant_id": env.tenantid, "rcm.claim_key": env.partitionkey,
            "rcm.service": self.service})
        dv.traceparent = traceparent_of(span, fallback=env.traceparent)
        return span

    def wants(self, d: Decoded) -> bool:
        # Route on the parsed (upcast) type, so a handler for v2 also receives v1 records.
        return d.event is not None and d.event.event_type() in self.handlers

    async def _prepare(self, wanted: list[Decoded]) -> dict[uuid.UUID, Any]:
        """Run the PreparedHandlers' prepare step for the events not applied yet, before any transaction."""
        todo = {d.envelope.id: d for d in wanted if isinstance(self.handlers[d.event.event_type()], PreparedHandler)}
        if not todo:
            return {}
        async with self.engine.connect() as conn:  # a short read: which of them a previous delivery applied
            done = set((await conn.execute(select(inbox.c.event_id).where(inbox.c.event_id.in_(list(todo))))).scalars())
        by_handler: dict[int, tuple[PreparedHandler, list[Delivery]]] = {}
        for eid, d in todo.items():
            if eid not in done:
                handler = self.handlers[d.event.event_type()]
                by_handler.setdefault(id(handler), (handler, []))[1].append(Delivery(d.envelope, d.event))
        prepared: dict[uuid.UUID, Any] = {}
        for handler, deliveries in by_handler.values():
            values = await handler.prepare(deliveries)
            if len(values) != len(deliveries):
                raise RuntimeError("prepare() must return one value per delivery")
            prepared.update((dv.envelope.id, v) for dv, v in zip(deliveries, values))
        return prepared

    async def apply(self, items: list[Decoded], *,
                    within: Callable[[UnitOfWork], Awaitable[None]] | None = None) -> None:
        """One transaction: dead letters for undecodable items, inbox + effects for handled ones (after the
        prepare step of PreparedHandlers, which runs before it). `within(uow)` runs last in the same
        transaction (a redrive marks its dead letter there, so the mark and the effects commit together)."""
        prepared = await self._prepare([d for d in items if self.wants(d)])
        # The batch sees the rows of its records' tenants only: one scope for the whole transaction, set once.
        async with self.units.begin_tenants({d.envelope.tenantid for d in items if d.envelope is not None}) as uow:
            conn = uow.conn
            bad = [dead_letter_row(d, d.error) for d in items if d.error is not None]
            if bad:
                await _insert_dead_letters.execute(conn, PHI.seal_all(dead_letters, bad))
            wanted = [d for d in items if self.wants(d)]
            new_ids: set[uuid.UUID] = set()
            if wanted:
                # Dedupe within the batch too: the same event may sit twice in one poll.
                rows = {d.envelope.id: {"event_id": d.envelope.id, "event_type": d.envelope.type, "topic": d.record.topic} for d in wanted}
                new_ids = {row[0] for row in await _insert_inbox.execute(conn, list(rows.values()))}
            fresh: list[Delivery] = []
            seen: set[uuid.UUID] = set()
            for d in wanted:
                eid = d.envelope.id
                if eid not in new_ids or eid in seen:
                    self.duplicates += 1
                    continue
                seen.add(eid)
                if eid not in prepared and isinstance(self.handlers[d.event.event_type()], PreparedHandler):
                    raise NotPrepared("an event became new after the prepare step; the batch is retried")
                fresh.append(Delivery(d.envelope, d.event, prepared=prepared.get(eid)))
            spans = [self._start_span(dv) for dv in fresh]
            for dv in fresh:
                dv.uow = uow.bind(dv.cause())
            try:
                for run in consecutive_runs(fresh, self.handlers):
                    await self.handlers[run[0].event.event_type()](uow, run)
            finally:
                for span in spans:
                    if span is not None:
                        span.end()
            if within is not None:
                await within(uow)
            # last: the tenants' audit chains stay locked only until the commit
            await append(conn, batch_audit_rows(self.service, self.handlers, fresh,
                                                {d.envelope.id: d.record for d in wanted}))
        self.applied += len(fresh)
        self.dead_lettered += len(bad)

    async def dead_letter(self, d: Decoded, reason: str) -> None:
        async with system_transaction(self.engine) as conn:
            await _insert_dead_letters.execute(conn, PHI.seal_all(dead_letters, [dead_letter_row(d, reason)]))
        self.dead_lettered += 1

    async def apply_with_fallback(self, items: list[Decoded], max_retries: int, backoff_s: float) -> None:
        """Apply the batch; if it fails for a record's sake, each record alone (bounded), dead-lettering the
        ones that still fail. A transient failure (an outage) is raised at once, whichever record met it: the
        caller waits it out and retries the whole batch, which counts against no record."""
        try:
            await self.apply(items)
            return
        except Exception as exc:  # noqa: BLE001 - any handler failure falls back to per-record
            if is_transient(exc):
                raise  # an outage, not a bad record: the loop backs off and retries the batch
            if len(items) > 1:
                log.warning("batch failed; retrying records one by one", extra={"count": len(items), "reason": safe_reason(exc)})
            first_error = exc
        for d in items:
            last: BaseException | None = first_error if len(items) == 1 else None
            attempts = max_retries - (1 if len(items) == 1 else 0)
            if isinstance(last, (DomainError, ValidationError, EnvelopeError)):
                attempts = 0  # a permanent rejection: retrying cannot help
            for attempt in range(attempts):
                try:
                    await self.apply([d])
                    last = None
                    break
                except Exception as exc:  # noqa: BLE001
                    if is_transient(exc):
                        raise
                    last = exc
                    if isinstance(exc, (DomainError, ValidationError, EnvelopeError)):
                        break
                    await asyncio.sleep(backoff_s * (2 ** attempt))
            if last is not None:
                reason = failure_reason(last, max_retries)
                log.error("record dead-lettered", extra={"topic": d.record.topic, "partition": d.record.partition,
                                                          "offset": d.record.offset, "reason": reason})
                await self.dead_letter(d, reason)  # if even this fails the DB is down: caller backs off


def subscription_pattern(topics: list[topic_names.Subscription]) -> str | None:
    """One regular expression for topics given by name and by pattern (None when all are names): Kafka takes
    a list of names or one pattern, not both."""
    if all(isinstance(t, str) for t in topics):
        return None
    return "^(?:" + "|".join(re.escape(t) if isinstance(t, str) else t.pattern for t in topics) + ")$"


class ConsumerLoop:
    def __init__(self, *, engine: AsyncEngine, kafka: KafkaAccess, group_id: str,
                 topics: list[topic_names.Subscription],
                 handlers: dict[str, Handler], service: str, out_topic: str,
                 batch_max: int = 500, max_retries: int = 3, retry_backoff_s: float = 0.2,
                 on_commit: Callable[[], None] = lambda: None, registry: Registry = REGISTRY,
                 client_id: str | None = None, clock: Clock | None = None,
                 outage_backoff: Backoff | None = None, metadata_max_age_ms: int = 30_000) -> None:
        self.kafka = kafka
        self.metadata_max_age_ms = metadata_max_age_ms
        self.group_id = group_id
        self.topics = topics
        self.batch_max = batch_max
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.registry = registry
        self.client_id = client_id or f"{service}-consumer"
        self.applier = BatchApplier(engine, handlers, service, out_topic, on_commit, clock)
        self.consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self.ready = False
        self.backoff = outage_backoff or Backoff()
        self.outage = Outage(log, "consumer")

    @property
    def waiting_out_outage(self) -> bool:
        """True while the loop holds a batch it cannot apply because a dependency is down (/readyz: not ready)."""
        return self.outage.active

    def stop(self) -> None:
        self._stopping.set()

    async def start(self) -> None:
        """Join the group. Raises if the broker cannot be reached (the caller may retry: a fresh client each time)."""
        pattern = subscription_pattern(self.topics)
        consumer = AIOKafkaConsumer(
            *([] if pattern else self.topics),
            **self.kafka.client_options(),
            metadata_max_age_ms=self.metadata_max_age_ms,  # how soon a new tenant's intake topic is read
            group_id=self.group_id,
            client_id=self.client_id,
            enable_auto_commit=False,  # offsets only after the DB commit
            auto_offset_reset="earliest",
            max_poll_records=self.batch_max,
            isolation_level="read_committed",
        )
        if pattern:
            consumer.subscribe(pattern=pattern)
        try:
            await consumer.start()
        except BaseException:
            try:
                await consumer.stop()
            except Exception:  # noqa: BLE001 - the start failure is the one reported
                pass
            raise
        self.consumer = consumer
        self.ready = True

    async def run(self) -> None:
        if self.consumer is None:
            await self.start()
        assert self.consumer is not None
        try:
            while not self._stopping.is_set():
                batches = await self.consumer.getmany(timeout_ms=200, max_records=self.batch_max)
                if not batches:
                    continue
                await self._process(batches)
        finally:
            await self.consumer.stop()
            self.ready = False

    async def _process(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.consumer is not None
        items = [decode_record(r, self.registry) for recs in batches.values() for r in recs]
        t0 = time.perf_counter()
        if not await self.apply_batch(items):
            return  # stopping: offsets not committed, the records come back after restart
        offsets = {tp: recs[-1].offset + 1 for tp, recs in batches.items()}
        try:
            await self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Rebalanced away: the new owner re-reads these records and the inbox drops them.
            log.warning("offset commit failed", extra={"reason": type(exc).__name__})
        log.debug("batch applied", extra={"count": len(items), "duration_ms": round((time.perf_counter() - t0) * 1000, 1)})

    async def apply_batch(self, items: list[Decoded]) -> bool:
        """Apply the batch, waiting out any outage: True once applied (its offsets may be committed), False if
        the loop was stopped first (nothing may be committed). No record is taken meanwhile: the caller polls
        again only after this returns."""
        while True:
            try:
                await self.applier.apply_with_fallback(items, self.max_retries, self.retry_backoff_s)
                break
            except NotPrepared:
                continue  # not an outage: the retry prepares the event that became new
            except Exception as exc:  # noqa: BLE001 - keep the batch, back off, retry
                if is_transient(exc):
                    self.outage.failed(exc)
                else:
                    # Not a record's fault (those are dead-lettered) yet not an outage we know: e.g. writing the
                    # dead letter itself failed. Logged each time, it needs a person; the batch is kept.
                    log.error("cannot apply batch; will retry", extra={"count": len(items), "reason": safe_reason(exc)})
                if await self._stopped_within(self.backoff.next()):
                    return False
        self.backoff.reset()
        self.outage.recovered()
        return True

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            pass
        return self._stopping.is_set()
