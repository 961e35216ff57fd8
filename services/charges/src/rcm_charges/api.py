"""HTTP intake, completeness review, chargemaster and read APIs of charges. Thin: validate the HTTP input,
call the `Charges` use cases, map results and errors to responses."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from rcm_contracts.claim import Provider
from rcm_contracts.events import EncounterLine, EncounterSubmitted
from rcm_contracts.envelope import describe_validation_error
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.body_limits import body_limit
from rcm_runtime.rate_limits import rate_limit
from rcm_runtime.reads import jsonable, problem, stage_read_router

from rcm_charges.access import needs
from rcm_charges.db import PHI, encounters
from rcm_charges.domain.fhir_bundle import EncounterOutcome
from rcm_charges.domain.fhir_response import batch_response
from rcm_charges.domain.intake_errors import IntakeError
from rcm_charges.domain.payer_directory import PayerEntry
from rcm_charges.service import CaptureResult, Charges, InvalidChargemaster, NoHl7Message

router = APIRouter(prefix="/v1", tags=["encounters"])
UseCases = Provided[Charges]
Intake = rate_limit("intake")  # per client (RCM_INTAKE_RATE_PER_S, RCM_INTAKE_BURST)
# Intake answers 201 when it captured something new and 200 for a resend (nothing new): both are success.
RESENT = {200: {"description": "a resend: `duplicate` when unchanged, or the next version of a held encounter"}}


def _result_body(r: CaptureResult) -> dict:
    body = {"claim_id": str(r.claim_id), "encounter_id": str(r.encounter_id), "status": r.status}
    if r.missing:
        body["missing"] = r.missing
    return body


def _one(result: CaptureResult, response: Response) -> dict:
    response.status_code = 201 if result.created else 200
    return _result_body(result)


def _many(results: list[CaptureResult]) -> JSONResponse:
    status = 201 if any(r.created for r in results) else 200
    return JSONResponse(status_code=status, content={"encounters": [_result_body(r) for r in results]})


@router.post("/encounters", dependencies=[needs("encounters.submit"), Intake],
             status_code=201, responses=RESENT, summary="Submit an encounter in the OpenRCM JSON format",
             description="201 for a new encounter: `captured` (released to eligibility), `self_pay` (`self_pay: true`: "
                         "released straight to patient billing, no payer billed), `open` (complete, waiting "
                         "out the charge-lag window for late charges) or `held` (completeness review, with what is "
                         "missing). 200 for a resend: `duplicate` when unchanged; a changed "
                         "resend of a held encounter becomes its next version (`captured` or `held`); 409 when the "
                         "claim was already released.")
@audited.money("encounter.submit", "claim")
async def submit_encounter(body: EncounterSubmitted, tenant_id: TenantId, charges: UseCases, response: Response):
    [result] = await charges.capture(tenant_id=tenant_id, submissions=[body], channel="json")
    return _one(result, response)


@router.post("/encounters/fhir", dependencies=[needs("encounters.submit"), Intake], status_code=201, responses=RESENT,
             summary="Submit encounters as a FHIR R4 Bundle (Patient, Coverage, Encounter, Condition, Procedure, "
                     "ChargeItem, Claim): one visit, or a patient's multi-encounter export",
             description="Each Encounter is captured, held (completeness review, with what is missing) or rejected "
                         "(with the field and reason) on its own; a retry of the same Bundle is idempotent per "
                         "encounter. A single-encounter Bundle answers with that encounter's result (422 when it "
                         "is rejected, 409 for a changed resend of a released claim). A multi-encounter Bundle "
                         "answers `{\"encounters\": [...], \"summary\": {...}}`: 201 when any encounter is new, "
                         "200 for a resend, 422 only when every encounter is rejected. With `Accept: "
                         "application/fhir+json` a batch or transaction Bundle is answered with a FHIR "
                         "`batch-response` Bundle (one entry per request entry). The coverage is chosen as FHIR "
                         "says (Claim.insurance focal/sequence, Coverage.order, the one active on the date of "
                         "service); a Coverage whose payor is the Patient or a RelatedPerson makes a self-pay "
                         "encounter. Only a body that is not a FHIR Bundle with an Encounter is rejected whole. "
                         "Services coded only in SNOMED CT or CVX are accepted as they came and reach the coder "
                         "queue once complete.")
@body_limit("max_file_body_bytes")
@audited.money("encounter.submit_fhir", "claim")
async def submit_fhir_bundle(request: Request, tenant_id: TenantId, charges: UseCases, response: Response,
                             source_system: str = "fhir"):
    try:
        bundle = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return problem(422, "invalid_json", "body is not JSON",
                        [{"field": "body", "reason": f"{type(exc).__name__} at position {getattr(exc, 'pos', '?')}"}])
    try:
        intake = await charges.capture_fhir(tenant_id=tenant_id, bundle=bundle, source_system=source_system)
    except IntakeError as exc:
        return problem(422, "invalid_fhir_bundle", "the FHIR Bundle cannot become an encounter", exc.errors)
    items = [_outcome_item(outcome, result) for outcome, result in intake.outcomes]
    if "application/fhir+json" in request.headers.get("accept", "") and intake.bundle_type in ("batch", "transaction"):
        return JSONResponse(batch_response(items, intake.entry_count), media_type="application/fhir+json")
    if len(items) == 1:
        [(_, result)], [item] = intake.outcomes, items
        if result is None:
            return problem(422, "invalid_fhir_bundle", "the FHIR Bundle cannot become an encounter", item["errors"])
        if result.status == "conflict":
            return problem(409, "conflicting_resend", result.reason)
        return _one(result, response)
    if all(item["status"] == "rejected" for item in items):
        return problem(422, "invalid_fhir_bundle", "no encounter of the FHIR Bundle can be captured",
                       [{"encounter": item["entry"], **e} for item in items for e in item["errors"]])
    summary: dict[str, int] = {}
    for item in items:
        summary[item["status"]] = summary.get(item["status"], 0) + 1
    status = 201 if any(item.get("created") for item in items) else 200
    return JSONResponse(status_code=status, content={"encounters": [_public(item) for item in items],
                                                     "summary": summary})


def _outcome_item(outcome: EncounterOutcome, result: CaptureResult | None) -> dict:
    """One encounter of a Bundle: where it sits, its source id, and its result or why it was rejected."""
    item = {"entry": outcome.entry, "entry_index": outcome.entry_index,
            "source_encounter_id": outcome.source_encounter_id}
    if result is None:
        return {**item, "status": "rejected", "errors": list(outcome.errors)}
    item |= _result_body(result) | {"created": result.created}
    if result.reason:
        item["reason"] = result.reason
    return item


def _public(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("entry_index", "created")}


@router.post("/encounters/hl7v2", dependencies=[needs("encounters.submit"), Intake], status_code=201, responses=RESENT,
             summary="Submit HL7 v2 DFT^P03 message(s) (ER7 text; CR, LF or CRLF segment separators)",
             description="All messages are parsed first; if any is rejected nothing is captured and the 422 lists "
                         "the problems per message. Lines without an amount are priced from the chargemaster or "
                         "held in completeness review. Providers: FT1-20 is the performing (rendering) provider, "
                         "FT1-21 the ordering provider (referring on the claim); the billing provider is MSH-4 when "
                         "it carries an NPI, else the tenant's default billing provider. A provider identifier that "
                         "is not an NPI (an e-mail address, 9 digits) holds the encounter in completeness review "
                         "naming the field, rather than rejecting it. HL7 interfaces that speak MLLP use the MLLP "
                         "listener instead (acknowledgments per message; README, HL7 v2 over MLLP).",
             openapi_extra={"requestBody": {"content": {"x-application/hl7-v2+er7": {"schema": {"type": "string"}}}}})
@body_limit("max_file_body_bytes")
@audited.money("encounter.submit_hl7v2", "claim")
async def submit_hl7v2(request: Request, tenant_id: TenantId, charges: UseCases, source_system: str | None = None):
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = (await request.body()).decode("latin-1")  # HL7 v2 default character set (MSH-18 empty)
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte string
            return problem(422, "invalid_hl7", "body is not text")
    try:
        results = await charges.capture_hl7v2(tenant_id=tenant_id, text=text, source_system=source_system)
    except NoHl7Message as exc:
        return problem(422, exc.code, str(exc))
    except IntakeError as exc:
        return problem(422, "invalid_hl7_dft", "the HL7 v2 message(s) cannot become encounters", exc.errors)
    return _many(results)


reads = stage_read_router(encounters, tag="encounters", needs=needs("encounters.read"), status_column="status",
                          queue_path="/encounters", queue_default=None, time_column="received_at", phi=PHI)


@router.patch("/encounters/{claim_id}", dependencies=[needs("encounters.fix")],
              summary="Completeness review: fix a held encounter (merged field by field); "
                      "it is released to eligibility once complete")
@audited.codes("encounter.fix", "claim", id="claim_id")
async def fix_held_encounter(claim_id: uuid.UUID, tenant_id: TenantId, charges: UseCases, actor: Actor,
                             changes: dict[str, Any] = Body(..., examples=[{"diagnoses": ["J069"]}])):
    try:
        result = await charges.fix(tenant_id=tenant_id, claim_id=claim_id, changes=changes, actor=actor)
    except ValidationError as exc:
        return problem(422, "invalid_encounter", describe_validation_error(exc))
    return _result_body(result)


@router.post("/encounters/{claim_id}/lines", dependencies=[needs("encounters.late_charges")],
             summary="Add late charges to an encounter not yet released (held, or "
                     "open inside the charge-lag window)")
@audited.money("encounter.late_charges", "claim", id="claim_id")
async def late_charges(claim_id: uuid.UUID, lines: list[EncounterLine], tenant_id: TenantId, charges: UseCases,
                       actor: Actor):
    try:
        result = await charges.add_late_charges(tenant_id=tenant_id, claim_id=claim_id, actor=actor,
                                                lines=[line.model_dump(mode="json") for line in lines])
    except ValidationError as exc:
        return problem(422, "invalid_encounter", describe_validation_error(exc))
    return _result_body(result)


@router.get("/encounters/{claim_id}/audit", dependencies=[needs("encounters.audit.read")],
            summary="Who changed the encounter, when, and what it was before and after")
@audited.phi_read("encounter.audit.read", "claim", id="claim_id")
async def encounter_audit(claim_id: uuid.UUID, tenant_id: TenantId, charges: UseCases) -> dict:
    rows = await charges.audit_trail(tenant_id=tenant_id, claim_id=claim_id)
    return {"claim_id": str(claim_id), "changes": [jsonable(r) for r in rows]}


@router.post("/chargemaster", dependencies=[needs("chargemaster.write")], tags=["chargemaster"],
             summary="Import chargemaster rows (CSV: code,modifier,price,effective_from,effective_to)",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
@body_limit("max_file_body_bytes")
@audited.money("chargemaster.import", "chargemaster")
async def import_chargemaster(request: Request, tenant_id: TenantId, charges: UseCases, replace: bool = False):
    try:
        csv_text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        return problem(422, "invalid_csv", "body is not UTF-8 text")
    try:
        imported = await charges.import_chargemaster(tenant_id=tenant_id, csv_text=csv_text, replace=replace)
    except InvalidChargemaster as exc:
        return problem(422, exc.code, str(exc), exc.errors)
    return {"imported": imported}


@router.get("/chargemaster", dependencies=[needs("chargemaster.read")],
            tags=["chargemaster"], summary="The tenant's chargemaster rows, optionally for one code")
@not_audited(CONFIGURATION)
async def list_chargemaster(tenant_id: TenantId, charges: UseCases, code: str | None = None,
                            limit: int = Query(500, ge=1, le=5000)) -> dict:
    rows = await charges.chargemaster(tenant_id=tenant_id, code=code, limit=limit)
    return {"items": [jsonable(r) for r in rows]}


@router.put("/settings/default-billing-provider", dependencies=[needs("settings.write")], tags=["settings"],
            summary="Set the billing provider applied to encounters that name none with an NPI",
            description="EHR feeds such as Synthea carry organisations without an NPI; many practices bill every "
                        "encounter under one group NPI. Applies to encounters evaluated from now on (new intake, "
                        "fixes, releases); already released claims are not changed.")
@not_audited(CONFIGURATION)
async def put_default_billing_provider(body: Provider, tenant_id: TenantId, charges: UseCases, actor: Actor) -> dict:
    row = await charges.set_default_billing_provider(tenant_id=tenant_id, provider=body, actor=actor)
    return jsonable(row)


@router.get("/settings/default-billing-provider", dependencies=[needs("settings.read")],
            tags=["settings"], summary="The tenant's default billing provider")
@not_audited(CONFIGURATION)
async def get_default_billing_provider(tenant_id: TenantId, charges: UseCases) -> dict:
    row = await charges.default_billing_provider(tenant_id=tenant_id)
    if row is None:
        return problem(404, "not_configured", "this tenant has no default billing provider")
    return jsonable(row)


@router.delete("/settings/default-billing-provider", dependencies=[needs("settings.write")],
               tags=["settings"], status_code=204,
               summary="Stop applying a default billing provider")
@not_audited(CONFIGURATION)
async def delete_default_billing_provider(tenant_id: TenantId, charges: UseCases, actor: Actor) -> Response:
    await charges.set_default_billing_provider(tenant_id=tenant_id, provider=None, actor=actor)
    return Response(status_code=204)


@router.put("/provider-profiles/{npi}", dependencies=[needs("settings.write")], tags=["settings"],
            summary="Enroll a provider: tax id, address (ZIP+4 for billing), taxonomy, name",
            description="Encounters naming this NPI (billing, rendering or referring) get the fields they left "
                        "empty from here; what the EHR sent wins.")
@not_audited(CONFIGURATION)
async def put_profile(npi: str, body: Provider, tenant_id: TenantId, charges: UseCases, actor: Actor) -> dict:
    if body.npi != npi:
        return problem(422, "npi_mismatch", "the NPI in the path and in the body differ")
    await charges.put_provider_profile(tenant_id=tenant_id, provider=body, actor=actor)
    return body.model_dump(mode="json", exclude_none=True)


@router.get("/provider-profiles", dependencies=[needs("settings.read")],
            tags=["settings"], summary="The tenant's enrolled providers")
@not_audited(CONFIGURATION)
async def list_profiles(tenant_id: TenantId, charges: UseCases) -> dict:
    rows = await charges.provider_profiles(tenant_id=tenant_id)
    return {"providers": [jsonable(r) for r in rows]}


class PayerListingBody(BaseModel):
    name: str = Field(min_length=1, max_length=60)
    aliases: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(default_factory=list, max_length=50)


@router.put("/payers/{payer_id}", dependencies=[needs("settings.write")], tags=["settings"],
            summary="List a payer the tenant bills (its id at the clearinghouse) and the names or ids EHRs send for it",
            description="Once a tenant lists payers, intake maps each encounter's coverage to the listed payer (by id, "
                        "name or alias; e.g. a FHIR export naming 'Medicaid' only) and holds an encounter whose payer "
                        "is not listed in completeness review (`coverage.payer_id`). Held encounters waiting for a "
                        "payer are evaluated again at once: `reevaluated` says how many.")
@audited.money("payer.list", "payer", id="payer_id")  # it may release held encounters as claims
async def put_payer(payer_id: str, body: PayerListingBody, tenant_id: TenantId, charges: UseCases, actor: Actor) -> dict:
    if not payer_id.strip() or len(payer_id) > 80:
        return problem(422, "invalid_payer_id", "a payer id is 1 to 80 characters")
    entry = PayerEntry(payer_id.strip(), body.name.strip(), tuple(a.strip() for a in body.aliases))
    reevaluated = await charges.put_payer(tenant_id=tenant_id, entry=entry, actor=actor)
    return {"payer_id": entry.payer_id, "name": entry.name, "aliases": list(entry.aliases), "reevaluated": reevaluated}


@router.get("/payers", dependencies=[needs("settings.read")], tags=["settings"], summary="The tenant's payer list")
@not_audited(CONFIGURATION)
async def list_payers(tenant_id: TenantId, charges: UseCases) -> dict:
    return {"payers": [jsonable(r) for r in await charges.payers(tenant_id=tenant_id)]}


@router.delete("/payers/{payer_id}", dependencies=[needs("settings.write")], tags=["settings"], status_code=204,
               summary="Remove a payer from the tenant's payer list")
@not_audited(CONFIGURATION)
async def delete_payer(payer_id: str, tenant_id: TenantId, charges: UseCases, actor: Actor) -> Response:
    if not await charges.delete_payer(tenant_id=tenant_id, payer_id=payer_id, actor=actor):
        return problem(404, "not_found", "no such payer in this tenant's list")
    return Response(status_code=204)
