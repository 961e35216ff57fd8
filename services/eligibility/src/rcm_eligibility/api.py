"""eligibility APIs: a claim's coverage check, the work queues, releasing held claims, on-demand checks."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from rcm_contracts.claim import Claim, Coverage, Person, Provider, ServiceLine
from rcm_runtime.app import RuntimeDep
from rcm_runtime.auth import TenantId
from rcm_runtime.reads import jsonable, problem, stage_read_router
from sqlalchemy import select

from rcm_contracts.events import AppointmentScheduled
from rcm_eligibility.db import appointments, coverage_checks
from rcm_eligibility.domain.fhir_appointment import AppointmentError, appointment_from_fhir
from rcm_eligibility.registration_service import (
    check_appointments, delete_member_id_rule, list_member_id_rules, put_member_id_rule, register, rules_of,
)
from rcm_eligibility.domain.decision import decide
from rcm_eligibility.domain.registration import (
    CoverageRegistration, PatientRegistration, validate_registration,
)
from rcm_eligibility.service import record_authorization, recheck, snapshots_for

reads = stage_read_router(coverage_checks, tag="eligibility", status_column="work_queue", queue_path="/work-queue",
                          queue_default=None, time_column="checked_at")
router = APIRouter(prefix="/v1", tags=["eligibility"])
Actor = Annotated[str, Header(alias="X-User", min_length=1, max_length=128)]


def _decision_body(claim_id: uuid.UUID, decision) -> dict:
    return {"claim_id": str(claim_id), "released": decision.hold_reason is None, "hold_reason": decision.hold_reason,
            "work_queue": decision.work_queue, "edits": [e.model_dump(mode="json") for e in decision.edits],
            "eligibility": decision.result.model_dump(mode="json")}


class AuthorizationIn(BaseModel):
    authorization_number: str = Field(min_length=1, max_length=50)


@router.post("/claims/{claim_id}/authorization", summary="Attach the payer's prior authorization to a held claim "
                                                         "and release it")
async def attach_authorization(claim_id: uuid.UUID, body: AuthorizationIn, request: Request, tenant_id: TenantId,
                               rt: RuntimeDep, actor: Actor):
    async with rt.transaction() as tx:
        decision = await record_authorization(tx.conn, request.app.state.eligibility(),
                                              lambda ev, key: tx.emit(ev, tenant_id=tenant_id, key=key),
                                              tenant_id=tenant_id, claim_id=claim_id,
                                              authorization_number=body.authorization_number)
    return _decision_body(claim_id, decision)


class RecheckIn(BaseModel):
    member_id: str | None = Field(default=None, min_length=1, max_length=80)


@router.post("/claims/{claim_id}/recheck", summary="Ask the payer again (optionally with a corrected member id); "
                                                   "the claim is released if coverage is now confirmed")
async def recheck_claim(claim_id: uuid.UUID, body: RecheckIn, request: Request, tenant_id: TenantId, rt: RuntimeDep,
                        actor: Actor):
    async with rt.transaction() as tx:
        decision = await recheck(tx.conn, request.app.state.eligibility(),
                                 lambda ev, key: tx.emit(ev, tenant_id=tenant_id, key=key),
                                 tenant_id=tenant_id, claim_id=claim_id, member_id=body.member_id)
    return _decision_body(claim_id, decision)


class CheckIn(BaseModel):
    """An on-demand check for front-desk tools: who, which payer, which provider, when, what service."""

    patient: Person
    coverage: Coverage
    provider: Provider
    service_date: date
    procedure_codes: list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{5}$")]] = Field(
        default_factory=lambda: ["99213"], min_length=1, max_length=20)
    place_of_service: str = Field(default="11", pattern=r"^[0-9]{2}$")


async def _checks(request: Request, rt, tenant_id: str, items: list[CheckIn]) -> list[dict]:
    elig = request.app.state.eligibility()
    claims = [Claim(claim_id=uuid.uuid4(), encounter_id=uuid.uuid4(), source_system="eligibility-check",
                    source_encounter_id="on-demand", service_date=c.service_date, place_of_service=c.place_of_service,
                    patient=c.patient, coverage=c.coverage, billing_provider=c.provider, diagnoses=["Z0000"],
                    lines=[ServiceLine(line_number=i, procedure_code=p, units=1, charge=0)
                           for i, p in enumerate(c.procedure_codes, start=1)], total_charge=0)
              for c in items]
    async with rt.engine.begin() as conn:
        snaps = await snapshots_for(conn, elig, [(tenant_id, c) for c in claims])
    from datetime import datetime, timezone
    out = []
    for claim, (snap, source) in zip(claims, snaps):
        d = decide(claim, snap, source=source, now=datetime.now(timezone.utc), auth_rules=elig.auth_rules)
        out.append({"eligibility": d.result.model_dump(mode="json"), "problems": [e.model_dump(mode="json") for e in d.edits],
                    "benefits": snap.as_json() if snap else None})
    return out


@router.post("/eligibility-checks", summary="Check one patient's coverage now (270/271, cached per member, payer "
                                            "and date of service)")
async def check_now(body: CheckIn, request: Request, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    return (await _checks(request, rt, tenant_id, [body]))[0]


class BatchIn(BaseModel):
    checks: list[CheckIn] = Field(min_length=1, max_length=100)


@router.post("/eligibility-checks/batch", summary="Check up to 100 patients at once (e.g. tomorrow's schedule)")
async def check_batch(body: BatchIn, request: Request, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    return {"results": await _checks(request, rt, tenant_id, body.checks)}


class RegistrationIn(BaseModel):  # noqa: D101 - see validate()
    patient: PatientRegistration
    coverages: list[CoverageRegistration] = Field(default_factory=list, max_length=3)


@router.post("/registrations/validate", summary="Validate a patient's registration and coverages before the visit")
async def validate(body: RegistrationIn, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        rules = await rules_of(conn, tenant_id)
    problems = validate_registration(body.patient, body.coverages, today=date.today(), rules=rules)
    return {"valid": not any(p.severity == "error" for p in problems),
            "problems": [p.model_dump(mode="json") for p in problems]}


@router.put("/patients/{patient_id}", summary="Register (or update) a patient and their coverages; errors are "
                                             "refused with the list of problems, warnings are returned")
async def put_patient(patient_id: str, body: RegistrationIn, tenant_id: TenantId, rt: RuntimeDep):
    async with rt.engine.begin() as conn:
        problems = await register(conn, tenant_id=tenant_id, patient_id=patient_id, patient=body.patient,
                                  coverages=body.coverages)
    body_out = {"patient_id": patient_id, "problems": [p.model_dump(mode="json") for p in problems]}
    if any(p.severity == "error" for p in problems):
        return JSONResponse(status_code=422, content={"code": "invalid_registration",
                                                      "description": "the registration has errors", **body_out})
    return {"registered": True, **body_out}


@router.post("/appointments", summary="A scheduled visit: verify the registered coverage before the date of service")
async def post_appointment(body: AppointmentScheduled, request: Request, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.begin() as conn:
        [check] = await check_appointments(conn, request.app.state.eligibility(), [(tenant_id, body)])
    return {"appointment_id": str(check.appointment_id), "status": check.status, "work_queue": check.work_queue,
            "problems": check.problems, "eligibility": check.eligibility}


@router.post("/appointments/fhir", summary="A scheduled visit as a FHIR R4 Appointment")
async def post_fhir_appointment(request: Request, tenant_id: TenantId, rt: RuntimeDep, source_system: str = "fhir"):
    import json

    try:
        raw = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return problem(422, "invalid_json", "body is not JSON")
    try:
        event = appointment_from_fhir(raw, source_system=source_system)
    except AppointmentError as exc:
        return JSONResponse(status_code=422, content={"code": "invalid_fhir_appointment",
                                                      "description": "the Appointment cannot be checked",
                                                      "errors": exc.errors})
    return await post_appointment(event, request, tenant_id, rt)


@router.get("/appointments", summary="Pre-visit work queue: appointments with problems (or all), by date")
async def list_appointments(tenant_id: TenantId, rt: RuntimeDep, work_queue: str | None = None,
                            on: date | None = None, limit: int = Query(200, ge=1, le=1000)) -> dict:
    stmt = select(appointments).where(appointments.c.tenant_id == tenant_id)
    if work_queue:
        stmt = stmt.where(appointments.c.work_queue == work_queue)
    if on:
        stmt = stmt.where(appointments.c.scheduled_date == on)
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(appointments.c.scheduled_date).limit(limit))).mappings().all()
    return {"items": [jsonable(dict(r)) for r in rows]}


class MemberIdRuleIn(BaseModel):
    pattern: str = Field(min_length=1, max_length=200, description="regex the whole member id must match",
                         examples=[r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]"
                                   r"[0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$"])
    description: str | None = Field(default=None, max_length=200, examples=["Medicare MBI"])


@router.put("/payers/{payer_id}/member-id-rule", tags=["settings"],
            summary="Set the member-id format for one payer ('*' = the default for payers without one)",
            description="Registrations and pre-visit checks of this tenant apply it from now on.")
async def put_payer_member_id_rule(payer_id: Annotated[str, Path(min_length=1, max_length=80)], body: MemberIdRuleIn,
                                   tenant_id: TenantId, rt: RuntimeDep, actor: Actor) -> dict:
    try:
        async with rt.engine.begin() as conn:
            await put_member_id_rule(conn, tenant_id=tenant_id, payer_id=payer_id, pattern=body.pattern,
                                     description=body.description, actor=actor)
    except ValueError as exc:
        return problem(422, "invalid_member_id_rule", str(exc))
    return {"payer_id": payer_id, "pattern": body.pattern, "description": body.description}


@router.get("/member-id-rules", tags=["settings"], summary="The tenant's member-id formats per payer")
async def get_member_id_rules(tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        rows = await list_member_id_rules(conn, tenant_id)
    return {"rules": [jsonable(r) for r in rows]}


@router.delete("/payers/{payer_id}/member-id-rule", tags=["settings"], status_code=204,
               summary="Remove a payer's member-id format (the tenant default applies again)")
async def delete_payer_member_id_rule(payer_id: str, tenant_id: TenantId, rt: RuntimeDep, actor: Actor):
    async with rt.engine.begin() as conn:
        if not await delete_member_id_rule(conn, tenant_id=tenant_id, payer_id=payer_id):
            return problem(404, "not_found", "no member-id rule for this payer")
    return Response(status_code=204)
