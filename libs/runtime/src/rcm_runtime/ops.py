"""The ops API every service has: its dead letters (summary, listing, redrive, resolve). Platform operators only:
dead letters span tenants, so these routes are outside every service's access map (a tenant's admin is refused)
and need a bearer token (or API key) with the `operator` role OF THE OPERATIONS TENANT (settings.ops_tenant): an
`operator` role in a practice's token grants nothing. What they show is limited to what running the pipeline needs
(reason, event type, tenant id, times, who closed it; never the payload), and the operations tenant has no business
data and its operators no business permission. Writes record the token's subject as the operator."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from rcm_contracts.dates import IsoDateTime
from rcm_runtime.auth import Caller, Forbidden, Principal
from rcm_runtime.audit import not_audited
from rcm_runtime.dead_letters import REDRIVE_MAX, DeadLetters, RedriveUnavailable, Selection
from rcm_runtime.roles import Role

OPS_PERMISSION = "ops"  # named in the 403 and the OpenAPI; held by no access map


# Dead letters span tenants: operators of the operations tenant only; their payloads are not returned.
DEAD_LETTER_OPS = "operators' dead letters (operator tokens of the operations tenant; payloads not returned)"


def require_operator(request: Request, principal: Caller) -> Principal:
    """401 without valid credentials; 403 unless the caller is an operator of the operations tenant."""
    if Role.OPERATOR not in principal.roles or principal.tenant_id != request.app.state.runtime.settings.ops_tenant:
        raise Forbidden(OPS_PERMISSION, frozenset({Role.OPERATOR}))
    return principal


def _operator_subject(principal: Annotated[Principal, Depends(require_operator)]) -> str:
    return principal.subject


# The acting operator (the token's subject), kept on what they redrive or resolve. Declaring it also guards the
# route, like `dependencies=[Depends(require_operator)]`.
OperatorName = Annotated[str, Depends(_operator_subject)]


def dead_letters_of(request: Request) -> DeadLetters:
    return request.app.state.runtime.services[DeadLetters]


ops_router = APIRouter(prefix="/v1/ops/dead-letters", tags=["ops"], dependencies=[Depends(require_operator)])
Letters = Annotated[DeadLetters, Depends(dead_letters_of)]


class RedriveRequest(BaseModel):
    """Exactly one of: {"id"} | {"reason"} | {"event_type", "since"}."""

    id: int | None = None
    reason: str | None = Field(default=None, max_length=2000)
    event_type: str | None = Field(default=None, max_length=200)
    since: IsoDateTime | None = None
    limit: int = Field(default=REDRIVE_MAX, ge=1, le=REDRIVE_MAX)


@ops_router.get("/summary")
@not_audited(DEAD_LETTER_OPS)
async def summary(letters: Letters, request: Request) -> dict:
    """Open dead letters of this service: count, the oldest's time, counts by reason and by event type."""
    return {"service": request.app.state.runtime.settings.service_name, **await letters.summary()}


@ops_router.get("")
@not_audited(DEAD_LETTER_OPS)
async def listing(letters: Letters, status: Literal["open", "redriven", "resolved"] | None = None,
                  reason: str | None = None, event_type: str | None = None, since: IsoDateTime | None = None,
                  limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict]:
    """Dead letters, newest first: reason, event type, time, status and who redrove or resolved it (no payload)."""
    return await letters.listing(status=status, reason=reason, event_type=event_type, since=since, limit=limit)


@ops_router.post("/redrive")
@not_audited(DEAD_LETTER_OPS)
async def redrive(body: RedriveRequest, letters: Letters, operator: OperatorName):
    """Apply the selected open dead letters again through the consumer's path. 503 (what was done so far in
    `result`) if an outage stopped it: the rest stay open, to be redriven later."""
    selection = Selection.of(id=body.id, reason=body.reason, event_type=body.event_type, since=body.since)
    try:
        return (await letters.redrive(selection, operator=operator, limit=body.limit)).as_dict()
    except RedriveUnavailable as exc:
        return JSONResponse(status_code=503, headers={"retry-after": "30"}, content={
            "code": "unavailable", "description": f"redrive stopped by an outage: {exc.reason}",
            "result": exc.result.as_dict()})


@ops_router.post("/{dead_letter_id}/resolve")
@not_audited(DEAD_LETTER_OPS)
async def resolve(dead_letter_id: int, letters: Letters, operator: OperatorName) -> dict:
    """Close an open dead letter without redriving it."""
    return await letters.resolve(dead_letter_id, operator=operator)
