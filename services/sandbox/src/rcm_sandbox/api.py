"""The sandbox clearinghouse's HTTP API (what submission's HTTP adapter talks to)."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

from fastapi import APIRouter, Header, HTTPException, Request, Response

from rcm_contracts.wire import Interchange, InterchangeAck
from rcm_runtime.app import RuntimeDep
from rcm_runtime.reads import stage_read_router

from rcm_sandbox.db import payer_claims
from rcm_sandbox.domain.eligibility import Bad270, build_271_interchange, read_270s
from rcm_sandbox.service import receive_interchange

_control_numbers = itertools.count(1)

router = APIRouter(prefix="/v1", tags=["clearinghouse"])


@router.post("/interchanges", response_model=InterchangeAck,
             summary="Submit a claim interchange; answers with the 999 and a 277CA per claim")
async def submit_interchange(body: Interchange, request: Request, rt: RuntimeDep,
                             x_api_key: str | None = Header(default=None)) -> InterchangeAck:
    if x_api_key != rt.settings.clearinghouse_key:
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "unknown submitter key"})
    async with rt.engine.begin() as conn:
        return await receive_interchange(conn, request.app.state.fixtures, body)


@router.post("/eligibility", tags=["payer"], summary="Real-time eligibility: an X12 270 in, a 271 out",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}})
async def eligibility(request: Request, rt: RuntimeDep, x_api_key: str | None = Header(default=None)) -> Response:
    if x_api_key != rt.settings.clearinghouse_key:
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "unknown submitter key"})
    fixtures = request.app.state.fixtures
    try:
        inquiries = read_270s((await request.body()).decode("utf-8", errors="replace"))
    except Bad270 as exc:
        raise HTTPException(400, detail={"code": "invalid_270", "description": str(exc)}) from None
    answers = []
    for inquiry in inquiries:
        payer_id = inquiry.payer[8] if len(inquiry.payer) > 8 else ""
        answers.append((inquiry, fixtures.payers.get(payer_id),
                        fixtures.benefits_for(inquiry.member_id) if inquiry.member_id else None))
    body = build_271_interchange(answers, control_number=next(_control_numbers), now=datetime.now(timezone.utc))
    return Response(content=body, media_type="application/edi-x12")


payer_router = stage_read_router(payer_claims, tag="payer", status_column="status", queue_path="/payer-claims",
                                 queue_default=None, time_column="received_at")
