"""Read APIs every stage exposes over its own claim table: one claim, and a work queue listing. Both return the
claim's data (PHI): each call is in the audit trail (rcm_runtime.audit)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Table, func, select

from rcm_runtime.app import RuntimeDep
from rcm_runtime.audit import audited
from rcm_runtime.auth import TenantId
from rcm_runtime.phi import SealedColumns


def problem(status: int, code: str, description: str, errors: list | None = None) -> JSONResponse:
    """The API's error shape: a stable code, what went wrong, and field-level errors when there are."""
    body: dict[str, Any] = {"code": code, "description": description}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(status_code=status, content=body)


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if isinstance(v, (uuid.UUID, Decimal)):
            v = str(v)
        elif isinstance(v, (datetime, date)):
            v = v.isoformat()
        out[k] = v
    return out


def stage_read_router(table: Table, *, tag: str, needs: Any, status_column: str | None = None,
                      queue_path: str | None = None, queue_default: str | None = None,
                      time_column: str | None = None, phi: SealedColumns | None = None) -> APIRouter:
    """`needs` is the dependency naming the read permission (the service's `needs("...")`); `phi`, the service's PHI
    columns (rcm_runtime.phi), opened before they are answered."""

    def opened(row) -> dict[str, Any]:
        return jsonable(dict(phi.open(table, row) if phi is not None else row))

    router = APIRouter(prefix="/v1", tags=[tag], dependencies=[needs])

    @router.get("/claims/{claim_id}", summary=f"A claim's state at the {tag} stage")
    @audited.phi_read(f"{tag}.claim.read", "claim", id="claim_id")
    async def read_claim(claim_id: uuid.UUID, tenant_id: TenantId, rt: RuntimeDep) -> dict:
        async with rt.units.read(tenant_id) as conn:
            row = (await conn.execute(select(table).where(table.c.tenant_id == tenant_id, table.c.claim_id == claim_id))).mappings().first()
        if row is None:
            raise HTTPException(404, detail={"code": "not_found", "description": f"no such claim at the {tag} stage for this tenant"})
        return opened(row)

    if status_column is not None:
        col = table.c[status_column]
        order = table.c[time_column] if time_column else table.c.claim_id

        @router.get(queue_path or "/queue", summary=f"Work queue of the {tag} stage, filtered by {status_column}")
        @audited.phi_read(f"{tag}.queue.read", "claim")
        async def queue(tenant_id: TenantId, rt: RuntimeDep, status: str | None = queue_default,
                        limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict:
            where = [table.c.tenant_id == tenant_id]
            if status:
                where.append(col == status)
            async with rt.units.read(tenant_id) as conn:
                total = (await conn.execute(select(func.count()).select_from(table).where(*where))).scalar()
                rows = (await conn.execute(select(table).where(*where).order_by(order).limit(limit).offset(offset))).mappings().all()
            return {"total": total, "items": [opened(r) for r in rows]}

    return router
