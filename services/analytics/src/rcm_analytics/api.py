"""analytics read APIs: a claim's whole timeline, pipeline counts and KPIs."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Query

from rcm_runtime.audit import AGGREGATES, audited, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.auth import TenantId
from rcm_runtime.reads import jsonable

from rcm_analytics.access import needs
from rcm_analytics.service import Analytics

router = APIRouter(prefix="/v1", tags=["analytics"])


@router.get("/claims/{claim_id}", dependencies=[needs("claims.read")], summary="A claim's status across every stage")
@audited.phi_read("analytics.claim.read", "claim", id="claim_id")
async def claim(claim_id: uuid.UUID, tenant_id: TenantId, analytics: Provided[Analytics]) -> dict:
    row = await analytics.claim(tenant_id, claim_id)
    if row is None:
        raise HTTPException(404, detail={"code": "not_found", "description": "no such claim for this tenant"})
    return jsonable(row)


@router.get("/claims/{claim_id}/timeline", dependencies=[needs("claims.read")],
            summary="Every event of one claim, across all services, in time order")
@audited.phi_read("analytics.timeline.read", "claim", id="claim_id")
async def timeline(claim_id: uuid.UUID, tenant_id: TenantId, analytics: Provided[Analytics]) -> dict:
    events = await analytics.timeline(tenant_id, claim_id)
    if not events:
        raise HTTPException(404, detail={"code": "not_found", "description": "no events for this claim and tenant"})
    return {"claim_id": str(claim_id), "events": [jsonable(e) for e in events]}


@router.get("/claims", dependencies=[needs("claims.read")],
            summary="Claims with their derived stage and final state (filter by source system)")
@audited.phi_read("analytics.claims.read", "claim")
async def claims(tenant_id: TenantId, analytics: Provided[Analytics], source_system: str | None = None,
                 limit: int = Query(1000, ge=1, le=20000), offset: int = Query(0, ge=0)) -> dict:
    items = [jsonable(r) for r in await analytics.claims(tenant_id, source_system=source_system, limit=limit,
                                                         offset=offset)]
    return {"items": items, "count": len(items)}


@router.get("/pipeline", dependencies=[needs("kpis.read")],
            summary="How many claims sit at each stage and in each final state")
@not_audited(AGGREGATES)
async def pipeline(tenant_id: TenantId, analytics: Provided[Analytics], source_system: str | None = None) -> dict:
    return await analytics.pipeline(tenant_id, source_system=source_system)


@router.get("/kpis", dependencies=[needs("kpis.read")],
            summary="Clean claim, first-pass acceptance, denial and collection rates")
@not_audited(AGGREGATES)
async def kpi(tenant_id: TenantId, analytics: Provided[Analytics], source_system: str | None = None) -> dict:
    return await analytics.kpis(tenant_id, source_system=source_system)
