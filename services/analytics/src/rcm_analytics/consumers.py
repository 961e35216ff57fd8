"""analytics consumes every service's events into claim status rows and timelines."""

import uuid

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert

from rcm_contracts import topics
from rcm_contracts.events import ALL_EVENTS, EncounterSubmitted
from rcm_runtime.consumer import HandlerContext

from rcm_analytics.db import claim_events, claim_status
from rcm_analytics.domain.lifecycle import facts_from, summary_of

TOPICS = [t for t in topics.ALL if t != topics.INTAKE_ENCOUNTERS]


async def on_any_event(ctx: HandlerContext, event) -> None:
    env = ctx.envelope
    claim_id = uuid.UUID(env.partitionkey)
    await ctx.conn.execute(
        insert(claim_events).values(event_id=env.id, claim_id=claim_id, tenant_id=env.tenantid, event_type=env.type,
                                    source=env.source, occurred_at=env.time, summary=summary_of(event))
        .on_conflict_do_nothing()
    )
    facts = facts_from(event, env.time)
    stmt = insert(claim_status).values(claim_id=claim_id, tenant_id=env.tenantid, first_event_at=env.time,
                                       last_event_at=env.time, **facts)
    updates = {k: stmt.excluded[k] for k in facts if k != "stage_rank"}
    updates["stage_rank"] = func.greatest(claim_status.c.stage_rank, stmt.excluded.stage_rank)
    updates["first_event_at"] = func.least(claim_status.c.first_event_at, stmt.excluded.first_event_at)
    updates["last_event_at"] = func.greatest(claim_status.c.last_event_at, stmt.excluded.last_event_at)
    await ctx.conn.execute(stmt.on_conflict_do_update(index_elements=[claim_status.c.claim_id], set_=updates))


HANDLERS = {model.event_type(): on_any_event for model in ALL_EVENTS if model is not EncounterSubmitted}
