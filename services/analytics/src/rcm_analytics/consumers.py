"""analytics consumes every service's events into claim status rows and timelines."""

import uuid


from rcm_contracts import topics
from rcm_contracts.events import ALL_EVENTS, EncounterSubmitted
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_analytics.db import claim_events, claim_status
from rcm_analytics.domain.lifecycle import facts_from, summary_of

TOPICS = [t for t in topics.ALL if t != topics.INTAKE_ENCOUNTERS]

_insert_events = BulkInsert(claim_events, ["event_id", "claim_id", "tenant_id", "event_type", "source", "occurred_at",
                                           "summary"])
_upserts: dict[frozenset, BulkInsert] = {}


def _upsert_for(keys: frozenset) -> BulkInsert:
    """One cached statement per set of fact columns: facts only ever move a claim forward."""
    if keys not in _upserts:
        sets = [f"{k} = EXCLUDED.{k}" for k in sorted(keys) if k != "stage_rank"] + [
            "stage_rank = GREATEST(claim_status.stage_rank, EXCLUDED.stage_rank)",
            "first_event_at = LEAST(claim_status.first_event_at, EXCLUDED.first_event_at)",
            "last_event_at = GREATEST(claim_status.last_event_at, EXCLUDED.last_event_at)",
        ]
        _upserts[keys] = BulkInsert(claim_status, ["claim_id", "tenant_id", "first_event_at", "last_event_at", *sorted(keys)],
                                    on_conflict="(claim_id) DO UPDATE SET " + ", ".join(sets))
    return _upserts[keys]


STATUS_KEYS = {"claim_id", "tenant_id", "first_event_at", "last_event_at"}


async def on_events(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    """Every event type at once: timeline rows in one insert, then one upsert per set of fact columns.
    Facts merge order-independently, so grouping by type loses nothing; rows are merged per claim
    first, since one statement may not touch a row twice."""
    timeline = []
    status: dict[frozenset, dict[uuid.UUID, dict]] = {}
    for d in deliveries:
        env = d.envelope
        claim_id = uuid.UUID(env.partitionkey)
        timeline.append({"event_id": env.id, "claim_id": claim_id, "tenant_id": env.tenantid, "event_type": env.type,
                         "source": env.source, "occurred_at": env.time, "summary": summary_of(d.event)})
        facts = facts_from(d.event, env.time)
        group = status.setdefault(frozenset(facts), {})
        row = group.get(claim_id)
        if row is None:
            group[claim_id] = {"claim_id": claim_id, "tenant_id": env.tenantid, "first_event_at": env.time,
                               "last_event_at": env.time, **facts}
        else:
            row.update({**facts, "stage_rank": max(row["stage_rank"], facts["stage_rank"]),
                        "first_event_at": min(row["first_event_at"], env.time),
                        "last_event_at": max(row["last_event_at"], env.time)})
    await _insert_events.execute(uow.conn, timeline)
    for keys, rows in status.items():
        await _upsert_for(keys).execute(uow.conn, list(rows.values()))


HANDLERS = {model.event_type(): on_events for model in ALL_EVENTS if model is not EncounterSubmitted}
