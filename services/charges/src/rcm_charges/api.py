"""HTTP intake, completeness review, chargemaster and read APIs of charges."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import delete, select

from rcm_contracts.claim import Provider
from rcm_contracts.events import EncounterLine, EncounterSubmitted
from rcm_contracts.envelope import describe_validation_error
from rcm_runtime.app import RuntimeDep
from rcm_runtime.auth import TenantId
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.reads import jsonable, problem, stage_read_router

from rcm_charges.db import chargemaster_items, encounters, provider_profiles
from rcm_charges.domain.chargemaster import ChargemasterCsvError, parse_chargemaster_csv
from rcm_charges.domain.fhir_bundle import IntakeError, bundle_to_encounters
from rcm_charges.domain.hl7_dft import dft_to_encounters, split_messages
from rcm_charges.service import (
    Intake, add_late_charges, audit_trail, capture_encounters, default_billing_provider, fix_encounter,
    put_provider_profile, set_default_billing_provider,
)

router = APIRouter(prefix="/v1", tags=["encounters"])
Actor = Annotated[str, Header(alias="X-User", min_length=1, max_length=128,
                              description="the person or system making an audited change")]


def _result_body(r) -> dict:
    body = {"claim_id": str(r.claim_id), "encounter_id": str(r.encounter_id), "status": r.status}
    if r.missing:
        body["missing"] = r.missing
    return body


async def _capture(rt, tenant_id: str, submissions: list[EncounterSubmitted], channel: str) -> list:
    async with rt.transaction() as tx:
        return await capture_encounters(
            tx.conn, lambda _i, ev, key: tx.emit(ev, tenant_id=tenant_id, key=key),
            [Intake(tenant_id, s, channel) for s in submissions],
            charge_lag=timedelta(seconds=rt.settings.charge_lag_s))


async def _capture_one(rt, tenant_id: str, submission: EncounterSubmitted, channel: str, response: Response):
    [result] = await _capture(rt, tenant_id, [submission], channel)
    response.status_code = 201 if result.created else 200
    return _result_body(result)


@router.post("/encounters", status_code=201, summary="Submit an encounter in the OpenRCM JSON format",
             description="201 for a new encounter: `captured` (released to eligibility), `open` (complete, waiting "
                         "out the charge-lag window for late charges) or `held` (completeness review, with what is "
                         "missing). 200 for a resend: `duplicate` when unchanged; a changed "
                         "resend of a held encounter becomes its next version (`captured` or `held`); 409 when the "
                         "claim was already released.")
async def submit_encounter(body: EncounterSubmitted, tenant_id: TenantId, rt: RuntimeDep, response: Response):
    return await _capture_one(rt, tenant_id, body, "json", response)


@router.post("/encounters/fhir", status_code=201,
             summary="Submit an encounter as a FHIR R4 Bundle (Patient, Coverage, Encounter, Condition, Procedure, "
                     "ChargeItem, Claim)",
             description="A single-encounter bundle answers with that encounter's result. A patient's "
                         "multi-encounter export (e.g. Synthea) is split per Encounter and answers "
                         "`{\"encounters\": [...]}`; if any encounter is rejected, nothing is captured and the 422 "
                         "names the encounter of each problem. Services coded only in SNOMED CT or CVX are "
                         "accepted as they came and reach the coder queue once complete.")
async def submit_fhir_bundle(request: Request, tenant_id: TenantId, rt: RuntimeDep, response: Response,
                             source_system: str = "fhir"):
    try:
        bundle = json.loads(await request.body())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return problem(422, "invalid_json", "body is not JSON",
                        [{"field": "body", "reason": f"{type(exc).__name__} at position {getattr(exc, 'pos', '?')}"}])
    try:
        submissions = bundle_to_encounters(bundle, source_system=source_system)
    except IntakeError as exc:
        return problem(422, "invalid_fhir_bundle", "the FHIR Bundle cannot become an encounter", exc.errors)
    if len(submissions) == 1:
        return await _capture_one(rt, tenant_id, submissions[0], "fhir", response)
    results = await _capture(rt, tenant_id, submissions, "fhir")
    status = 201 if any(r.created for r in results) else 200
    return JSONResponse(status_code=status, content={"encounters": [_result_body(r) for r in results]})


@router.post("/encounters/hl7v2", status_code=201,
             summary="Submit HL7 v2 DFT^P03 message(s) (ER7 text; CR, LF or CRLF segment separators)",
             description="All messages are parsed first; if any is rejected nothing is captured and the 422 lists "
                         "the problems per message. Lines without an amount are priced from the chargemaster or "
                         "held in completeness review.",
             openapi_extra={"requestBody": {"content": {"x-application/hl7-v2+er7": {"schema": {"type": "string"}}}}})
async def submit_hl7v2(request: Request, tenant_id: TenantId, rt: RuntimeDep, source_system: str | None = None):
    try:
        text = (await request.body()).decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = (await request.body()).decode("latin-1")  # HL7 v2 default character set (MSH-18 empty)
        except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte string
            return problem(422, "invalid_hl7", "body is not text")
    messages = split_messages(text)
    if not messages:
        return problem(422, "invalid_hl7", "no HL7 v2 message (MSH segment) in the body")
    submissions, errors = [], []
    for i, message in enumerate(messages):
        try:
            submissions += dft_to_encounters(message, source_system=source_system)
        except IntakeError as exc:
            errors += [{"message": i + 1, **e} for e in exc.errors]
    if errors:
        return problem(422, "invalid_hl7_dft", "the HL7 v2 message(s) cannot become encounters", errors)
    results = await _capture(rt, tenant_id, submissions, "hl7v2")
    status = 201 if any(r.created for r in results) else 200
    return JSONResponse(status_code=status, content={"encounters": [_result_body(r) for r in results]})


reads = stage_read_router(encounters, tag="encounters", status_column="status", queue_path="/encounters",
                          queue_default=None, time_column="received_at")


def _changed(result, response: Response) -> dict:
    response.status_code = 200
    return _result_body(result)


@router.patch("/encounters/{claim_id}", summary="Completeness review: fix a held encounter (merged field by field); "
                                                "it is released to eligibility once complete")
async def fix_held_encounter(claim_id: uuid.UUID, tenant_id: TenantId, rt: RuntimeDep, actor: Actor, response: Response,
                             changes: dict[str, Any] = Body(..., examples=[{"diagnoses": ["J069"]}])):
    try:
        async with rt.transaction() as tx:
            result = await fix_encounter(tx.conn, lambda ev, key: tx.emit(ev, tenant_id=tenant_id, key=key),
                                         tenant_id=tenant_id, claim_id=claim_id, changes=changes, actor=actor)
    except ValidationError as exc:
        return problem(422, "invalid_encounter", describe_validation_error(exc))
    return _changed(result, response)


@router.post("/encounters/{claim_id}/lines", summary="Add late charges to an encounter not yet released (held, or "
                                                    "open inside the charge-lag window)")
async def late_charges(claim_id: uuid.UUID, lines: list[EncounterLine], tenant_id: TenantId, rt: RuntimeDep,
                       actor: Actor, response: Response):
    try:
        async with rt.transaction() as tx:
            result = await add_late_charges(tx.conn, lambda ev, key: tx.emit(ev, tenant_id=tenant_id, key=key),
                                            tenant_id=tenant_id, claim_id=claim_id,
                                            lines=[line.model_dump(mode="json") for line in lines], actor=actor)
    except ValidationError as exc:
        return problem(422, "invalid_encounter", describe_validation_error(exc))
    return _changed(result, response)


@router.get("/encounters/{claim_id}/audit", summary="Who changed the encounter, when, and what it was before and after")
async def encounter_audit(claim_id: uuid.UUID, tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        rows = await audit_trail(conn, tenant_id, claim_id)
    return {"claim_id": str(claim_id), "changes": [jsonable(r) for r in rows]}


_import_items = BulkInsert(chargemaster_items, ["tenant_id", "code", "modifier", "price", "effective_from", "effective_to"],
                           on_conflict="ON CONSTRAINT uq_chargemaster_item DO UPDATE SET price = EXCLUDED.price, "
                                       "effective_to = EXCLUDED.effective_to, imported_at = now()")


@router.post("/chargemaster", tags=["chargemaster"],
             summary="Import chargemaster rows (CSV: code,modifier,price,effective_from,effective_to)",
             openapi_extra={"requestBody": {"content": {"text/csv": {"schema": {"type": "string"}}}}})
async def import_chargemaster(request: Request, tenant_id: TenantId, rt: RuntimeDep, replace: bool = False):
    try:
        items = parse_chargemaster_csv((await request.body()).decode("utf-8"))
    except UnicodeDecodeError:
        return problem(422, "invalid_csv", "body is not UTF-8 text")
    except ChargemasterCsvError as exc:
        return problem(422, "invalid_chargemaster", str(exc), exc.errors)
    async with rt.engine.begin() as conn:
        if replace:
            await conn.execute(delete(chargemaster_items).where(chargemaster_items.c.tenant_id == tenant_id))
        await _import_items.execute(conn, [{"tenant_id": tenant_id, "code": i.code, "modifier": i.modifier,
                                            "price": i.price, "effective_from": i.effective_from,
                                            "effective_to": i.effective_to} for i in items])
    return {"imported": len(items)}


@router.get("/chargemaster", tags=["chargemaster"], summary="The tenant's chargemaster rows, optionally for one code")
async def list_chargemaster(tenant_id: TenantId, rt: RuntimeDep, code: str | None = None,
                            limit: int = Query(500, ge=1, le=5000)) -> dict:
    stmt = select(chargemaster_items).where(chargemaster_items.c.tenant_id == tenant_id)
    if code:
        stmt = stmt.where(chargemaster_items.c.code == code.upper())
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(stmt.order_by(chargemaster_items.c.code, chargemaster_items.c.effective_from).limit(limit))).mappings().all()
    return {"items": [jsonable(dict(r)) for r in rows]}


@router.put("/settings/default-billing-provider", tags=["settings"],
            summary="Set the billing provider applied to encounters that name none with an NPI",
            description="EHR feeds such as Synthea carry organisations without an NPI; many practices bill every "
                        "encounter under one group NPI. Applies to encounters evaluated from now on (new intake, "
                        "fixes, releases); already released claims are not changed.")
async def put_default_billing_provider(body: Provider, tenant_id: TenantId, rt: RuntimeDep, actor: Actor) -> dict:
    async with rt.engine.begin() as conn:
        await set_default_billing_provider(conn, tenant_id=tenant_id, provider=body, actor=actor)
        row = await default_billing_provider(conn, tenant_id)
    return jsonable(row)


@router.get("/settings/default-billing-provider", tags=["settings"], summary="The tenant's default billing provider")
async def get_default_billing_provider(tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        row = await default_billing_provider(conn, tenant_id)
    if row is None or row["default_billing_provider"] is None:
        return problem(404, "not_configured", "this tenant has no default billing provider")
    return jsonable(row)


@router.delete("/settings/default-billing-provider", tags=["settings"], status_code=204,
               summary="Stop applying a default billing provider")
async def delete_default_billing_provider(tenant_id: TenantId, rt: RuntimeDep, actor: Actor) -> Response:
    async with rt.engine.begin() as conn:
        await set_default_billing_provider(conn, tenant_id=tenant_id, provider=None, actor=actor)
    return Response(status_code=204)


@router.put("/provider-profiles/{npi}", tags=["settings"],
            summary="Enroll a provider: tax id, address (ZIP+4 for billing), taxonomy, name",
            description="Encounters naming this NPI (billing, rendering or referring) get the fields they left "
                        "empty from here; what the EHR sent wins.")
async def put_profile(npi: str, body: Provider, tenant_id: TenantId, rt: RuntimeDep, actor: Actor) -> dict:
    if body.npi != npi:
        return problem(422, "npi_mismatch", "the NPI in the path and in the body differ")
    async with rt.engine.begin() as conn:
        await put_provider_profile(conn, tenant_id=tenant_id, provider=body, actor=actor)
    return body.model_dump(mode="json", exclude_none=True)


@router.get("/provider-profiles", tags=["settings"], summary="The tenant's enrolled providers")
async def list_profiles(tenant_id: TenantId, rt: RuntimeDep) -> dict:
    async with rt.engine.connect() as conn:
        rows = (await conn.execute(select(provider_profiles).where(provider_profiles.c.tenant_id == tenant_id)
                                   .order_by(provider_profiles.c.npi))).mappings().all()
    return {"providers": [jsonable(dict(r)) for r in rows]}
