"""Denials API: the work queue (filters, priority order, summary), one item with its history, the actions on an
item, payer deadlines and tenant settings; and one claim's denial (rcm_runtime.reads)."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from rcm_contracts.claim import Coverage, Money
from rcm_contracts.events import ClaimCorrection
from rcm_runtime.app import Provided
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.reads import stage_read_router

from rcm_denials.access import needs
from rcm_denials.db import denials
from rcm_denials.domain import resubmission, workflow
from rcm_denials.domain.codes import ROOT_CAUSES
from rcm_denials.domain.priority import DeadlineDays
from rcm_denials.domain.workflow import Move, NotAllowed
from rcm_denials.work import DenialWork, TenantTerms

router = stage_read_router(denials, tag="denials", needs=needs("denials.read"))
work = APIRouter(prefix="/v1", tags=["denial work"])
Work = Provided[DenialWork]
DenialId = Path(description="the denial item's id")
PayerId = Path(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._-]+$")
Code = Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9._:@-]+$")


@work.get("/denials", dependencies=[needs("denials.read")],
          summary="The work queue: items with root cause, deadline, days left, priority, owner and status")
@audited.phi_read("denials.queue.read", "claim")
async def queue(tenant_id: TenantId, use: Work,
                root_cause: Literal[ROOT_CAUSES] | None = None,  # type: ignore[valid-type]
                payer_id: str | None = Query(None, max_length=80), owner: str | None = Query(None, max_length=80),
                status: Literal[workflow.STATUSES] | None = None,  # type: ignore[valid-type]
                work_queue: str | None = Query(None, max_length=40),
                sort: Literal["priority", "deadline", "recorded_at"] = "priority",
                limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict:
    return await use.queue(tenant_id=tenant_id, root_cause=root_cause, payer_id=payer_id, owner=owner, status=status,
                           work_queue=work_queue, sort=sort, limit=limit, offset=offset)


@work.get("/denials/{denial_id}", dependencies=[needs("denials.read")],
          summary="One denial item with its explanation, follow-up, deadline and action history")
@audited.phi_read("denials.item.read", "denial", id="denial_id")
async def item(tenant_id: TenantId, use: Work, denial_id: uuid.UUID = DenialId) -> dict:
    return await use.item(tenant_id=tenant_id, denial_id=denial_id)


class Assignment(BaseModel):
    owner: str = Code


class AppealSent(BaseModel):
    sent_on: date
    method: Literal["mail", "fax", "portal", "electronic"]


class AppealAnswer(BaseModel):
    answer: Literal["upheld", "overturned"]
    answered_on: date | None = None


class WriteOff(BaseModel):
    reason_code: str = Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9._-]+$",
                             description="the practice's write-off (adjustment) reason code")
    amount: Money = Field(gt=0)


class Rebill(BaseModel):
    coverage: Coverage = Field(description="the patient's coverage with the payer that should pay first")
    original_payer_as_secondary: bool = Field(
        False, description="bill the denying payer as the secondary once the new primary pays (coordination of "
                           "benefits: the denial said another payer is primary)")


class CorrectedClaim(BaseModel):
    correction: ClaimCorrection | None = Field(
        None, description="the fields to replace on the claim; without it (or with review) the replacement waits "
                          "in the scrubber's review queue to be corrected there")
    review: bool = Field(False, description="stop the replacement in the scrubber's review queue before it is sent")


def _fixed(move: Move, changes: dict[str, Any] | None = None, detail: dict[str, Any] | None = None):
    return move, changes or {}, detail or {}


@work.post("/denials/{denial_id}/assign", dependencies=[needs("denials.work")],
           summary="Assign the item to a person (an open item starts being worked)")
@audited.money("denial.assign", "denial", id="denial_id")
async def assign(body: Assignment, tenant_id: TenantId, actor: Actor, use: Work,
                 denial_id: uuid.UUID = DenialId) -> dict:
    return await use.act(tenant_id=tenant_id, actor=actor, denial_id=denial_id, action="assign",
                         decide=lambda status, row, _: _fixed(workflow.assign(status), {"owner": body.owner},
                                                              {"owner": body.owner, "previous_owner": row["owner"]}))


@work.post("/denials/{denial_id}/appeal", dependencies=[needs("denials.work")],
           summary="Record the appeal sent to the payer (date, method)")
@audited.money("denial.appeal", "denial", id="denial_id")
async def appeal(body: AppealSent, tenant_id: TenantId, actor: Actor, use: Work,
                 denial_id: uuid.UUID = DenialId) -> dict:
    return await use.act(tenant_id=tenant_id, actor=actor, denial_id=denial_id, action="appeal",
                         decide=lambda status, row, _: _fixed(
                             workflow.appeal(status), {"appeal_sent_on": body.sent_on, "appeal_method": body.method},
                             body.model_dump(mode="json")))


@work.post("/denials/{denial_id}/appeal/answer", dependencies=[needs("denials.work")],
           summary="Record the payer's answer to the appeal (upheld, or overturned: recovered once paid)")
@audited.money("denial.appeal_answer", "denial", id="denial_id")
async def appeal_answer(body: AppealAnswer, tenant_id: TenantId, actor: Actor, use: Work,
                        denial_id: uuid.UUID = DenialId) -> dict:
    return await use.act(tenant_id=tenant_id, actor=actor, denial_id=denial_id, action="appeal_answer",
                         decide=lambda status, row, _: _fixed(
                             workflow.answer_appeal(status, body.answer, row["appeal_answer"]),
                             {"appeal_answer": body.answer}, body.model_dump(mode="json")))


def _write_off(body: WriteOff):
    def decide(status: str, row: Any, terms: TenantTerms):
        if body.amount > row["denied_amount"]:
            raise NotAllowed("the write-off amount is above the amount at stake on this item")
        move = workflow.write_off(status, body.amount, terms.write_off_approval_above)
        return _fixed(move, {"write_off_reason": body.reason_code, "write_off_amount": body.amount,
                             "write_off_requested_by": None},
                      {**body.model_dump(mode="json"), "approval_above": str(terms.write_off_approval_above)})
    return decide


@work.post("/denials/{denial_id}/write-off", dependencies=[needs("denials.work")],
           summary="Write the item off with a reason code; above the tenant's amount it awaits another person's approval")
@audited.money("denial.write_off", "denial", id="denial_id")
async def write_off(body: WriteOff, tenant_id: TenantId, actor: Actor, use: Work,
                    denial_id: uuid.UUID = DenialId) -> dict:
    decide = _write_off(body)

    def with_requester(status: str, row: Any, terms: TenantTerms):
        move, changes, detail = decide(status, row, terms)
        changes["write_off_requested_by"] = actor
        return move, changes, detail
    return await use.act(tenant_id=tenant_id, actor=actor, denial_id=denial_id, action="write_off",
                         decide=with_requester)


@work.post("/denials/{denial_id}/write-off/approve", dependencies=[needs("denials.write_off.approve")],
           summary="Approve a pending write-off (another person than the one who asked)")
@audited.money("denial.write_off_approve", "denial", id="denial_id")
async def approve_write_off(tenant_id: TenantId, actor: Actor, use: Work, denial_id: uuid.UUID = DenialId) -> dict:
    return await use.act(tenant_id=tenant_id, actor=actor, denial_id=denial_id, action="write_off_approve",
                         decide=lambda status, row, _: _fixed(
                             workflow.approve_write_off(status, row["write_off_requested_by"], actor), {},
                             {"requested_by": row["write_off_requested_by"], "amount": str(row["write_off_amount"])}))


@work.post("/denials/{denial_id}/rebill", dependencies=[needs("denials.work")],
           summary="Rebill the claim to another payer as primary (coordination of benefits): a new claim goes "
                   "through the scrubber and submission; its payment recovers the item")
@audited.money("denial.rebill", "denial", id="denial_id")
async def rebill(body: Rebill, tenant_id: TenantId, actor: Actor, use: Work, denial_id: uuid.UUID = DenialId) -> dict:
    payer_id = body.coverage.payer_id

    def send(row: Any, request_id: uuid.UUID):
        event = resubmission.rebill(row, request_id, body.coverage, body.original_payer_as_secondary)
        return event, {"resubmission_id": request_id, "rebill_claim_id": event.new_claim_id}
    return await use.act(tenant_id=tenant_id, actor=actor, denial_id=denial_id, action="rebill",
                         decide=lambda status, row, _: _fixed(
                             workflow.rebill(status), {"rebill_payer_id": payer_id},
                             {"payer_id": payer_id, "original_payer_as_secondary": body.original_payer_as_secondary}),
                         emit=send)


@work.post("/denials/{denial_id}/corrected", dependencies=[needs("denials.work")],
           summary="Send a corrected claim: a replacement (frequency 7) naming the payer's claim number goes through "
                   "the scrubber and submission; its payment recovers the item")
@audited.money("denial.corrected", "denial", id="denial_id")
async def corrected(tenant_id: TenantId, actor: Actor, use: Work, body: CorrectedClaim | None = None,
                    denial_id: uuid.UUID = DenialId) -> dict:
    body = body or CorrectedClaim()
    fields = body.correction.changed_fields() if body.correction else []

    def send(row: Any, request_id: uuid.UUID):
        event = resubmission.corrected_claim(row, request_id, body.correction, body.review)
        return event, {"resubmission_id": request_id}
    # the history names the corrected fields, never their values (denials holds no PHI)
    return await use.act(tenant_id=tenant_id, actor=actor, denial_id=denial_id, action="corrected",
                         decide=lambda status, row, _: _fixed(
                             workflow.corrected(status), {},
                             {"corrected_fields": fields, "review": body.review or not fields,
                              "original_claim_number": row["payer_claim_number"]}),
                         emit=send)


# ---------------------------------------------------------------- deadlines and settings
class Deadlines(BaseModel):
    appeal_days: int = Field(ge=1, le=3650)
    timely_filing_days: int = Field(ge=1, le=3650)


class Settings(Deadlines):
    write_off_approval_above: Money = Field(ge=0)


@work.put("/payer-deadlines/{payer_id}", dependencies=[needs("denials.deadlines.write")],
          summary="Set a payer's appeal window and timely-filing limit (days) for this tenant")
@audited.money("denial.payer_deadlines.put", "payer", id="payer_id")
async def put_payer_deadline(body: Deadlines, tenant_id: TenantId, actor: Actor, use: Work,
                             payer_id: str = PayerId) -> dict:
    return await use.put_payer_deadline(tenant_id=tenant_id, actor=actor, payer_id=payer_id,
                                        days=DeadlineDays(body.appeal_days, body.timely_filing_days))


@work.get("/payer-deadlines/{payer_id}", dependencies=[needs("denials.settings.read")],
          summary="A payer's deadlines for this tenant (or the tenant's defaults, `source` says which)")
@not_audited(CONFIGURATION)
async def get_payer_deadline(tenant_id: TenantId, use: Work, payer_id: str = PayerId) -> dict:
    return await use.payer_deadline(tenant_id=tenant_id, payer_id=payer_id)


@work.put("/denial-settings", dependencies=[needs("denials.settings.write")],
          summary="The tenant's default deadlines and the write-off amount above which a second person approves")
@audited.money("denial.settings.put", "tenant_settings")
async def put_settings(body: Settings, tenant_id: TenantId, actor: Actor, use: Work) -> dict:
    return await use.put_settings(tenant_id=tenant_id, actor=actor,
                                  days=DeadlineDays(body.appeal_days, body.timely_filing_days),
                                  approval_above=Decimal(body.write_off_approval_above))


@work.get("/denial-settings", dependencies=[needs("denials.settings.read")],
          summary="The tenant's default deadlines and write-off approval amount")
@not_audited(CONFIGURATION)
async def get_settings(tenant_id: TenantId, use: Work) -> dict:
    return await use.settings(tenant_id=tenant_id)
