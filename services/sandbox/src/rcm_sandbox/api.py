"""The sandbox clearinghouse's HTTP API (what submission's HTTP adapter talks to)."""

from __future__ import annotations

from fastapi import APIRouter, Header, HTTPException, Request

from rcm_contracts.wire import Interchange, InterchangeAck
from rcm_runtime.app import RuntimeDep
from rcm_runtime.reads import stage_read_router

from rcm_sandbox.db import payer_claims
from rcm_sandbox.service import receive_interchange

router = APIRouter(prefix="/v1", tags=["clearinghouse"])


@router.post("/interchanges", response_model=InterchangeAck,
             summary="Submit a claim interchange; answers with the 999 and a 277CA per claim")
async def submit_interchange(body: Interchange, request: Request, rt: RuntimeDep,
                             x_api_key: str | None = Header(default=None)) -> InterchangeAck:
    if x_api_key != rt.settings.clearinghouse_key:
        raise HTTPException(401, detail={"code": "unauthenticated", "description": "unknown submitter key"})
    async with rt.engine.begin() as conn:
        return await receive_interchange(conn, request.app.state.fixtures, body)


payer_router = stage_read_router(payer_claims, tag="payer", status_column="status", queue_path="/payer-claims",
                                 queue_default=None, time_column="received_at")
