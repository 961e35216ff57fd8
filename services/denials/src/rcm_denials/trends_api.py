"""denials trend APIs: denial rates by payer, CARC, root cause, provider or month, and the tenant's denial-pattern
threshold (more than N claims of one payer, procedure and CARC in 30 days make a scrubber rule recommendation)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from rcm_contracts.dates import IsoDate
from rcm_runtime.app import Provided
from rcm_runtime.audit import AGGREGATES, CONFIGURATION, not_audited
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.reads import jsonable, problem

from rcm_denials.access import needs
from rcm_denials.trends import Trends

router = APIRouter(prefix="/v1", tags=["denial trends"])


class ThresholdIn(BaseModel):
    rule_threshold: int = Field(ge=1, le=10000, description="recommend a rule when more than this many claims of one "
                                                            "payer, procedure and CARC are denied in 30 days")


@router.get("/denials/trends", dependencies=[needs("denials.trends.read")],
            summary="Denial rates per group: denied claims / claims paid or denied, denied / billed amount",
            description="group_by payer, provider (the 835 payee NPI) or month: rates within the group; carc or "
                        "root_cause: each one's share of every claim paid or denied in the period. Dates are "
                        "remittance dates (since and until included); reversed payments count nowhere.")
@not_audited(AGGREGATES)
async def get_trends(tenant_id: TenantId, trends: Provided[Trends],
                     group_by: Literal["payer", "carc", "root_cause", "provider", "month"] = "payer",
                     since: IsoDate | None = None, until: IsoDate | None = None):
    if since and until and since > until:
        return problem(422, "invalid_period", "since is after until")
    return jsonable(await trends.trends(tenant_id, group_by=group_by, since=since, until=until))


@router.get("/settings/denial-rule-threshold", dependencies=[needs("denials.settings.read")],
            summary="The tenant's denial-pattern threshold (default 5 claims in 30 days)")
@not_audited(CONFIGURATION)
async def get_threshold(tenant_id: TenantId, trends: Provided[Trends]) -> dict:
    return await trends.threshold(tenant_id)


@router.put("/settings/denial-rule-threshold", dependencies=[needs("denials.threshold.write")],
            summary="Set the tenant's denial-pattern threshold; applies to denials recorded from now on")
@not_audited(CONFIGURATION)
async def put_threshold(body: ThresholdIn, tenant_id: TenantId, actor: Actor, trends: Provided[Trends]) -> dict:
    return await trends.set_threshold(tenant_id=tenant_id, actor=actor, value=body.rule_threshold)
