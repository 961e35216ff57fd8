"""The sandbox clearinghouse's HTTP API: 837P in, 999/277CA out (what submission's HTTP adapter talks to),
and the payer's real-time eligibility (270 in, 271 out)."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from sqlalchemy import delete, select

from rcm_runtime.app import RuntimeDep
from rcm_runtime.reads import stage_read_router
from rcm_x12.codec import X12Error, parse_interchange

from rcm_sandbox.db import outbound_files, payer_claims
from rcm_sandbox.domain.eligibility import Bad270, build_271_interchange, read_270s
from rcm_sandbox.service import queue_responses, receive_837

_control_numbers = itertools.count(1)

router = APIRouter(prefix="/v1", tags=["clearinghouse"])


def _require_submitter(rt, key: str | None) -> None:
    if key != rt.settings.clearinghouse_key:
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "unknown submitter key"})


@router.post("/x12/inbound", status_code=202, summary="Submit an 837P interchange (X12 text); the 999 and 277CA "
                                                      "appear in /x12/outbound",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}})
async def inbound(request: Request, rt: RuntimeDep, name: str = Query(..., min_length=1, max_length=100),
                  x_api_key: str | None = Header(default=None)) -> dict:
    _require_submitter(rt, x_api_key)
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        async with rt.engine.begin() as conn:
            files = await receive_837(conn, request.app.state.fixtures, text, name=name)
            await queue_responses(conn, parse_interchange(text).sender_id.strip(), files)
    except X12Error as exc:
        raise HTTPException(400, detail={"code": "not_x12", "description": str(exc)}) from None
    return {"received": name, "responses": [n for n, _ in files]}


@router.get("/x12/outbound", summary="Responses (999, 277CA) waiting to be picked up, oldest first")
async def outbound(rt: RuntimeDep, limit: int = Query(50, ge=1, le=500),
                   x_api_key: str | None = Header(default=None)) -> dict:
    _require_submitter(rt, x_api_key)
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(outbound_files).order_by(outbound_files.c.id).limit(limit))).mappings().all()
    return {"files": [{"id": r["id"], "name": r["name"], "content": r["content"]} for r in rows]}


@router.delete("/x12/outbound/{file_id}", status_code=204, summary="Acknowledge (remove) a picked-up response")
async def acknowledge(file_id: int, rt: RuntimeDep, x_api_key: str | None = Header(default=None)) -> Response:
    _require_submitter(rt, x_api_key)
    async with rt.engine.begin() as conn:
        await conn.execute(delete(outbound_files).where(outbound_files.c.id == file_id))
    return Response(status_code=204)


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
