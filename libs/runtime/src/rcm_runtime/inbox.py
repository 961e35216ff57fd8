"""Inbox retention: the inbox keeps a bounded history instead of one row per event forever.

An inbox row exists to recognise a redelivered event. Kafka redelivers only records still in the topic, so
rows older than the topics' retention (7 days by default in Kafka, and in deploy/kafka) can never match
again. The default retention here, 14 days, is twice that; set RCM_INBOX_RETENTION_DAYS to at least the
longest retention of any topic the service consumes (0 keeps every row). Rows are deleted in small batches
(a BRIN index on received_at finds them) so pruning never holds long locks against the consumer.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from rcm_runtime.clock import Clock
from rcm_runtime.polling import poll_forever

log = logging.getLogger("rcm.inbox")

_PRUNE = text(
    "DELETE FROM inbox WHERE event_id IN ("
    " SELECT event_id FROM inbox WHERE received_at < :cutoff LIMIT :batch)"
)


async def prune_inbox(engine: AsyncEngine, clock: Clock, *, retention: timedelta, batch: int = 5000) -> int:
    """Delete up to `batch` inbox rows received before now - `retention`; returns how many went."""
    cutoff = clock.now() - retention
    async with engine.begin() as conn:
        result = await conn.execute(_PRUNE, {"cutoff": cutoff, "batch": batch})
    return result.rowcount or 0


async def prune_inbox_forever(engine: AsyncEngine, clock: Clock, *, retention: timedelta,
                              every_s: float = 3600.0) -> None:
    """Prune continuously while there is a backlog, then once every `every_s` seconds."""
    await poll_forever(lambda: prune_inbox(engine, clock, retention=retention), idle_s=every_s, log=log,
                       what="inbox retention", failure_wait_s=60.0)
