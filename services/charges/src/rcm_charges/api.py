"""HTTP intake and read APIs of charges."""

from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.app import RuntimeDep
from rcm_runtime.auth import TenantId

from rcm_charges.domain.fhir_bundle import IntakeError, bundle_to_encounter
from rcm_charges.service import ConflictingResend, Intake, capture_encounters, get_encounter

router = APIRouter(prefix="/v1", tags=["encounters"])


async def _capture(rt, tenant_id: str, submission: EncounterSubmitted, channel: str, response: Response) -> dict:
    try:
        async with rt.transaction() as tx:
            [result] = await capture_encounters(
                tx.conn, lambda _i, ev, key: tx.emit(ev, tenant_id=tenant_id, key=key),
                [Intake(tenant_id, submission, channel)])
    except ConflictingResend as exc:
        raise HTTPException(409, detail={"code": "conflicting_resend", "description": str(exc)}) from None
    response.status_code = 201 if result.created else 200
    return {"claim_id": str(result.claim_id), "encounter_id": str(result.encounter_id),
            "status": "captured" if result.created else "duplicate"}


@router.post("/encounters", status_code=201, summary="Submit an encounter in the OpenRCM JSON format")
async def submit_encounter(body: EncounterSubmitted, tenant_id: TenantId, rt: RuntimeDep, response: Response) -> dict:
    return await _capture(rt, tenant_id, body, "json", response)


@router.post("/encounters/fhir", status_code=201,
             summary="Submit an encounter as a FHIR R4 Bundle (Patient, Coverage, Encounter, Condition, Procedure)")
async def submit_fhir_bundle(request: Request, tenant_id: TenantId, rt: RuntimeDep, response: Response,
                             source_system: str = "fhir") -> dict:
    try:
        bundle = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return JSONResponse(status_code=422, content={"code": "invalid_json", "description": "body is not JSON",
                                                      "errors": [{"field": "body", "reason": f"{type(exc).__name__} at position {getattr(exc, 'pos', '?')}"}]})
    try:
        submission = bundle_to_encounter(bundle, source_system=source_system)
    except IntakeError as exc:
        return JSONResponse(status_code=422, content={"code": "invalid_fhir_bundle",
                                                      "description": "the FHIR Bundle cannot become a claim",
                                                      "errors": exc.errors})
    return await _capture(rt, tenant_id, submission, "fhir", response)


@router.get("/claims/{claim_id}", summary="The encounter/claim as charges captured it")
async def read_claim(claim_id: uuid.UUID, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        row = await get_encounter(conn, tenant_id, claim_id)
    if row is None:
        raise HTTPException(404, detail={"code": "not_found", "description": "no such claim for this tenant"})
    return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in row.items()}
