"""eligibility APIs: a claim's coverage check, the work queues, releasing held claims, on-demand checks,
registrations and pre-visit checks. Routers validate HTTP input, call the Eligibility use cases and map
their results and errors to responses."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from rcm_contracts.claim import Coverage, Person, Provider
from rcm_contracts.dates import IsoDate
from rcm_contracts.events import AppointmentScheduled
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.rate_limits import rate_limit
from rcm_runtime.reads import jsonable, problem, stage_read_router

from rcm_eligibility.access import needs
from rcm_eligibility.db import PHI, coverage_checks
from rcm_eligibility.domain.decision import Decision
from rcm_eligibility.domain.fhir_appointment import AppointmentError
from rcm_eligibility.domain.registration import CoverageRegistration, PatientRegistration
from rcm_eligibility.registration_service import PreVisitCheck
from rcm_eligibility.service import CheckOutcome, CoverageQuestion, Eligibility, InvalidMemberIdRule

reads = stage_read_router(coverage_checks, tag="eligibility", needs=needs("coverage.read"), status_column="work_queue",
                          queue_path="/work-queue", queue_default=None, time_column="checked_at", phi=PHI)
router = APIRouter(prefix="/v1", tags=["eligibility"])
Use = Provided[Eligibility]
Intake = rate_limit("intake")  # schedule feeds and batch checks, per client (RCM_INTAKE_RATE_PER_S, _BURST)


def _decision_body(claim_id: uuid.UUID, decision: Decision) -> dict:
    return {"claim_id": str(claim_id), "released": decision.hold_reason is None, "hold_reason": decision.hold_reason,
            "work_queue": decision.work_queue, "edits": [e.model_dump(mode="json") for e in decision.edits],
            "eligibility": decision.result.model_dump(mode="json")}


class AuthorizationIn(BaseModel):
    authorization_number: str = Field(min_length=1, max_length=50)


@router.post("/claims/{claim_id}/authorization", dependencies=[needs("coverage.resolve")],
             summary="Attach the payer's prior authorization to a held claim "
                     "and release it")
@audited.phi_change("claim.authorization", "claim", id="claim_id")
async def attach_authorization(claim_id: uuid.UUID, body: AuthorizationIn, tenant_id: TenantId, actor: Actor,
                               eligibility: Use):
    decision = await eligibility.record_authorization(tenant_id, actor, claim_id, body.authorization_number)
    return _decision_body(claim_id, decision)


class RecheckIn(BaseModel):
    member_id: str | None = Field(default=None, min_length=1, max_length=80)


@router.post("/claims/{claim_id}/recheck", dependencies=[needs("coverage.resolve")],
             summary="Ask the payer again (optionally with a corrected member id); "
                     "the claim is released if coverage is now confirmed")
@audited.phi_change("claim.recheck", "claim", id="claim_id")
async def recheck_claim(claim_id: uuid.UUID, body: RecheckIn, tenant_id: TenantId, actor: Actor, eligibility: Use):
    decision = await eligibility.recheck(tenant_id, actor, claim_id, body.member_id)
    return _decision_body(claim_id, decision)


class CheckIn(BaseModel):
    """An on-demand check for front-desk tools: who, which payer, which provider, when, what service."""

    patient: Person
    coverage: Coverage
    provider: Provider
    service_date: IsoDate
    procedure_codes: list[Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{5}$")]] = Field(
        default_factory=lambda: ["99213"], min_length=1, max_length=20)
    place_of_service: str = Field(default="11", pattern=r"^[0-9]{2}$")

    def question(self) -> CoverageQuestion:
        return CoverageQuestion(patient=self.patient, coverage=self.coverage, provider=self.provider,
                                service_date=self.service_date, procedure_codes=tuple(self.procedure_codes),
                                place_of_service=self.place_of_service)


def _check_body(outcome: CheckOutcome) -> dict:
    d = outcome.decision
    return {"eligibility": d.result.model_dump(mode="json"), "problems": [e.model_dump(mode="json") for e in d.edits],
            "benefits": outcome.snapshot.as_json() if outcome.snapshot else None}


@router.post("/eligibility-checks", dependencies=[needs("eligibility.check")],
             summary="Check one patient's coverage now (270/271, cached per member, payer "
                     "and date of service)")
@audited.phi_read("eligibility.check", "patient")
async def check_now(body: CheckIn, tenant_id: TenantId, eligibility: Use) -> dict:
    [outcome] = await eligibility.check(tenant_id, [body.question()])
    return _check_body(outcome)


class BatchIn(BaseModel):
    checks: list[CheckIn] = Field(min_length=1, max_length=100)


@router.post("/eligibility-checks/batch", dependencies=[needs("eligibility.check"), Intake],
             summary="Check up to 100 patients at once (e.g. tomorrow's schedule)")
@audited.phi_read("eligibility.check_batch", "patient")
async def check_batch(body: BatchIn, tenant_id: TenantId, eligibility: Use) -> dict:
    outcomes = await eligibility.check(tenant_id, [c.question() for c in body.checks])
    return {"results": [_check_body(o) for o in outcomes]}


class RegistrationIn(BaseModel):  # noqa: D101 - see validate()
    patient: PatientRegistration
    coverages: list[CoverageRegistration] = Field(default_factory=list, max_length=3)


@router.post("/registrations/validate", dependencies=[needs("patients.register")],
             summary="Validate a patient's registration and coverages before the visit")
@not_audited("validates the caller's own registration: nothing stored, no PHI returned")
async def validate(body: RegistrationIn, tenant_id: TenantId, eligibility: Use) -> dict:
    problems = await eligibility.validate_registration(tenant_id, body.patient, body.coverages)
    return {"valid": not any(p.severity == "error" for p in problems),
            "problems": [p.model_dump(mode="json") for p in problems]}


@router.put("/patients/{patient_id}", dependencies=[needs("patients.register")],
            summary="Register (or update) a patient and their coverages; errors are "
                    "refused with the list of problems, warnings are returned")
@audited.phi_change("patient.register", "patient")  # the trail names the MRN's blind index, not the MRN (PHI)
async def put_patient(patient_id: str, body: RegistrationIn, tenant_id: TenantId, eligibility: Use):
    problems = await eligibility.register(tenant_id, patient_id, body.patient, body.coverages)
    body_out = {"patient_id": patient_id, "problems": [p.model_dump(mode="json") for p in problems]}
    if any(p.severity == "error" for p in problems):
        return JSONResponse(status_code=422, content={"code": "invalid_registration",
                                                      "description": "the registration has errors", **body_out})
    return {"registered": True, **body_out}


def _pre_visit_body(check: PreVisitCheck) -> dict:
    return {"appointment_id": str(check.appointment_id), "status": check.status, "work_queue": check.work_queue,
            "problems": check.problems, "eligibility": check.eligibility}


@router.post("/appointments", dependencies=[needs("appointments.write"), Intake],
             summary="A scheduled visit: verify the registered coverage before the date of service")
@audited.phi_change("appointment.schedule", "appointment")
async def post_appointment(body: AppointmentScheduled, tenant_id: TenantId, eligibility: Use) -> dict:
    return _pre_visit_body(await eligibility.schedule(tenant_id, body))


@router.post("/appointments/fhir", dependencies=[needs("appointments.write"), Intake],
             summary="A scheduled visit as a FHIR R4 Appointment")
@audited.phi_change("appointment.schedule_fhir", "appointment")
async def post_fhir_appointment(request: Request, tenant_id: TenantId, eligibility: Use, source_system: str = "fhir"):
    try:
        raw = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return problem(422, "invalid_json", "body is not JSON")
    try:
        check = await eligibility.schedule_fhir(tenant_id, raw, source_system=source_system)
    except AppointmentError as exc:
        return JSONResponse(status_code=422, content={"code": "invalid_fhir_appointment",
                                                      "description": "the Appointment cannot be checked",
                                                      "errors": exc.errors})
    return _pre_visit_body(check)


@router.get("/appointments", dependencies=[needs("appointments.read")],
            summary="Pre-visit work queue: appointments with problems (or all), by date")
@audited.phi_read("appointments.read", "appointment")
async def list_appointments(tenant_id: TenantId, eligibility: Use, work_queue: str | None = None,
                            on: IsoDate | None = None, limit: int = Query(200, ge=1, le=1000)) -> dict:
    return {"items": await eligibility.appointments(tenant_id, work_queue=work_queue, on=on, limit=limit)}


class MemberIdRuleIn(BaseModel):
    pattern: str = Field(min_length=1, max_length=200, description="regex the whole member id must match",
                         examples=[r"^[1-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9][0-9][AC-HJKMNP-RT-Y][AC-HJKMNP-RT-Y0-9]"
                                   r"[0-9][AC-HJKMNP-RT-Y]{2}[0-9]{2}$"])
    description: str | None = Field(default=None, max_length=200, examples=["Medicare MBI"])


@router.put("/payers/{payer_id}/member-id-rule", dependencies=[needs("settings.write")], tags=["settings"],
            summary="Set the member-id format for one payer ('*' = the default for payers without one)",
            description="Registrations and pre-visit checks of this tenant apply it from now on.")
@not_audited(CONFIGURATION)
async def put_payer_member_id_rule(payer_id: Annotated[str, Path(min_length=1, max_length=80)], body: MemberIdRuleIn,
                                   tenant_id: TenantId, actor: Actor, eligibility: Use) -> dict:
    try:
        await eligibility.set_member_id_rule(tenant_id, actor, payer_id, pattern=body.pattern,
                                             description=body.description)
    except InvalidMemberIdRule as exc:
        return problem(422, "invalid_member_id_rule", str(exc))
    return {"payer_id": payer_id, "pattern": body.pattern, "description": body.description}


@router.get("/member-id-rules", dependencies=[needs("settings.read")],
            tags=["settings"], summary="The tenant's member-id formats per payer")
@not_audited(CONFIGURATION)
async def get_member_id_rules(tenant_id: TenantId, eligibility: Use) -> dict:
    return {"rules": [jsonable(r) for r in await eligibility.member_id_rules(tenant_id)]}


@router.delete("/payers/{payer_id}/member-id-rule", dependencies=[needs("settings.write")],
               tags=["settings"], status_code=204,
               summary="Remove a payer's member-id format (the tenant default applies again)")
@not_audited(CONFIGURATION)
async def delete_payer_member_id_rule(payer_id: str, tenant_id: TenantId, actor: Actor, eligibility: Use):
    await eligibility.remove_member_id_rule(tenant_id, actor, payer_id)  # NoMemberIdRule: 404 not_found
    return Response(status_code=204)
