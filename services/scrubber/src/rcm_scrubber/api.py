"""scrubber APIs: the review queue (filter, view, correct, re-scrub, hold, release, audit), rule sets
(versioned, per tenant and payer), the edit catalog, and rule proposals from denial patterns (approve, dismiss). Routers validate HTTP input, call the Scrubber use
cases and map results and errors to responses."""

from __future__ import annotations

import uuid
from typing import Any, Awaitable, Literal

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from rcm_contracts.dates import IsoDate
from rcm_contracts.envelope import describe_validation_error
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.reads import jsonable, problem, stage_read_router

from rcm_scrubber.access import needs
from rcm_scrubber.db import PHI, scrubbed_claims
from rcm_scrubber.domain.rule_sets import RuleSetError
from rcm_scrubber.proposals import Proposals
from rcm_scrubber.service import Scrubbed, Scrubber, StillFailing

reads = stage_read_router(scrubbed_claims, tag="scrubber", needs=needs("review.read"), phi=PHI)
router = APIRouter(prefix="/v1", tags=["review queue"])


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=500)


async def _outcome(action: Awaitable[Scrubbed]) -> dict | JSONResponse:
    try:
        result = await action
    except ValidationError as exc:
        return problem(422, "invalid_claim", describe_validation_error(exc))
    except StillFailing as exc:
        return JSONResponse(status_code=409, content={"code": exc.code, "description": str(exc),
                                                      "edits": [e.model_dump(mode="json") for e in exc.edits]})
    return {"claim_id": str(result.claim.claim_id), "decision": result.decision,
            "edits": [e.model_dump(mode="json") for e in result.edits]}


@router.get("/resubmissions", dependencies=[needs("review.read")],
            summary="Claims denial work sent again (corrected claims, rebills) and what became of each: clean (sent "
                    "on), review (waiting in the review queue, stage `denial`) or refused (with the reason)")
@not_audited("ids, kinds and outcomes of resubmissions: no patient data read, nothing moved")
async def list_resubmissions(tenant_id: TenantId, scrubber: Provided[Scrubber], claim_id: uuid.UUID | None = None,
                             denial_id: uuid.UUID | None = None, outcome: str | None = Query(None, max_length=20),
                             limit: int = Query(100, ge=1, le=1000)) -> dict:
    rows = await scrubber.resubmissions(tenant_id, claim_id=claim_id, denial_id=denial_id, outcome=outcome,
                                        limit=limit)
    return {"resubmissions": [jsonable(r) for r in rows]}


@router.get("/review-queue", dependencies=[needs("review.read")],
            summary="Claims waiting for review, filtered by edit, payer, where they came back "
                    "from (scrub, build, validation, 999, 277CA, denial: a corrected claim from denial work) or decision "
                    "(review, held)")
