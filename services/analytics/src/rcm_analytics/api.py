"""analytics read APIs: a claim's whole timeline, pipeline counts and KPIs."""

from __future__ import annotations

import uuid
from collections import Counter

from fastapi import APIRouter, HTTPException, Query
from sqlalchemy import select

from rcm_runtime.app import RuntimeDep
from rcm_runtime.auth import TenantId
from rcm_runtime.reads import jsonable

from rcm_analytics.db import claim_events, claim_status
from rcm_analytics.domain.lifecycle import derive, kpis

router = APIRouter(prefix="/v1", tags=["analytics"])


@router.get("/claims/{claim_id}", summary="A claim's status across every stage")
async def claim(claim_id: uuid.UUID, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(claim_status).where(claim_status.c.tenant_id == tenant_id,
                                                             claim_status.c.claim_id == claim_id))).mappings().first()
    if row is None:
        raise HTTPException(404, detail={"code": "not_found", "description": "no such claim for this tenant"})
    status = derive(dict(row))
    return {**jsonable(dict(row)), "stage": status.stage, "final_state": status.final_state}


@router.get("/claims/{claim_id}/timeline", summary="Every event of one claim, across all services, in time order")
async def timeline(claim_id: uuid.UUID, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(
            select(claim_events.c.event_id, claim_events.c.event_type, claim_events.c.source, claim_events.c.occurred_at,
                   claim_events.c.summary)
            .where(claim_events.c.tenant_id == tenant_id, claim_events.c.claim_id == claim_id)
            .order_by(claim_events.c.occurred_at))).mappings().all()
    if not rows:
        raise HTTPException(404, detail={"code": "not_found", "description": "no events for this claim and tenant"})
    return {"claim_id": str(claim_id), "events": [jsonable(dict(r)) for r in rows]}


async def _status_rows(rt, tenant_id: str, source_system: str | None = None, limit: int | None = None,
                       offset: int = 0) -> list[dict]:
    stmt = select(claim_status).where(claim_status.c.tenant_id == tenant_id)
    if source_system:
        stmt = stmt.where(claim_status.c.source_system == source_system)
    if limit is not None:
        stmt = stmt.order_by(claim_status.c.first_event_at, claim_status.c.claim_id).limit(limit).offset(offset)
    async with rt.engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(stmt)).mappings()]


@router.get("/claims", summary="Claims with their derived stage and final state (filter by source system)")
async def claims(tenant_id: TenantId, rt: RuntimeDep, source_system: str | None = None,
                 limit: int = Query(1000, ge=1, le=20000), offset: int = Query(0, ge=0)) -> dict:
    rows = await _status_rows(rt, tenant_id, source_system, limit, offset)
    items = []
    for r in rows:
        status = derive(r)
        items.append({**jsonable(r), "stage": status.stage, "final_state": status.final_state})
    return {"items": items, "count": len(items)}


@router.get("/pipeline", summary="How many claims sit at each stage and in each final state")
async def pipeline(tenant_id: TenantId, rt: RuntimeDep, source_system: str | None = None) -> dict:
    rows = await _status_rows(rt, tenant_id, source_system)
    statuses = [derive(r) for r in rows]
    return {
        "claims": len(rows),
        "by_stage": dict(Counter(s.stage for s in statuses)),
        "by_final_state": dict(Counter(s.final_state for s in statuses if s.final_state)),
        "in_flight": sum(1 for s in statuses if s.final_state is None),
    }


@router.get("/kpis", summary="Clean claim, first-pass acceptance, denial and collection rates")
async def kpi(tenant_id: TenantId, rt: RuntimeDep, source_system: str | None = None) -> dict:
    return kpis(await _status_rows(rt, tenant_id, source_system))
