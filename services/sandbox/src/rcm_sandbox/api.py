"""The sandbox clearinghouse's HTTP API: 837P in, 999/277CA out (what submission's HTTP adapter talks to),
and the payer's real-time eligibility (270 in, 271 out). Thin: each route checks the submitter key and calls
a `Sandbox` use case."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response

from rcm_runtime.audit import SIMULATOR, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.body_limits import body_limit
from rcm_runtime.reads import stage_read_router
from rcm_x12.codec import X12Error

from rcm_sandbox.access import needs
from rcm_sandbox.db import PHI, payer_claims
from rcm_sandbox.domain.eligibility import Bad270
from rcm_sandbox.service import Sandbox

router = APIRouter(prefix="/v1", tags=["clearinghouse"])


def _require_submitter(sandbox: Provided[Sandbox], x_api_key: str | None = Header(default=None)) -> None:
    if not sandbox.is_submitter(x_api_key):
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "unknown submitter key"})


Submitter = Depends(_require_submitter)


@router.post("/x12/inbound", status_code=202, summary="Submit an 837P interchange (X12 text); the 999 and 277CA "
                                                      "appear in /x12/outbound",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}},
             dependencies=[Submitter])
@body_limit("max_file_body_bytes")
@not_audited(SIMULATOR)
async def inbound(request: Request, sandbox: Provided[Sandbox],
                  name: str = Query(..., min_length=1, max_length=100)) -> dict:
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        responses = await sandbox.receive_interchange(text, name=name)
    except X12Error as exc:
        raise HTTPException(400, detail={"code": "not_x12", "description": str(exc)}) from None
    return {"received": name, "responses": responses}


@router.get("/x12/outbound", summary="Responses (999, 277CA) waiting to be picked up, oldest first",
            dependencies=[Submitter])
@not_audited(SIMULATOR)
async def outbound(sandbox: Provided[Sandbox], limit: int = Query(50, ge=1, le=500)) -> dict:
    return {"files": await sandbox.outbound(limit)}


@router.delete("/x12/outbound/{file_id}", status_code=204, summary="Acknowledge (remove) a picked-up response",
               dependencies=[Submitter])
@not_audited(SIMULATOR)
async def acknowledge(file_id: int, sandbox: Provided[Sandbox]) -> Response:
    await sandbox.picked_up(file_id)
    return Response(status_code=204)


@router.post("/eligibility", tags=["payer"], summary="Real-time eligibility: an X12 270 in, a 271 out",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}},
             dependencies=[Submitter])
@not_audited(SIMULATOR)
async def eligibility(request: Request, sandbox: Provided[Sandbox]) -> Response:
    try:
        body = sandbox.eligibility((await request.body()).decode("utf-8", errors="replace"))
    except Bad270 as exc:
        raise HTTPException(400, detail={"code": "invalid_270", "description": str(exc)}) from None
    return Response(content=body, media_type="application/edi-x12")


payer_router = stage_read_router(payer_claims, tag="payer", needs=needs("payer_claims.read"), status_column="status",
                                 queue_path="/payer-claims", queue_default=None, time_column="received_at", phi=PHI)
