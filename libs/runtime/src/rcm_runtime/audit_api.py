"""The auditors' API over a service's audit trail (rcm_runtime.audit), on every service: permission `audit.read`
(auditor and admin), the caller's tenant only (row-level security keeps the query there too).

- `GET /v1/audit`: rows in chain order, filtered by time range, actor, action, category, outcome, resource type
  and id; paged by `after_seq` (the last `seq` of the previous page; `next_after_seq` in the answer).
- `GET /v1/audit/verify`: walks the tenant's chain: intact, or the first broken sequence and why, and the head
  (its hash is worth keeping outside the database)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query, Request
from sqlalchemy import select

from rcm_runtime.audit import not_audited
from rcm_runtime.audit_chain import verify
from rcm_runtime.auth import TenantId, requires
from rcm_runtime.messaging import audit_log
from rcm_runtime.roles import AUDIT_READ

audit_router = APIRouter(prefix="/v1/audit", tags=["audit"])
READS_THE_TRAIL = "the audit trail itself: ids only, no PHI"


def _row(r) -> dict:
    return {"seq": r.seq, "at": r.at.isoformat(), "actor": r.actor, "actor_kind": r.actor_kind, "roles": r.roles,
            "category": r.category, "action": r.action, "resource_type": r.resource_type,
            "resource_ids": r.resource_ids, "outcome": r.outcome, "status": r.status, "source": r.source,
            "request_id": r.request_id, "detail": r.detail, "prev_hash": bytes(r.prev_hash).hex(),
            "hash": bytes(r.hash).hex()}


@audit_router.get("", dependencies=[requires(AUDIT_READ)],
                  summary="The tenant's audit trail: PHI reads and changes of money, codes and PHI, refused "
                          "attempts included (who, what, when, from where, outcome)")
@not_audited(READS_THE_TRAIL)
async def list_audit(request: Request, tenant_id: TenantId,
                     since: datetime | None = Query(None, description="at or after (ISO 8601 with offset)"),
                     until: datetime | None = Query(None, description="before"),
                     actor: str | None = Query(None, max_length=200),
                     action: str | None = Query(None, max_length=100),
                     category: Literal["phi_read", "phi_change", "money", "codes"] | None = None,
                     outcome: Literal["allowed", "denied", "failed"] | None = None,
                     resource_type: str | None = Query(None, max_length=100),
                     resource_id: str | None = Query(None, max_length=200),
                     after_seq: int = Query(0, ge=0, le=2**62), limit: int = Query(100, ge=1, le=1000)) -> dict:
    t = audit_log.c
    where = [t.tenant_id == tenant_id, t.seq > after_seq]
    for column, value in ((t.actor, actor), (t.action, action), (t.category, category), (t.outcome, outcome),
                          (t.resource_type, resource_type)):
        if value is not None:
            where.append(column == value)
    if since is not None:
        where.append(t.at >= since)
    if until is not None:
        where.append(t.at < until)
    if resource_id is not None:
        where.append(t.resource_ids.any(resource_id))
    async with request.app.state.runtime.units.read(tenant_id) as conn:
        rows = (await conn.execute(select(audit_log).where(*where).order_by(t.seq).limit(limit))).all()
    items = [_row(r) for r in rows]
    return {"items": items, "next_after_seq": items[-1]["seq"] if len(items) == limit else None}


@audit_router.get("/verify", dependencies=[requires(AUDIT_READ)],
                  summary="Walk the tenant's audit chain: intact, or the first broken sequence and why")
@not_audited(READS_THE_TRAIL)
async def verify_audit(request: Request, tenant_id: TenantId) -> dict:
    async with request.app.state.runtime.units.read(tenant_id) as conn:
        return (await verify(conn, tenant_id)).as_json()
