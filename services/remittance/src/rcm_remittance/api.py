"""remittance: ERA intake (what a clearinghouse pushes) and read APIs."""

from __future__ import annotations

from fastapi import APIRouter

from rcm_contracts.wire import RemittanceAdvice
from rcm_runtime.app import RuntimeDep
from rcm_runtime.auth import TenantId
from rcm_runtime.reads import stage_read_router

from rcm_remittance.db import posted_payments
from rcm_remittance.service import post_remittance_advice

router = APIRouter(prefix="/v1", tags=["remittance"])


@router.post("/remittances", summary="Post an ERA (835 claim payments); each payer claim is posted at most once")
async def post_era(body: RemittanceAdvice, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.transaction() as tx:
        result = await post_remittance_advice(tx, tenant_id, body)
    return {"posted": result.posted, "duplicates": result.duplicates, "rejected": result.rejected}


reads = stage_read_router(posted_payments, tag="remittance", status_column="outcome", queue_path="/payments",
                          queue_default=None, time_column="posted_at")
