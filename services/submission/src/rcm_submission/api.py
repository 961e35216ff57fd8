"""submission APIs: claim status, interchanges, acknowledgment files (and their quarantine), routes,
corrected (7) and void (8) claims, secondary claims, first-pass acceptance."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.claim import Coverage
from rcm_contracts.envelope import describe_validation_error
from rcm_runtime.app import RuntimeDep
from rcm_runtime.auth import TenantId
from rcm_runtime.reads import jsonable, problem, stage_read_router

from rcm_submission.db import acknowledgment_files, clearinghouse_routes, interchanges, submission_audit, submissions
from rcm_submission.domain.routing import FALLBACK
from rcm_submission.service import first_pass_summary, process_acknowledgment, queue_secondary, resubmit_corrected

reads = stage_read_router(submissions, tag="submission", status_column="status", queue_path="/submissions",
                          queue_default=None, time_column="queued_at")
router = APIRouter(prefix="/v1", tags=["submission"])
Actor = Annotated[str, Header(alias="X-User", min_length=1, max_length=128,
                              description="the person making an audited change")]


def _require_ops(request: Request, rt) -> None:
    if request.headers.get("x-ops-key") != rt.settings.ops_api_key:
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "needs the ops key (X-Ops-Key)"})


@router.get("/interchanges/{icn}", summary="An 837P interchange as sent (X12 text) and its 999 status")
async def get_interchange(icn: str, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        row = (await conn.execute(select(interchanges).where(
            interchanges.c.tenant_id == tenant_id, interchanges.c.interchange_control_number == icn))).mappings().first()
    if row is None:
        return problem(404, "not_found", "no such interchange for this tenant")
    return jsonable(dict(row))


@router.get("/acceptance", summary="First-pass acceptance per payer: claims accepted by the 277CA on their first "
                                   "submission, never rejected before")
async def acceptance(tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        payers = await first_pass_summary(conn, tenant_id)
    acknowledged = sum(p["acknowledged"] for p in payers)
    first = sum(p["first_pass_accepted"] for p in payers)
    return {"acknowledged": acknowledged, "first_pass_accepted": first,
            "first_pass_rate": round(first / acknowledged, 4) if acknowledged else None, "payers": payers}


# ---------------------------------------------------------------- acknowledgment files (operators)
@router.post("/acknowledgments", tags=["ops"], summary="Hand in a 999 or 277CA file received out of band",
             description="For clearinghouses that push responses (or an operator re-feeding a file). A file that "
                         "does not parse, or names nothing we sent, is quarantined with the reason (422) and changes "
                         "no claim. Needs the ops key.",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}})
async def post_acknowledgment(request: Request, rt: RuntimeDep, clearinghouse: str = Query(..., max_length=64),
                              name: str = Query("pushed", max_length=200)):
    _require_ops(request, rt)
    content = (await request.body()).decode("utf-8", errors="replace")
    async with rt.transaction() as tx:
        result = await process_acknowledgment(tx, clearinghouse, name, content)
    body = {"kind": result.kind, "status": result.status, "reason": result.reason,
            "claims_updated": result.claims_updated}
    if result.status == "quarantined":
        return problem(422, "quarantined", result.reason or "quarantined", [body])
    return body


@router.get("/acknowledgments", tags=["ops"], summary="Response files read, newest first (quarantined ones with "
                                                     "the reason); no content. Needs the ops key.")
async def list_acknowledgments(request: Request, rt: RuntimeDep, status: str | None = None,
                               limit: int = Query(100, ge=1, le=1000)) -> dict:
    _require_ops(request, rt)
    cols = [c for c in acknowledgment_files.c if c.name != "content"]
    stmt = select(*cols)
    if status:
        stmt = stmt.where(acknowledgment_files.c.status == status)
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(acknowledgment_files.c.id.desc()).limit(limit))).mappings().all()
    return {"files": [jsonable(dict(r)) for r in rows]}


# ---------------------------------------------------------------- routes
class RouteIn(BaseModel):
    clearinghouse: str = Field(min_length=1, max_length=64)


@router.put("/routes/{payer_id}", tags=["routes"], summary="Send this payer's claims through a clearinghouse "
                                                           "('*' = the tenant's fallback for every other payer)")
async def put_route(payer_id: str, body: RouteIn, request: Request, tenant_id: TenantId, rt: RuntimeDep,
                    actor: Actor) -> dict:
    known = request.app.state.adapters(rt)
    if body.clearinghouse not in known:
        return problem(422, "unknown_clearinghouse", "no connection with this name is configured",
                       [{"field": "clearinghouse", "reason": f"configured: {', '.join(sorted(known))}"}])
    stmt = pg_insert(clearinghouse_routes).values(tenant_id=tenant_id, payer_id=payer_id,
                                                  clearinghouse=body.clearinghouse, updated_by=actor)
    async with rt.engine.begin() as conn:
        await conn.execute(stmt.on_conflict_do_update(
            index_elements=[clearinghouse_routes.c.tenant_id, clearinghouse_routes.c.payer_id],
            set_={"clearinghouse": body.clearinghouse, "updated_by": actor}))
    return {"payer_id": payer_id, "clearinghouse": body.clearinghouse}


@router.get("/routes", tags=["routes"], summary="The tenant's routes")
async def list_routes(tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(clearinghouse_routes).where(
            clearinghouse_routes.c.tenant_id == tenant_id).order_by(clearinghouse_routes.c.payer_id))).mappings().all()
    return {"fallback": FALLBACK, "routes": [jsonable(dict(r)) for r in rows]}


@router.delete("/routes/{payer_id}", tags=["routes"], status_code=204, summary="Remove a route")
async def delete_route(payer_id: str, tenant_id: TenantId, rt: RuntimeDep, actor: Actor):
    async with rt.engine.begin() as conn:
        await conn.execute(delete(clearinghouse_routes).where(
            clearinghouse_routes.c.tenant_id == tenant_id, clearinghouse_routes.c.payer_id == payer_id))
    return Response(status_code=204)


# ---------------------------------------------------------------- corrections and secondary claims
class Correction(BaseModel):
    frequency_code: Literal["7", "8"] = Field(description="7 replaces the accepted claim, 8 voids it")
    changes: dict[str, Any] | None = Field(default=None, description="corrected claim fields (7 only)")
    note: str | None = Field(default=None, max_length=500)


async def _audit(conn, tenant_id: str, claim_id: uuid.UUID, actor: str, action: str, detail: dict) -> None:
    await conn.execute(submission_audit.insert().values(claim_id=claim_id, tenant_id=tenant_id, actor=actor,
                                                        action=action, detail=detail))


@router.post("/claims/{claim_id}/corrections", summary="Replace (7) or void (8) a claim the payer accepted: it goes "
                                                       "out again naming the payer's claim number (REF*F8)")
async def correct_claim(claim_id: uuid.UUID, body: Correction, tenant_id: TenantId, rt: RuntimeDep, actor: Actor):
    try:
        async with rt.engine.begin() as conn:
            claim = await resubmit_corrected(conn, tenant_id=tenant_id, claim_id=claim_id,
                                             frequency=body.frequency_code, changes=body.changes)
            await _audit(conn, tenant_id, claim_id, actor, f"frequency_{body.frequency_code}",
                         {"note": body.note, "changed": sorted((body.changes or {}).keys())})
    except ValidationError as exc:
        return problem(422, "invalid_claim", describe_validation_error(exc))
    return {"claim_id": str(claim_id), "status": "queued", "frequency_code": claim.frequency_code,
            "original_claim_number": claim.original_claim_number}


class SecondaryIn(BaseModel):
    coverage: Coverage


@router.post("/claims/{claim_id}/secondary", status_code=201,
             summary="Bill the secondary payer once the primary has paid or denied (2320/2330 carry the primary's "
                     "payment and adjustments)")
async def secondary_claim(claim_id: uuid.UUID, body: SecondaryIn, tenant_id: TenantId, rt: RuntimeDep, actor: Actor):
    try:
        async with rt.engine.begin() as conn:
            claim = await queue_secondary(conn, tenant_id=tenant_id, claim_id=claim_id,
                                          coverage=body.coverage.model_dump(mode="json"))
            await _audit(conn, tenant_id, claim_id, actor, "secondary", {"secondary_claim_id": str(claim.claim_id)})
    except ValidationError as exc:
        return problem(422, "invalid_claim", describe_validation_error(exc))
    return {"claim_id": str(claim.claim_id), "primary_claim_id": str(claim_id), "status": "queued",
            "payer_id": claim.coverage.payer_id}


@router.get("/claims/{claim_id}/audit", summary="Corrections, voids and secondary claims started by people")
async def claim_audit(claim_id: uuid.UUID, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(submission_audit).where(
            submission_audit.c.tenant_id == tenant_id, submission_audit.c.claim_id == claim_id)
            .order_by(submission_audit.c.id))).mappings().all()
    return {"claim_id": str(claim_id), "actions": [jsonable(dict(r)) for r in rows]}


