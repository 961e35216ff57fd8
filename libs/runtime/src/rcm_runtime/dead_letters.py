"""Dead letters for operators: what is open (and since when), and redrive.

A redrive applies a dead-lettered record again through the consumer's own path: the record is rebuilt from the
kept payload, decoded with the registry and applied by a `BatchApplier` over the service's consumer handlers, one
record per unit of work, so the inbox still de-duplicates (a record the consumer applied meanwhile is not applied
twice). The dead letter is marked `redriven` (who, when) inside that same transaction, so the mark and the effects
commit together, and a second redrive of it finds nothing open: a no-op.

A record that fails again for a permanent reason goes back as a NEW open dead letter with the new reason (the old
one is `redriven` and names it in `redriven_to`). An outage (rcm_runtime.failures.is_transient) leaves the
record open and stops the redrive: the caller answers 503 and the operator tries again later.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterable

from aiokafka import ConsumerRecord
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from rcm_contracts.registry import REGISTRY, Registry
from rcm_runtime.clock import Clock
from rcm_runtime.consumer import BatchApplier, NotPrepared, decode_record, failure_reason
from rcm_runtime.errors import DomainError, NotFound
from rcm_runtime.failures import is_transient, safe_reason
from rcm_runtime.messaging import PHI
from rcm_runtime.messaging import dead_letters as dl
from rcm_runtime.tenant_scope import system_reads, system_transaction
from rcm_runtime.unit_of_work import UnitOfWork

log = logging.getLogger("rcm.dead_letters")

STATUSES = ("open", "redriven", "resolved")
REDRIVE_MAX = 5000  # records one request may redrive (each is its own transaction)
_NOT_PREPARED_TRIES = 3

# What the listing shows: never the payload (it holds PHI) nor the key.
_LISTED = (dl.c.id, dl.c.topic, dl.c.partition, dl.c.offset, dl.c.event_id, dl.c.event_type, dl.c.tenant_id,
           dl.c.reason, dl.c.status, dl.c.created_at, dl.c.closed_by, dl.c.closed_at, dl.c.redriven_to)
_COPIED = ("topic", "partition", "offset", "key", "event_id", "event_type", "tenant_id", "payload")


class InvalidSelection(DomainError):
    code = "invalid_selection"


@dataclass(frozen=True)
class Selection:
    """Which open dead letters a redrive takes: one by id, all of one reason, or all of one event type since a
    time. `event_type` matches as `type_matches` says."""

    id: int | None = None
    reason: str | None = None
    event_type: str | None = None
    since: datetime | None = None

    @classmethod
    def of(cls, *, id: int | None = None, reason: str | None = None, event_type: str | None = None,
           since: datetime | None = None) -> "Selection":
        """Exactly one form: {id} | {reason} | {event_type, since}; anything else is refused, so a typo never
        redrives every dead letter."""
        given = [name for name, v in (("id", id), ("reason", reason), ("event_type", event_type), ("since", since))
                 if v is not None and v != ""]
        if given == ["id"] or given == ["reason"] or sorted(given) == ["event_type", "since"]:
            return cls(id=id, reason=reason or None, event_type=event_type or None, since=since)
        raise InvalidSelection("select dead letters by exactly one of: id; reason; event_type with since "
                               f"(given: {', '.join(given) or 'nothing'})")


_VERSION = re.compile(r"\.v\d+$")


def type_matches(stored: str | None, wanted: str) -> bool:
    """An operator names an event type in full (`org.openrcm.coding.claim-coded.v1`), by its schema name
    (`coding.claim-coded.v1`), by its name and major (`claim-coded.v1`) or by its name alone (`claim-coded`,
    any major)."""
    if not stored or not wanted:
        return False
    if stored == wanted:
        return True
    if _VERSION.search(wanted):  # a name with its major (`claim-coded.v1`, `coding.claim-coded.v1`)
        return stored.endswith("." + wanted)
    return _VERSION.sub("", stored).endswith("." + wanted)


def matching_types(stored: Iterable[str | None], wanted: str) -> list[str]:
    return sorted({t for t in stored if t is not None and type_matches(t, wanted)})


@dataclass
class RedriveResult:
    selected: int = 0
    applied: list[int] = field(default_factory=list)  # applied now
    already_applied: list[int] = field(default_factory=list)  # the inbox had the event: nothing applied twice
    not_handled: list[int] = field(default_factory=list)  # no handler for its type any more: closed as redriven
    failed_again: list[dict[str, Any]] = field(default_factory=list)  # {"id", "new_id", "reason"}
    skipped: list[int] = field(default_factory=list)  # no longer open when its turn came (a concurrent redrive)
    left_open: list[int] = field(default_factory=list)  # not tried: an outage stopped the redrive

    def as_dict(self) -> dict[str, Any]:
        return {"selected": self.selected, "applied": self.applied, "already_applied": self.already_applied,
                "not_handled": self.not_handled, "failed_again": self.failed_again, "skipped": self.skipped,
                "left_open": self.left_open}


class RedriveUnavailable(Exception):
    """An outage stopped the redrive; the record met and the ones after it stay open."""

    def __init__(self, result: RedriveResult, reason: str) -> None:
        super().__init__(reason)
        self.result = result
        self.reason = reason


class _NoLongerOpen(Exception):
    """Raised inside the apply transaction to roll it back: another redrive took the dead letter first."""


class DeadLetters:
    """The ops use cases over one service's dead-letter table. `applier()` gives a BatchApplier over the
    consumer's handlers (the consumer loop's own path)."""

    def __init__(self, engine: AsyncEngine, applier: Callable[[], BatchApplier], clock: Clock,
                 registry: Registry = REGISTRY) -> None:
        self.engine = engine
        self.applier = applier
        self.clock = clock
        self.registry = registry

    async def _types(self, conn, wanted: str, *, open_only: bool) -> list[str]:
        q = select(dl.c.event_type).distinct()
        if open_only:
            q = q.where(dl.c.status == "open")
        return matching_types((await conn.execute(q)).scalars(), wanted)

    async def listing(self, *, status: str | None = None, reason: str | None = None, event_type: str | None = None,
                      since: datetime | None = None, limit: int = 100) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InvalidSelection(f"status must be one of {', '.join(STATUSES)}")
        async with system_reads(self.engine) as conn:
            q = select(*_LISTED)
            if status is not None:
                q = q.where(dl.c.status == status)
            if reason is not None:
                q = q.where(dl.c.reason == reason)
            if event_type is not None:
                q = q.where(dl.c.event_type.in_(await self._types(conn, event_type, open_only=False)))
            if since is not None:
                q = q.where(dl.c.created_at >= since)
            rows = (await conn.execute(q.order_by(dl.c.id.desc()).limit(max(1, min(limit, 1000))))).mappings().all()
        return [dict(r) for r in rows]

    async def summary(self) -> dict[str, Any]:
        """Open dead letters: how many, the oldest's time, and counts by reason and by event type."""
        is_open = dl.c.status == "open"
        async with system_reads(self.engine) as conn:
            n, oldest = (await conn.execute(select(func.count(), func.min(dl.c.created_at)).where(is_open))).one()
            by_reason = (await conn.execute(select(dl.c.reason, func.count()).where(is_open).group_by(dl.c.reason)
                                            .order_by(func.count().desc(), dl.c.reason))).all()
            by_type = (await conn.execute(select(dl.c.event_type, func.count()).where(is_open)
                                          .group_by(dl.c.event_type).order_by(dl.c.event_type))).all()
        return {"open": n, "oldest_at": oldest, "by_reason": {r: c for r, c in by_reason},
                "by_event_type": {(t or "unknown"): c for t, c in by_type}}

    async def _select(self, selection: Selection, limit: int) -> list[int]:
        async with system_reads(self.engine) as conn:
            q = select(dl.c.id).where(dl.c.status == "open")
            if selection.id is not None:
                q = q.where(dl.c.id == selection.id)
            if selection.reason is not None:
                q = q.where(dl.c.reason == selection.reason)
            if selection.event_type is not None:
                q = q.where(dl.c.event_type.in_(await self._types(conn, selection.event_type, open_only=True)))
            if selection.since is not None:
                q = q.where(dl.c.created_at >= selection.since)
            # Oldest first: records of one claim go back in the order they first failed.
            return list((await conn.execute(q.order_by(dl.c.id).limit(limit))).scalars())

    async def redrive(self, selection: Selection, *, operator: str, limit: int = REDRIVE_MAX) -> RedriveResult:
        ids = await self._select(selection, max(1, min(limit, REDRIVE_MAX)))
        result = RedriveResult(selected=len(ids))
        applier = self.applier()
        for i, dl_id in enumerate(ids):
            try:
                await self._redrive_one(dl_id, operator, applier, result)
            except Exception as exc:  # noqa: BLE001 - an outage stops the redrive; anything else is a bug: raised
                if not is_transient(exc):
                    raise
                result.left_open.extend(ids[i:])
                log.warning("redrive stopped by an outage", extra={"reason": safe_reason(exc), "operator": operator,
                                                                  "left_open": len(ids) - i})
                raise RedriveUnavailable(result, safe_reason(exc)) from exc
        log.info("dead letters redriven", extra={"operator": operator, "selected": result.selected,
                                                 "applied": len(result.applied),
                                                 "already_applied": len(result.already_applied),
                                                 "failed_again": len(result.failed_again)})
        return result

    async def _redrive_one(self, dl_id: int, operator: str, applier: BatchApplier, result: RedriveResult) -> None:
        async with system_reads(self.engine) as conn:
            row = PHI.open(dl, (await conn.execute(select(dl).where(dl.c.id == dl_id))).mappings().one())
        if row["status"] != "open":
            result.skipped.append(dl_id)
            return
        if row["payload"] is None:
            # Nothing to apply again: it can only be resolved by hand.
            await self._fail_again(row, "no payload kept for redrive", operator, result)
            return
        record = ConsumerRecord(topic=row["topic"], partition=row["partition"], offset=row["offset"], timestamp=0,
                                timestamp_type=0, key=row["key"].encode() if row["key"] is not None else None,
                                value=row["payload"], checksum=None, serialized_key_size=-1,
                                serialized_value_size=len(row["payload"]), headers=[])
        decoded = decode_record(record, self.registry)
        if decoded.error is not None:
            await self._fail_again(row, decoded.error, operator, result)
            return
        if not applier.wants(decoded):
            # The service no longer handles this type: the consumer would skip it too.
            if await self._mark(dl_id, operator):
                result.not_handled.append(dl_id)
            else:
                result.skipped.append(dl_id)
            return

        async def mark(uow: UnitOfWork) -> None:
            if not await self._mark(dl_id, operator, conn=uow.conn):
                raise _NoLongerOpen()

        applied, duplicates = applier.applied, applier.duplicates
        for attempt in range(_NOT_PREPARED_TRIES):
            try:
                await applier.apply([decoded], within=mark)
                break
            except NotPrepared:
                if attempt == _NOT_PREPARED_TRIES - 1:
                    raise
            except _NoLongerOpen:
                result.skipped.append(dl_id)
                return
            except Exception as exc:  # noqa: BLE001 - an outage is raised; a failure again is dead-lettered again
                if is_transient(exc):
                    raise
                await self._fail_again(row, failure_reason(exc, 1), operator, result)
                return
        if applier.applied > applied:
            result.applied.append(dl_id)
        elif applier.duplicates > duplicates:
            result.already_applied.append(dl_id)

    async def _mark(self, dl_id: int, operator: str, *, conn=None, status: str = "redriven") -> bool:
        """Take the dead letter out of `open` (False if it was not open: someone else did it first)."""
        stmt = (update(dl).where(dl.c.id == dl_id, dl.c.status == "open")
                .values(status=status, closed_by=operator, closed_at=self.clock.now()))
        if conn is not None:
            return (await conn.execute(stmt)).rowcount == 1
        async with system_transaction(self.engine) as own:
            return (await own.execute(stmt)).rowcount == 1

    async def _fail_again(self, row, reason: str, operator: str, result: RedriveResult) -> None:
        """The old row becomes `redriven` and points at a new open row for the same record with the new reason."""
        async with system_transaction(self.engine) as conn:
            if not await self._mark(row["id"], operator, conn=conn):
                result.skipped.append(row["id"])
                return
            again = PHI.seal(dl, {"reason": reason, **{c: row[c] for c in _COPIED}})  # the opened payload, resealed
            new_id = (await conn.execute(insert(dl).values(again).returning(dl.c.id))).scalar_one()
            await conn.execute(update(dl).where(dl.c.id == row["id"]).values(redriven_to=new_id))
        log.error("redriven record failed again", extra={"dead_letter": row["id"], "new_dead_letter": new_id,
                                                         "reason": reason})
        result.failed_again.append({"id": row["id"], "new_id": new_id, "reason": reason})

    async def resolve(self, dl_id: int, *, operator: str) -> dict[str, Any]:
        """Close an open dead letter without redrive (an operator settled it another way)."""
        if not await self._mark(dl_id, operator, status="resolved"):
            async with system_reads(self.engine) as conn:
                status = (await conn.execute(select(dl.c.status).where(dl.c.id == dl_id))).scalar()
            if status is None:
                raise NotFound("no such dead letter")
            return {"id": dl_id, "status": status, "changed": False}
        return {"id": dl_id, "status": "resolved", "changed": True}
