"""submission APIs: claim status, interchanges, acknowledgment files (and their quarantine), routes,
corrected (7) and void (8) claims, secondary claims, first-pass acceptance. Thin: each route validates the
request and calls a `Submission` use case."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field, ValidationError

from rcm_contracts.claim import Coverage
from rcm_contracts.envelope import describe_validation_error
from rcm_runtime.audit import AGGREGATES, CONFIGURATION, OPERATORS, audited, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.body_limits import body_limit
from rcm_runtime.ops import require_operator
from rcm_runtime.rate_limits import rate_limit
from rcm_runtime.reads import problem, stage_read_router

from rcm_submission.access import needs
from rcm_submission.db import PHI, submissions
from rcm_submission.errors import UnknownClearinghouse
from rcm_submission.service import Submission

reads = stage_read_router(submissions, tag="submission", needs=needs("submissions.read"), status_column="status",
                          queue_path="/submissions", queue_default=None, time_column="queued_at", phi=PHI)
router = APIRouter(prefix="/v1", tags=["submission"])


# Acknowledgment files span tenants (a 999 names no tenant until it is matched): platform operators only, like
# the dead-letter routes (rcm_runtime.ops).
Operator = Depends(require_operator)


@router.get("/interchanges/{icn}", dependencies=[needs("submissions.read")],
            summary="An 837P interchange as sent (X12 text) and its 999 status")
@audited.phi_read("interchange.read", "interchange", id="icn")
async def get_interchange(icn: str, tenant_id: TenantId, submission: Provided[Submission]) -> dict:
    return await submission.interchange(tenant_id, icn)


@router.get("/acceptance", dependencies=[needs("acceptance.read")],
            summary="First-pass acceptance per payer: claims accepted by the 277CA on their first "
                    "submission, never rejected before")
@not_audited(AGGREGATES)
async def acceptance(tenant_id: TenantId, submission: Provided[Submission]) -> dict:
    return await submission.acceptance(tenant_id)


# ---------------------------------------------------------------- acknowledgment files (operators)
@router.post("/acknowledgments", tags=["ops"], summary="Hand in a 999 or 277CA file (or an 835) received out of "
                                                         "band",
             description="For clearinghouses that push responses (or an operator re-feeding a file). A file that "
                         "does not parse, or names nothing we sent, is quarantined with the reason (422) and changes "
                         "no claim. An 835 is forwarded to remittance for the tenant whose claims it pays (status "
                         "forwarded), or quarantined when that tenant is not certain. Every interchange of the "
                         "file is read; `issues` lists what the reader read around or refused (envelope errors, "
                         "warnings, an interchange that is not 5010, a group we never sent), by interchange, "
                         "transaction set and segment position. Platform operators only "
                         "(role operator of the operations tenant).",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}},
             dependencies=[Operator, rate_limit("intake", after=require_operator)])
@body_limit("max_file_body_bytes")
@not_audited(OPERATORS)
async def post_acknowledgment(request: Request, submission: Provided[Submission],
                              clearinghouse: str = Query(..., max_length=64),
                              name: str = Query("pushed", max_length=200)):
    content = (await request.body()).decode("utf-8", errors="replace")
    result = await submission.receive_acknowledgment(clearinghouse, name, content)
    body = {"kind": result.kind, "status": result.status, "reason": result.reason,
            "claims_updated": result.claims_updated, "issues": result.issues}
    if result.status == "quarantined":
        return problem(422, "quarantined", result.reason or "quarantined", [body])
    return body


@router.get("/acknowledgments", tags=["ops"], summary="Response files read, newest first (quarantined ones with "
                                                     "the reason); no content. Platform operators only (role operator of the operations tenant).",
            dependencies=[Operator])
@not_audited(OPERATORS)
async def list_acknowledgments(submission: Provided[Submission], status: str | None = None,
                               limit: int = Query(100, ge=1, le=1000)) -> dict:
    return {"files": await submission.acknowledgment_files(status=status, limit=limit)}


# ---------------------------------------------------------------- routes
class RouteIn(BaseModel):
    clearinghouse: str = Field(min_length=1, max_length=64)


@router.put("/routes/{payer_id}", dependencies=[needs("routes.write")],
            tags=["routes"], summary="Send this payer's claims through a clearinghouse "
                                     "('*' = the tenant's fallback for every other payer)")
@not_audited(CONFIGURATION)
async def put_route(payer_id: str, body: RouteIn, tenant_id: TenantId, submission: Provided[Submission],
                    actor: Actor) -> dict:
    try:
        await submission.set_route(tenant_id=tenant_id, actor=actor, payer_id=payer_id,
                                   clearinghouse=body.clearinghouse)
    except UnknownClearinghouse as exc:
        return problem(422, exc.code, str(exc),
                       [{"field": "clearinghouse", "reason": f"configured: {', '.join(exc.configured)}"}])
    return {"payer_id": payer_id, "clearinghouse": body.clearinghouse}


@router.get("/routes", dependencies=[needs("routes.read")], tags=["routes"], summary="The tenant's routes")
@not_audited(CONFIGURATION)
async def list_routes(tenant_id: TenantId, submission: Provided[Submission]) -> dict:
    return await submission.routes(tenant_id)


@router.delete("/routes/{payer_id}", dependencies=[needs("routes.write")],
               tags=["routes"], status_code=204, summary="Remove a route")
@not_audited(CONFIGURATION)
async def delete_route(payer_id: str, tenant_id: TenantId, submission: Provided[Submission], actor: Actor):
    await submission.remove_route(tenant_id=tenant_id, actor=actor, payer_id=payer_id)
    return Response(status_code=204)


# ---------------------------------------------------------------- corrections and secondary claims
class Correction(BaseModel):
    frequency_code: Literal["7", "8"] = Field(description="7 replaces the accepted claim, 8 voids it")
    changes: dict[str, Any] | None = Field(default=None, description="corrected claim fields (7 only)")
    note: str | None = Field(default=None, max_length=500)


@router.post("/claims/{claim_id}/corrections", dependencies=[needs("claims.correct")],
             summary="Replace (7) or void (8) a claim the payer accepted: it goes "
                     "out again naming the payer's claim number (REF*F8)")
@audited.money("claim.correct", "claim", id="claim_id")
async def correct_claim(claim_id: uuid.UUID, body: Correction, tenant_id: TenantId, submission: Provided[Submission],
                        actor: Actor):
    try:
        claim = await submission.correct(tenant_id=tenant_id, actor=actor, claim_id=claim_id,
                                         frequency=body.frequency_code, changes=body.changes, note=body.note)
    except ValidationError as exc:
        return problem(422, "invalid_claim", describe_validation_error(exc))
    return {"claim_id": str(claim_id), "status": "queued", "frequency_code": claim.frequency_code,
            "original_claim_number": claim.original_claim_number}


class SecondaryIn(BaseModel):
    coverage: Coverage


@router.post("/claims/{claim_id}/secondary", dependencies=[needs("claims.secondary")], status_code=201,
             summary="Bill the secondary payer once the primary has paid or denied (2320/2330 carry the primary's "
                     "payment and adjustments)")
@audited.money("claim.secondary", "claim", id="claim_id")
async def secondary_claim(claim_id: uuid.UUID, body: SecondaryIn, tenant_id: TenantId,
                          submission: Provided[Submission], actor: Actor):
    try:
        claim = await submission.bill_secondary(tenant_id=tenant_id, actor=actor, claim_id=claim_id,
                                                coverage=body.coverage.model_dump(mode="json"))
    except ValidationError as exc:
        return problem(422, "invalid_claim", describe_validation_error(exc))
    return {"claim_id": str(claim.claim_id), "primary_claim_id": str(claim_id), "status": "queued",
            "payer_id": claim.coverage.payer_id}


@router.get("/claims/{claim_id}/audit", dependencies=[needs("claims.audit.read")],
            summary="Corrections, voids and secondary claims started by people")
@audited.phi_read("claims.audit.read", "claim", id="claim_id")
async def claim_audit(claim_id: uuid.UUID, tenant_id: TenantId, submission: Provided[Submission]) -> dict:
    return {"claim_id": str(claim_id), "actions": await submission.claim_audit(tenant_id, claim_id)}
