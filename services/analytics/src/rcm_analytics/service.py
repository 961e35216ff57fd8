"""analytics use cases: fold every service's events into claim status rows and timelines (consumer), and
answer the read APIs (a claim, its timeline, claim listing, pipeline counts, KPIs)."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any, Sequence

from sqlalchemy import select, text

from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_contracts.events import PaymentPosted, PaymentReversed

from rcm_analytics.db import claim_events, claim_payments, claim_status
from rcm_analytics.domain.lifecycle import derive, facts_from, kpis, running_payments, summary_of

_insert_events = BulkInsert(claim_events, ["event_id", "claim_id", "tenant_id", "event_type", "source", "occurred_at",
                                           "summary"])
_insert_payments = BulkInsert(claim_payments, ["tenant_id", "remittance_id", "claim_id", "kind", "reversed_remittance_id",
                                               "outcome", "paid_amount", "allowed_amount", "patient_responsibility",
                                               "patient_responsibility_total"],
                              on_conflict="(tenant_id, remittance_id) DO NOTHING")  # a repost counts once
_claim_payments = text(
    "SELECT p.tenant_id, p.claim_id, p.remittance_id, p.kind, p.reversed_remittance_id, p.outcome, p.paid_amount, "
    "p.allowed_amount, p.patient_responsibility, p.patient_responsibility_total FROM claim_payments p "
    "JOIN unnest(CAST(:tenants AS text[]), CAST(:claims AS uuid[])) AS k(tenant_id, claim_id) "
    "ON p.tenant_id = k.tenant_id AND p.claim_id = k.claim_id ORDER BY p.seq")
_set_payments = text(
    "UPDATE claim_status c SET paid_amount = u.paid, allowed_amount = u.allowed, patient_responsibility = u.patient, "
    "payment_outcome = u.outcome FROM unnest(CAST(:tenants AS text[]), CAST(:claims AS uuid[]), "
    "CAST(:paid AS numeric(12,2)[]), CAST(:allowed AS numeric(12,2)[]), CAST(:patient AS numeric(12,2)[]), "
    "CAST(:outcomes AS text[])) AS u(tenant_id, claim_id, paid, allowed, patient, outcome) "
    "WHERE c.tenant_id = u.tenant_id AND c.claim_id = u.claim_id")


def _payment_row(tenant_id: str, event) -> dict:
    if isinstance(event, PaymentReversed):
        return {"tenant_id": tenant_id, "remittance_id": event.remittance_id, "claim_id": event.claim_id,
                "kind": "reversal", "reversed_remittance_id": event.reversed_remittance_id, "outcome": None,
                "paid_amount": event.paid_amount, "allowed_amount": None,
                "patient_responsibility": event.patient_responsibility,
                "patient_responsibility_total": event.patient_responsibility_total}
    return {"tenant_id": tenant_id, "remittance_id": event.remittance_id, "claim_id": event.claim_id, "kind": "payment",
            "reversed_remittance_id": None, "outcome": event.outcome, "paid_amount": event.paid_amount,
            "allowed_amount": event.allowed_amount, "patient_responsibility": event.patient_responsibility,
            "patient_responsibility_total": event.patient_responsibility_total}


def _upsert(keys: frozenset) -> BulkInsert:
    """The statement for one set of fact columns: facts only ever move a claim forward."""
    sets = [f"{k} = EXCLUDED.{k}" for k in sorted(keys) if k != "stage_rank"] + [
        "stage_rank = GREATEST(claim_status.stage_rank, EXCLUDED.stage_rank)",
        "first_event_at = LEAST(claim_status.first_event_at, EXCLUDED.first_event_at)",
        "last_event_at = GREATEST(claim_status.last_event_at, EXCLUDED.last_event_at)",
    ]
    return BulkInsert(claim_status, ["claim_id", "tenant_id", "first_event_at", "last_event_at", *sorted(keys)],
                      on_conflict="(tenant_id, claim_id) DO UPDATE SET " + ", ".join(sets))


class Analytics:
    """analytics' use cases, built once in the composition root (which also owns the cache of upsert
    statements, one per set of fact columns)."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units
        self._upserts: dict[frozenset, BulkInsert] = {}

    def _upsert_for(self, keys: frozenset) -> BulkInsert:
        statement = self._upserts.get(keys)
        if statement is None:
            statement = self._upserts[keys] = _upsert(keys)
        return statement

    # ------------------------------------------------------------ consumed events
    async def record_events(self, deliveries: Sequence[Delivery]) -> None:
        """Every event type at once (each delivery with its unit of work; all share one connection):
        timeline rows in one insert, then one upsert per set of fact columns. Facts merge
        order-independently, so grouping by type loses nothing; rows are merged per (tenant, claim) first, since
        one statement may not touch a row twice. The read model is keyed by (tenant, claim): another tenant's
        event naming the same claim id is its own row and never merges into this tenant's."""
        if not deliveries:
            return
        timeline = []
        status: dict[frozenset, dict[tuple[str, uuid.UUID], dict]] = {}
        for d in deliveries:
            env = d.envelope
            claim_id = uuid.UUID(env.partitionkey)
            timeline.append({"event_id": env.id, "claim_id": claim_id, "tenant_id": env.tenantid,
                             "event_type": env.type, "source": env.source, "occurred_at": env.time,
                             "summary": summary_of(d.event)})
            if getattr(d.event, "claim_id", claim_id) != claim_id:
                continue  # about a related claim (a secondary claim, keyed by its primary): timeline only
            facts = facts_from(d.event, env.time)
            group = status.setdefault(frozenset(facts), {})
            row = group.get((env.tenantid, claim_id))
            if row is None:
                group[(env.tenantid, claim_id)] = {"claim_id": claim_id, "tenant_id": env.tenantid, "first_event_at": env.time,
                                   "last_event_at": env.time, **facts}
            else:
                row.update({**facts, "stage_rank": max(row.get("stage_rank", 0), facts.get("stage_rank", 0)),
                            "first_event_at": min(row["first_event_at"], env.time),
                            "last_event_at": max(row["last_event_at"], env.time)})
        conn = deliveries[0].uow.conn
        await _insert_events.execute(conn, timeline)
        for keys, rows in status.items():
            await self._upsert_for(keys).execute(conn, list(rows.values()))
        await self._fold_payments(conn, [d for d in deliveries if isinstance(d.event, (PaymentPosted, PaymentReversed))])

    async def _fold_payments(self, conn, deliveries: Sequence[Delivery]) -> None:
        """Every payment and reversal counts (not the last payment alone): one insert into claim_payments, one
        select of the touched claims' payments, one update of their status rows with the running figures
        (`running_payments`). Idempotent: a repost of a remittance is not inserted again, and the figures are
        recomputed from all of a claim's rows, so applying a batch twice gives the same numbers."""
        if not deliveries:
            return
        await _insert_payments.execute(conn, [_payment_row(d.envelope.tenantid, d.event) for d in deliveries])
        keys = sorted({(d.envelope.tenantid, d.event.claim_id) for d in deliveries}, key=str)
        by_claim: dict[tuple[str, uuid.UUID], list[dict]] = {k: [] for k in keys}
        for r in (await conn.execute(_claim_payments, {"tenants": [k[0] for k in keys],
                                                        "claims": [k[1] for k in keys]})).mappings():
            by_claim[(r["tenant_id"], r["claim_id"])].append(dict(r))
        figures = [running_payments(by_claim[k]) for k in keys]
        await conn.execute(_set_payments, {"tenants": [k[0] for k in keys], "claims": [k[1] for k in keys],
                                           "paid": [f["paid_amount"] for f in figures],
                                           "allowed": [f["allowed_amount"] for f in figures],
                                           "patient": [f["patient_responsibility"] for f in figures],
                                           "outcomes": [f["payment_outcome"] for f in figures]})

    # ------------------------------------------------------------ reads (one tenant each)
    async def claim(self, tenant_id: str, claim_id: uuid.UUID) -> dict[str, Any] | None:
        """The claim's status row with its derived stage and final state; None if the tenant has no such claim."""
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(select(claim_status).where(
                claim_status.c.tenant_id == tenant_id, claim_status.c.claim_id == claim_id))).mappings().first()
        return None if row is None else _with_status(dict(row))

    async def timeline(self, tenant_id: str, claim_id: uuid.UUID) -> list[dict[str, Any]]:
        """Every event of the claim, in time order (empty if the tenant has none)."""
        async with self.units.read(tenant_id) as conn:
            rows = (await conn.execute(
                select(claim_events.c.event_id, claim_events.c.event_type, claim_events.c.source,
                       claim_events.c.occurred_at, claim_events.c.summary)
                .where(claim_events.c.tenant_id == tenant_id, claim_events.c.claim_id == claim_id)
                .order_by(claim_events.c.occurred_at))).mappings().all()
        return [dict(r) for r in rows]

    async def claims(self, tenant_id: str, *, source_system: str | None, limit: int, offset: int) -> list[dict[str, Any]]:
        """Claims (oldest first) with their derived stage and final state."""
        return [_with_status(r) for r in await self._status_rows(tenant_id, source_system, limit, offset)]

    async def pipeline(self, tenant_id: str, *, source_system: str | None) -> dict[str, Any]:
        rows = await self._status_rows(tenant_id, source_system)
        statuses = [derive(r) for r in rows]
        return {
            "claims": len(rows),
            "by_stage": dict(Counter(s.stage for s in statuses)),
            "by_final_state": dict(Counter(s.final_state for s in statuses if s.final_state)),
            "in_flight": sum(1 for s in statuses if s.final_state is None),
        }

    async def kpis(self, tenant_id: str, *, source_system: str | None) -> dict[str, Any]:
        return kpis(await self._status_rows(tenant_id, source_system))

    async def _status_rows(self, tenant_id: str, source_system: str | None = None, limit: int | None = None,
                           offset: int = 0) -> list[dict[str, Any]]:
        stmt = select(claim_status).where(claim_status.c.tenant_id == tenant_id)
        if source_system:
            stmt = stmt.where(claim_status.c.source_system == source_system)
        if limit is not None:
            stmt = stmt.order_by(claim_status.c.first_event_at, claim_status.c.claim_id).limit(limit).offset(offset)
        async with self.units.read(tenant_id) as conn:
            return [dict(r) for r in (await conn.execute(stmt)).mappings()]


def _with_status(row: dict[str, Any]) -> dict[str, Any]:
    status = derive(row)
    return {**row, "stage": status.stage, "final_state": status.final_state}