@audited.phi_read("review_queue.read", "claim")
async def get_review_queue(tenant_id: TenantId, scrubber: Provided[Scrubber], decision: str | None = "review",
                           edit: str | None = None, payer_id: str | None = None, stage: str | None = None,
                           limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict:
    total, rows = await scrubber.review_queue(tenant_id, decision=decision, edit=edit, payer_id=payer_id,
                                              stage=stage, limit=limit, offset=offset)
    return {"total": total, "items": [jsonable(r) for r in rows]}


@router.patch("/claims/{claim_id}", dependencies=[needs("review.write")],
              summary="Correct fields of a claim in review (merged field by field) and "
                      "re-scrub it; a clean result goes on to submission")
@audited.codes("claim.correct", "claim", id="claim_id")
async def correct_claim(claim_id: uuid.UUID, tenant_id: TenantId, scrubber: Provided[Scrubber], actor: Actor,
                        changes: dict[str, Any] = Body(..., examples=[{"billing_provider": {
                            "npi": "1245319599", "tax_id": "123456789", "name": "Demo Family Practice",
                            "address": {"line1": "1 Main St", "city": "Boston", "state": "MA",
                                        "postal_code": "021081234"}}}]),
                        note: str | None = Query(None, max_length=500)):
    return await _outcome(scrubber.correct(tenant_id=tenant_id, claim_id=claim_id, changes=changes, actor=actor,
                                           note=note))


@router.post("/claims/{claim_id}/rescrub", dependencies=[needs("review.write")],
             summary="Scrub a claim in review again (e.g. after a rule-set change)")
@audited.codes("claim.rescrub", "claim", id="claim_id")
async def rescrub_claim(claim_id: uuid.UUID, tenant_id: TenantId, scrubber: Provided[Scrubber], actor: Actor):
    return await _outcome(scrubber.rescrub(tenant_id=tenant_id, claim_id=claim_id, actor=actor))


@router.post("/claims/{claim_id}/hold", dependencies=[needs("review.write")],
             summary="Park a claim in review (e.g. waiting for the practice)")
@audited.codes("claim.hold", "claim", id="claim_id")
async def hold_claim(claim_id: uuid.UUID, tenant_id: TenantId, scrubber: Provided[Scrubber], actor: Actor,
                     body: Note = Note()):
    await scrubber.hold(tenant_id=tenant_id, claim_id=claim_id, actor=actor, note=body.note)
    return {"claim_id": str(claim_id), "decision": "held"}


@router.post("/claims/{claim_id}/release", dependencies=[needs("review.write")],
             summary="Send a held or reviewed claim on: refused (409, with the "
                     "edits) while an error edit remains")
@audited.codes("claim.release", "claim", id="claim_id")
async def release_claim(claim_id: uuid.UUID, tenant_id: TenantId, scrubber: Provided[Scrubber], actor: Actor,
                        body: Note = Note()):
    return await _outcome(scrubber.release(tenant_id=tenant_id, claim_id=claim_id, actor=actor, note=body.note))


@router.get("/claims/{claim_id}/audit", dependencies=[needs("review.audit.read")],
            summary="Every review action on the claim: who, when, before and after")
@audited.phi_read("review.audit.read", "claim", id="claim_id")
async def claim_audit(claim_id: uuid.UUID, tenant_id: TenantId, scrubber: Provided[Scrubber]) -> dict:
    rows = await scrubber.audit_trail(tenant_id, claim_id)
    return {"claim_id": str(claim_id), "actions": [jsonable(r) for r in rows]}


# ---------------------------------------------------------------- rule sets and catalog
rules = APIRouter(prefix="/v1", tags=["rule sets"])


@rules.get("/edit-catalog", dependencies=[needs("rules.read")],
           summary="Every edit the scrubber knows: id, default severity, field, 837P loop/segment")
@not_audited(CONFIGURATION)
async def edit_catalog(scrubber: Provided[Scrubber]) -> dict:
    return {"edits": scrubber.edit_catalog()}


@rules.post("/rule-sets", dependencies=[needs("rules.write")], status_code=201,
            summary="Add a rule-set version for the tenant (payer_id null) or one payer",
            description="Versions are never rewritten: a change is a new version with its effective_from (compared "
                        "with the claim's date of service). Applies to claims scrubbed from now on; re-scrub claims "
                        "in review to apply it to them.")
@not_audited(CONFIGURATION)
async def post_rule_set(tenant_id: TenantId, scrubber: Provided[Scrubber], actor: Actor,
                        document: dict[str, Any] = Body(..., examples=[{
                            "payer_id": "SBX01", "version": 1, "effective_from": "2026-01-01",
                            "edits": {"SCR032": {"parameters": {"timely_filing_days": 90}}},
                            "custom_rules": [{"id": "DNL-CO-4-99214", "severity": "error",
                                              "when": {"procedure_codes": ["99214"], "missing_modifier_any": ["25"]},
                                              "message": "this payer denies 99214 without modifier 25 (CO-4)",
                                              "field": "modifiers"}]}])):
    try:
        doc = await scrubber.add_rule_set(tenant_id=tenant_id, document=document, actor=actor)
    except RuleSetError as exc:
        return problem(422, "invalid_rule_set", "the rule set cannot be used", exc.errors)
    return doc.model_dump(mode="json")


@rules.get("/rule-sets", dependencies=[needs("rules.read")], summary="The tenant's rule-set versions (newest first)")
@not_audited(CONFIGURATION)
async def list_rule_sets(tenant_id: TenantId, scrubber: Provided[Scrubber], payer_id: str | None = None) -> dict:
    return {"rule_sets": [jsonable(r) for r in await scrubber.rule_sets(tenant_id, payer_id=payer_id)]}


@rules.get("/rule-sets/effective", dependencies=[needs("rules.read")],
           summary="What runs on a claim for this payer and date of service")
@not_audited(CONFIGURATION)
async def effective_rule_set(tenant_id: TenantId, scrubber: Provided[Scrubber], payer_id: str | None = None,
                             on: IsoDate | None = None) -> dict:
    effective = await scrubber.effective_rule_set(tenant_id, payer_id=payer_id, on=on)
    return {"sources": [{"payer_id": s.payer_id, "version": s.version} for s in effective.sources],
            "edits": [{"id": e.id, "severity": e.severity} for e in effective.edits],
            "custom_rules": [r.id for r in effective.custom_rules]}


# ---------------------------------------------------------------- rule proposals (from denial patterns)
proposals = APIRouter(prefix="/v1", tags=["rule proposals"])


@proposals.get("/rule-proposals", dependencies=[needs("rules.read")],
               summary="Custom rules proposed from denial patterns (one payer denying one procedure with one CARC "
                       "more than the tenant's threshold in 30 days), newest first")
@not_audited(CONFIGURATION)
async def list_rule_proposals(tenant_id: TenantId, proposals: Provided[Proposals],
                              status: Literal["proposed", "approved", "dismissed"] | None = "proposed",
                              payer_id: str | None = None, limit: int = Query(100, ge=1, le=1000),
                              offset: int = Query(0, ge=0)) -> dict:
    total, rows = await proposals.list(tenant_id, status=status, payer_id=payer_id, limit=limit, offset=offset)
    return {"total": total, "items": [jsonable(r) for r in rows]}


@proposals.post("/rule-proposals/{proposal_id}/approve", dependencies=[needs("rules.proposals.write")],
                summary="Approve a proposed rule: it joins the payer's rule set as its next version and runs on "
                        "claims scrubbed from now on (re-scrub claims in review to apply it to them)")
@audited.codes("rule_proposal.approve", "rule_proposal", id="proposal_id")
async def approve_rule_proposal(proposal_id: uuid.UUID, tenant_id: TenantId, proposals: Provided[Proposals],
                                actor: Actor, body: Note = Note()) -> dict:
    try:
        return jsonable(await proposals.approve(tenant_id=tenant_id, proposal_id=proposal_id, actor=actor,
                                                note=body.note))
    except RuleSetError as exc:  # the payer's latest rule set cannot take the rule: nothing is stored
        return problem(422, "invalid_rule_set", "the rule set with this rule cannot be used", exc.errors)


@proposals.post("/rule-proposals/{proposal_id}/dismiss", dependencies=[needs("rules.proposals.write")],
                summary="Dismiss a proposed rule (kept, with who dismissed it and why)")
@audited.codes("rule_proposal.dismiss", "rule_proposal", id="proposal_id")
async def dismiss_rule_proposal(proposal_id: uuid.UUID, tenant_id: TenantId, proposals: Provided[Proposals],
                                actor: Actor, body: Note = Note()) -> dict:
    return jsonable(await proposals.dismiss(tenant_id=tenant_id, proposal_id=proposal_id, actor=actor,
                                            note=body.note))
