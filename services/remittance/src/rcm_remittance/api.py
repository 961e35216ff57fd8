"""remittance: ERA intake (what a clearinghouse pushes) and read APIs."""

from __future__ import annotations

from fastapi import APIRouter, Request

from rcm_contracts.wire import RemittanceAdvice
from rcm_runtime.app import Provided
from rcm_runtime.auth import TenantId
from rcm_runtime.reads import problem, stage_read_router
from rcm_x12.codec import X12Error

from rcm_remittance.db import posted_payments
from rcm_x12.remit_835 import Unparseable835
from rcm_remittance.service import Remittance

router = APIRouter(prefix="/v1", tags=["remittance"])


@router.post("/remittances", summary="Post an ERA (835 claim payments); each payer claim is posted at most once")
async def post_era(body: RemittanceAdvice, tenant_id: TenantId, remittance: Provided[Remittance]) -> dict:
    result = await remittance.post_advice(tenant_id=tenant_id, actor="api", era=body)
    return {"posted": result.posted, "duplicates": result.duplicates, "rejected": result.rejected}


@router.post("/remittances/x12", summary="Post an X12 835 (005010X221A1): each claim payment once; payments "
                                          "naming no claim we submitted are kept as unmatched",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}})
async def post_x12_era(request: Request, tenant_id: TenantId, remittance: Provided[Remittance]):
    text = (await request.body()).decode("utf-8", errors="replace")
    try:
        result = await remittance.post_x12(tenant_id=tenant_id, actor="api", text=text)
    except (Unparseable835, X12Error) as exc:
        return problem(422, "invalid_835", str(exc))
    return {"posted": result.posted, "duplicates": result.duplicates, "rejected": result.rejected,
            "unmatched": result.unmatched}


reads = stage_read_router(posted_payments, tag="remittance", status_column="outcome", queue_path="/payments",
                          queue_default=None, time_column="posted_at")
