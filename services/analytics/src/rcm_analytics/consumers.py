"""analytics consumes every service's events into claim status rows and timelines."""

import uuid

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from rcm_contracts import topics
from rcm_contracts.events import ALL_EVENTS, EncounterSubmitted
from rcm_runtime.consumer import BatchContext, Delivery

from rcm_analytics.db import claim_events, claim_status
from rcm_analytics.domain.lifecycle import facts_from, summary_of

TOPICS = [t for t in topics.ALL if t != topics.INTAKE_ENCOUNTERS]

_insert_events = insert(claim_events).on_conflict_do_nothing()
_upserts: dict[frozenset, object] = {}


def _upsert_for(keys: frozenset):
    """One cached statement per set of fact columns: facts only ever move a claim forward."""
    if keys not in _upserts:
        stmt = insert(claim_status)
        updates = {k: stmt.excluded[k] for k in keys if k != "stage_rank"}
        updates["stage_rank"] = func.greatest(claim_status.c.stage_rank, stmt.excluded.stage_rank)
        updates["first_event_at"] = func.least(claim_status.c.first_event_at, stmt.excluded.first_event_at)
        updates["last_event_at"] = func.greatest(claim_status.c.last_event_at, stmt.excluded.last_event_at)
        _upserts[keys] = stmt.on_conflict_do_update(index_elements=[claim_status.c.claim_id], set_=updates)
    return _upserts[keys]


async def on_events(ctx: BatchContext, deliveries: list[Delivery]) -> None:
    """A run of one event type: timeline rows, then one upsert (rows merged per claim, since one
    statement may not touch a row twice)."""
    timeline, status = [], {}
    for d in deliveries:
        env = d.envelope
        claim_id = uuid.UUID(env.partitionkey)
        timeline.append({"event_id": env.id, "claim_id": claim_id, "tenant_id": env.tenantid, "event_type": env.type,
                         "source": env.source, "occurred_at": env.time, "summary": summary_of(d.event)})
        facts = facts_from(d.event, env.time)
        row = status.get(claim_id)
        if row is None:
            status[claim_id] = {"claim_id": claim_id, "tenant_id": env.tenantid, "first_event_at": env.time,
                                "last_event_at": env.time, **facts}
        else:
            row.update(facts)
            row["last_event_at"] = max(row["last_event_at"], env.time)
    await ctx.conn.execute(_insert_events, timeline)
    keys = frozenset(next(iter(status.values())).keys()) - {"claim_id", "tenant_id", "first_event_at", "last_event_at"}
    await ctx.conn.execute(_upsert_for(keys), list(status.values()))


HANDLERS = {model.event_type(): on_events for model in ALL_EVENTS if model is not EncounterSubmitted}
