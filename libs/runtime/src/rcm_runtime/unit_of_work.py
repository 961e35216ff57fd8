"""One unit of work for commands and consumed events.

A use case gets a `UnitOfWork`: the open transaction (`conn`) plus `emit(event, key=)`, with the tenant, the
actor and the cause (the consumed event, its correlation id and trace) already bound. Business state and the
events it causes commit together (transactional outbox), whether the work runs for an API request, for a
consumed Kafka record or for a background loop.

- Commands: the service opens `async with units.begin(tenant_id=..., actor=...) as uow:`.
- Consumers: the consumer loop opens one transaction per batch of records (the inbox rows commit with the
  effects) and hands each `Delivery` a unit bound to that record (`delivery.uow`); all share one connection,
  so a handler still writes a whole batch with one multi-row statement.
- Background loops that act for many tenants open `units.begin_system()` and `bind()` per row.
- Queries outside a unit of work: `units.read(tenant_id)` (`read_system()` for the few cross-tenant ones).

Each opens its transaction in a tenant scope (rcm_runtime.tenant_scope): PostgreSQL's row-level security then
shows and accepts the rows of that tenant only (a batch: of its records' tenants; the system scope: every
tenant), whatever the queries inside forget.

Never call an outside party (payer, clearinghouse) inside a unit of work: call first, then apply the answer
in a short one (DESIGN.md §2 rule 7).
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, AsyncIterator, Callable, Iterable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from rcm_contracts.base import Event
from rcm_contracts.envelope import Envelope
from rcm_runtime.audit import RequestAudit, change_in_progress
from rcm_runtime.clock import Clock, SystemClock
from rcm_runtime.outbox import Emitter
from rcm_runtime.tenant_scope import SYSTEM, enter_scope, system_reads, tenant_reads, tenant_scope

if TYPE_CHECKING:  # pragma: no cover
    from datetime import datetime


@dataclass(frozen=True)
class Cause:
    """Who and what a unit of work acts for: the tenant, the actor (a person, or the system component), and
    the consumed event that caused it, if any (its correlation id and the trace its effects continue)."""

    tenant_id: str
    actor: str
    event: Envelope | None = None
    traceparent: str | None = None
    correlation_id: uuid.UUID | None = None


class UnboundUnitOfWork(RuntimeError):
    """emit() on a unit of work that is not bound to a tenant: a programming error, never bad input."""


class UnitOfWork:
    """The open transaction and the outbox, bound to one cause. `bind()` gives another view of the same
    transaction for another cause (one per record of a consumed batch, one per tenant of a system loop)."""

    __slots__ = ("conn", "cause", "clock", "_outbox", "audited_ids", "audited_detail")

    def __init__(self, conn: AsyncConnection, outbox: Emitter, cause: Cause | None, clock: Clock) -> None:
        self.conn = conn
        self.cause = cause
        self.clock = clock
        self._outbox = outbox
        self.audited_ids: list[str] = []
        self.audited_detail: dict | None = None

    def audit_names(self, *ids: object) -> None:
        """Name what this unit created or changed (e.g. a new file's id) in the audit row of the request it serves
        (rcm_runtime.audit), beside what the route's path names."""
        self.audited_ids.extend(str(i) for i in ids)

    def audit_detail(self, **detail: object) -> None:
        """What the change did (e.g. a status before and after), in the `detail` of the audit row of the request it
        serves. Ids, codes, states and amounts only: never PHI."""
        self.audited_detail = {**(self.audited_detail or {}), **detail}

    @property
    def tenant_id(self) -> str:
        if self.cause is None:
            raise UnboundUnitOfWork("this unit of work is not bound to a tenant")
        return self.cause.tenant_id

    @property
    def actor(self) -> str:
        if self.cause is None:
            raise UnboundUnitOfWork("this unit of work is not bound to an actor")
        return self.cause.actor

    def now(self) -> "datetime":
        return self.clock.now()

    def bind(self, cause: Cause) -> "UnitOfWork":
        return UnitOfWork(self.conn, self._outbox, cause, self.clock)

    def emit(self, event: Event, *, key: uuid.UUID | str | None = None, subject: str | None = None) -> Envelope:
        """Write `event` to the outbox (published after commit), keyed by `key` (the claim id), or by the
        causing event's key when omitted. `subject`: what the event is about when it is not a claim
        (default `claim/<key>`)."""
        cause = self.cause
        if cause is None:
            raise UnboundUnitOfWork("emit() needs a unit of work bound to a tenant")
        if key is None:
            if cause.event is None:
                raise UnboundUnitOfWork("emit() needs a key when no consumed event caused the work")
            key = cause.event.partitionkey
        return self._outbox.emit(event, tenant_id=cause.tenant_id, key=key, cause=cause.event,
                                 correlation_id=cause.correlation_id, traceparent=cause.traceparent, subject=subject)

    def emit_many(self, events: Iterable[tuple[Event, uuid.UUID | str | None]]) -> list[uuid.UUID]:
        """emit() for many (event, key) pairs, in order (a None key: the causing event's), without an Envelope
        model per event: for the thousands of events one command can cause (a posted 835). Returns the ids."""
        cause = self.cause
        if cause is None:
            raise UnboundUnitOfWork("emit_many() needs a unit of work bound to a tenant")

        def keyed():
            for event, key in events:
                if key is None:
                    if cause.event is None:
                        raise UnboundUnitOfWork("emit_many() needs a key when no consumed event caused the work")
                    key = cause.event.partitionkey
                yield event, key
        return self._outbox.emit_many(keyed(), tenant_id=cause.tenant_id, cause=cause.event,
                                      correlation_id=cause.correlation_id, traceparent=cause.traceparent)


class UnitsOfWork:
    """Opens units of work on one service's engine. Built once per process in the composition root."""

    def __init__(self, engine: AsyncEngine, *, service: str, topic: str, clock: Clock | None = None,
                 on_commit: Callable[[], None] = lambda: None) -> None:
        self.engine = engine
        self.service = service
        self.topic = topic
        self.clock: Clock = clock or SystemClock()
        self.on_commit = on_commit

    def outbox(self) -> Emitter:
        return Emitter(self.service, self.topic)

    @asynccontextmanager
    async def _begin(self, cause: Cause | None, scope: str,
                     audit: RequestAudit | None = None) -> AsyncIterator[UnitOfWork]:
        outbox = self.outbox()
        async with self.engine.begin() as conn:
            await enter_scope(conn, scope)
            uow = UnitOfWork(conn, outbox, cause, self.clock)
            yield uow
            wrote = await outbox.flush(conn)
            if audit is not None:  # last: the tenant's audit chain stays locked only until the commit
                await audit.record_change(conn, uow.audited_ids, uow.audited_detail)
        if audit is not None:
            audit.committed += 1
        if wrote:
            self.on_commit()  # wake the relay: publish now rather than at its next poll

    def begin(self, *, tenant_id: str, actor: str, correlation_id: uuid.UUID | None = None):
        """A command's unit of work for one tenant, acting as `actor`. Serving an audited change (rcm_runtime.audit),
        it appends the request's audit row in its transaction."""
        return self._begin(Cause(tenant_id=tenant_id, actor=actor, correlation_id=correlation_id),
                           tenant_scope([tenant_id]), change_in_progress(tenant_id))

    def begin_tenants(self, tenants: Iterable[str]):
        """A unit of work not bound to a tenant, that sees the rows of `tenants` only (a consumer batch of their
        records): `bind()` per record."""
        return self._begin(None, tenant_scope(tenants))

    def begin_system(self):
        """A unit of work not bound to a tenant, in the system scope (a background loop over every tenant's
        rows): `bind()` per row."""
        return self._begin(None, SYSTEM)

    def read(self, tenant_id: str, *more: str):
        """A connection for queries over the rows of these tenants (no transaction held open beyond them,
        nothing emitted)."""
        return tenant_reads(self.engine, tenant_id, *more)

    def read_system(self):
        """read() across every tenant, for the few jobs that act across tenants by design."""
        return system_reads(self.engine)
