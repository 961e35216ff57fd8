"""coding APIs: a claim's coding result, the coder queue, and coder actions (audited). Thin: validate the
HTTP input, call the `Coding` use cases, map results and errors to responses."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from pydantic import BaseModel, Field, ValidationError

from rcm_contracts.envelope import describe_validation_error
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.errors import Conflict, DomainError, NotFound
from rcm_runtime.reads import jsonable, problem, stage_read_router

from rcm_coding.access import needs
from rcm_coding.db import PHI, coded_claims
from rcm_coding.service import Coding, Recode

reads = stage_read_router(coded_claims, tag="coding", needs=needs("coding.read"), status_column="status",
                          queue_path="/coder-queue", queue_default="needs_coder", time_column="coded_at", phi=PHI)
router = APIRouter(prefix="/v1", tags=["coder queue"])
UseCases = Provided[Coding]


class Assignment(BaseModel):
    coder: str = Field(min_length=1, max_length=128)


@router.post("/claims/{claim_id}/assignment", dependencies=[needs("coding.assign")],
             summary="Assign a queued claim to a coder")
@audited.codes("coding.assign", "claim", id="claim_id")
async def assign_claim(claim_id: uuid.UUID, body: Assignment, tenant_id: TenantId, coding: UseCases, actor: Actor):
    await coding.assign(tenant_id=tenant_id, claim_id=claim_id, coder=body.coder, actor=actor)
    return {"claim_id": str(claim_id), "assigned_to": body.coder}


@router.post("/claims/{claim_id}/coding", dependencies=[needs("coding.recode")],
             summary="Recode a queued claim (diagnoses, line codes, modifiers, "
                     "units, pointers); it moves on once no error edit remains")
@audited.codes("coding.recode", "claim", id="claim_id")
async def recode_claim(claim_id: uuid.UUID, body: Recode, tenant_id: TenantId, coding: UseCases, actor: Actor):
    try:
        status, edits = await coding.recode(tenant_id=tenant_id, claim_id=claim_id, change=body, actor=actor)
    except ValidationError as exc:
        return problem(422, "invalid_claim", describe_validation_error(exc))
    except (NotFound, Conflict):
        raise  # 404 / 409 from the app's handlers
    except DomainError as exc:
        return problem(422, "invalid_recode", str(exc))
    return {"claim_id": str(claim_id), "status": status, "edits": edits}


@router.get("/claims/{claim_id}/audit", dependencies=[needs("coding.audit.read")],
            summary="Every coder action on the claim: who, when, before, after")
@audited.phi_read("coding.audit.read", "claim", id="claim_id")
async def coding_audit(claim_id: uuid.UUID, tenant_id: TenantId, coding: UseCases) -> dict:
    rows = await coding.audit_trail(tenant_id=tenant_id, claim_id=claim_id)
    return {"claim_id": str(claim_id), "actions": [jsonable(r) for r in rows]}


@router.get("/reference-data", dependencies=[needs("reference.read")],
            tags=["ops"], summary="Which code tables this coding service loaded")
@not_audited(CONFIGURATION)
async def reference_data(coding: UseCases) -> dict:
    return coding.reference_data()
