"""remittance: remittance intake (835 files and the JSON advice), files and their findings, held files'
release/reject, the claim ledger and the unmatched queue."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from pydantic_core import to_json

from rcm_contracts.dates import IsoDate
from rcm_contracts.wire import RemittanceAdvice
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.app import Provided
from rcm_runtime.auth import Actor, TenantId
from rcm_runtime.body_limits import body_limit
from rcm_runtime.rate_limits import rate_limit

from rcm_remittance.access import needs
from rcm_remittance.service import FileResult, Remittance, RemittanceQueries

router = APIRouter(prefix="/v1", tags=["remittance"])

Intake = rate_limit("intake")  # per client (RCM_INTAKE_RATE_PER_S, RCM_INTAKE_BURST)


class Decision(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class Match(BaseModel):
    claim_id: uuid.UUID
    reason: str = Field(default="matched by an operator", min_length=1, max_length=500)


def _answer(result: FileResult):
    """200 with the file's outcome; a rejected file (unreadable, truncated, not 5010) answers 422 invalid_835
    with the reason and the stored file's id."""
    body = result.as_json()
    if result.status == "rejected":
        return JSONResponse(status_code=422, content={"code": "invalid_835", "description": result.reason,
                                                      "file_id": body["file_id"], "status": "rejected"})
    # plain JSON already: no jsonable_encoder walk over 10,000 outcomes, and pydantic-core writes what
    # JSONResponse's json.dumps would (compact, UTF-8), a few times faster
    return Response(content=to_json(body), media_type="application/json")


@router.post("/remittances", dependencies=[needs("remittances.post"), Intake],
             summary="Post an ERA as JSON (RemittanceAdvice): the same identity, tenant and "
                     "balancing rules as an 835")
@body_limit("max_file_body_bytes")
@audited.money("remittance.post", "remittance_file")
async def post_era(body: RemittanceAdvice, tenant_id: TenantId, actor: Actor, remittance: Provided[Remittance]):
    return _answer(await remittance.post_advice(tenant_id=tenant_id, actor=actor, era=body))


@router.post("/remittances/x12", dependencies=[needs("remittances.post"), Intake],
             summary="Post an X12 835 file (005010X221A1, any number of interchanges): stored "
                     "verbatim, balanced, each claim payment posted once to this tenant's claims",
             openapi_extra={"requestBody": {"content": {"application/edi-x12": {"schema": {"type": "string"}}}}})
@body_limit("max_file_body_bytes")
@audited.money("remittance.post_x12", "remittance_file")
async def post_x12_era(request: Request, tenant_id: TenantId, actor: Actor, remittance: Provided[Remittance]):
    text = (await request.body()).decode("utf-8", errors="replace")
    return _answer(await remittance.post_x12(tenant_id=tenant_id, actor=actor, text=text))


@router.get("/remittances", dependencies=[needs("remittances.read")],
            summary="Remittance files received, newest first (filters: status, payer, received "
                    "from/to, payment date)")
@audited.phi_read("remittances.read", "remittance_file")
async def list_files(tenant_id: TenantId, queries: Provided[RemittanceQueries], status: str | None = None,
                     payer: str | None = None, received_from: IsoDate | None = None, received_to: IsoDate | None = None,
                     payment_date: IsoDate | None = None,
                     date_: IsoDate | None = Query(None, alias="date", description="received on this day (UTC)"),
                     limit: int = Query(50, ge=1, le=500),
                     offset: int = Query(0, ge=0)) -> dict:
    return await queries.files(tenant_id=tenant_id, status=status, payer=payer, received_from=received_from,
                               received_to=received_to, payment_date=payment_date, received_on=date_, limit=limit,
                               offset=offset)


@router.get("/remittances/{file_id}", dependencies=[needs("remittances.read")],
            summary="A remittance file: status, findings (envelope errors, warnings, "
                    "imbalances), per claim payment its outcome, and the payments posted")
@audited.phi_read("remittance.read", "remittance_file", id="file_id")
async def read_file(file_id: uuid.UUID, tenant_id: TenantId, queries: Provided[RemittanceQueries]):
    return await queries.file(tenant_id=tenant_id, file_id=file_id)


@router.post("/remittances/{file_id}/release", dependencies=[needs("remittances.review")],
             summary="Post a held file as it is (audited: who and why)")
@audited.money("remittance.release", "remittance_file", id="file_id")
async def release(file_id: uuid.UUID, body: Decision, tenant_id: TenantId, actor: Actor,
                  remittance: Provided[Remittance]):
    return (await remittance.release(tenant_id=tenant_id, actor=actor, file_id=file_id, reason=body.reason)).as_json()


@router.post("/remittances/{file_id}/reject", dependencies=[needs("remittances.review")],
             summary="Reject a held file: nothing of it is posted (audited)")
@audited.money("remittance.reject", "remittance_file", id="file_id")
async def reject(file_id: uuid.UUID, body: Decision, tenant_id: TenantId, actor: Actor,
                 remittance: Provided[Remittance]):
    return (await remittance.reject(tenant_id=tenant_id, actor=actor, file_id=file_id, reason=body.reason)).as_json()


@router.get("/claims/{claim_id}/ledger", dependencies=[needs("ledger.read")],
            summary="A claim's ledger: its entries and totals (decimal strings); "
                    "only the claim's own tenant sees it")
@audited.phi_read("ledger.read", "claim", id="claim_id")
async def claim_ledger(claim_id: uuid.UUID, tenant_id: TenantId, queries: Provided[RemittanceQueries]):
    return await queries.claim_ledger(tenant_id=tenant_id, claim_id=claim_id)


@router.get("/unmatched-payments", dependencies=[needs("remittances.read")],
            summary="Claim payments that name no claim of this tenant (or were held): "
                    "to match to a claim or return")
@audited.phi_read("unmatched.read", "unmatched_payment")
async def list_unmatched(tenant_id: TenantId, queries: Provided[RemittanceQueries],
                         status: str | None = "unmatched", limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0)) -> dict:
    return await queries.unmatched(tenant_id=tenant_id, status=status, limit=limit, offset=offset)


@router.post("/unmatched-payments/{unmatched_id}/match", dependencies=[needs("unmatched.resolve")],
             summary="Post an unmatched payment to a claim of this "
                     "tenant (audited)")
@audited.money("unmatched.match", "unmatched_payment", id="unmatched_id")
async def match(unmatched_id: int, body: Match, tenant_id: TenantId, actor: Actor, remittance: Provided[Remittance]):
    return await remittance.match(tenant_id=tenant_id, actor=actor, unmatched_id=unmatched_id,
                                  claim_id=body.claim_id, reason=body.reason)


@router.post("/unmatched-payments/{unmatched_id}/return", dependencies=[needs("unmatched.resolve")],
             summary="Return an unmatched or held payment to the "
                     "payer: never posted (audited, with the reason)")
@audited.money("unmatched.return", "unmatched_payment", id="unmatched_id")
async def return_payment(unmatched_id: int, body: Decision, tenant_id: TenantId, actor: Actor,
                         remittance: Provided[Remittance]):
    return await remittance.return_payment(tenant_id=tenant_id, actor=actor, unmatched_id=unmatched_id,
                                           reason=body.reason)


# ---------------------------------------------------------------- deposits (ERA-to-deposit reassociation)

from typing import Literal  # noqa: E402

from rcm_remittance.service import Deposits  # noqa: E402

SINCE = Query(None, description="the window's first day (default: 120 days before the newest deposit); deposits matched before it are "
                                "not shown, unmatched ones and ERAs without a deposit always are")


@router.post("/deposits", dependencies=[needs("deposits.post"), Intake],
             summary="Record bank deposits from a BAI2 file or a CSV export (date,amount,trace): each "
                     "stored once per tenant (the same file again adds nothing); answers the count "
                     "stored and the reassociation with the ERAs",
             openapi_extra={"requestBody": {"content": {"text/plain": {"schema": {"type": "string"}},
                                                        "application/octet-stream": {"schema": {"type": "string"}}}}})
@body_limit("max_file_body_bytes")
@audited.money("deposits.post", "deposit_file")
async def post_deposits(request: Request, tenant_id: TenantId, actor: Actor, deposits: Provided[Deposits],
                        format: Literal["bai2", "csv"] | None = Query(
                            None, description="bai2 or csv; default: bai2 when the file starts with an 01 record"),
                        since: IsoDate | None = SINCE):
    return await deposits.upload(tenant_id=tenant_id, actor=actor, content=await request.body(), fmt=format,
                                 since=since)


@router.get("/deposits/reassociation", dependencies=[needs("deposits.read")],
            summary="Deposits matched to ERAs (by TRN02 trace and amount), amount "
                    "mismatches with the difference, unmatched deposits and ERAs "
                    "without a deposit")
@not_audited("bank deposits and ERA traces: no patient data")
async def deposit_reassociation(tenant_id: TenantId, actor: Actor, deposits: Provided[Deposits],
                                since: IsoDate | None = SINCE):
    return await deposits.reassociation(tenant_id=tenant_id, actor=actor, since=since)


# ---------------------------------------------------------------- payer contracts and underpayments

from decimal import Decimal  # noqa: E402

from fastapi import Path as PathParam  # noqa: E402

from rcm_remittance.underpaid import ContractTerms, Contracts  # noqa: E402

PayerId = Annotated[str, PathParam(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9][A-Za-z0-9 ._-]*$",
                                   description="the payer as its 835s name it (N1*PR N104 / REF*2U, or TRN03)")]


class MedicareTerms(BaseModel):
    percent: Decimal = Field(gt=0, le=1000, max_digits=7, decimal_places=3,
                             description="percentage of the Medicare allowed amount, e.g. 120")
    mac: str = Field(pattern=r"^\d{5}$", description="Medicare Administrative Contractor number, e.g. 01112")
    locality: str = Field(pattern=r"^\d{1,2}$", description="locality number within the MAC, e.g. 05")


class ToleranceTerms(BaseModel):
    absolute: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=2,
                                     description="dollars a line or claim may fall short without a flag")
    percent: Decimal | None = Field(default=None, ge=0, le=100, max_digits=7, decimal_places=3,
                                    description="percent of the expected amount it may fall short")


class ContractBody(BaseModel):
    fee_table: str | None = Field(default=None, max_length=5_000_000,
                                  description="fee table CSV: header code,modifier,amount,effective_from,effective_to")
    medicare: MedicareTerms | None = None
    tolerance: ToleranceTerms = Field(default_factory=ToleranceTerms)
    reason: str = Field(default="contract terms updated", min_length=1, max_length=500)


@router.put("/payers/{payer_id}/contract", dependencies=[needs("contracts.write")],
            summary="Set this tenant's contract with a payer: a fee table CSV and/or a "
                    "percentage of the Medicare fee schedule, and the underpayment "
                    "tolerance (audited)")
@body_limit("max_file_body_bytes")
@audited.money("contract.put", "payer_contract", id="payer_id")
async def put_contract(payer_id: PayerId, body: ContractBody, tenant_id: TenantId, actor: Actor,
                       contracts: Provided[Contracts]):
    terms = ContractTerms(fee_table=body.fee_table, medicare_percent=body.medicare.percent if body.medicare else None,
                          mac=body.medicare.mac if body.medicare else None,
                          locality=body.medicare.locality if body.medicare else None,
                          tolerance_absolute=body.tolerance.absolute, tolerance_percent=body.tolerance.percent)
    return await contracts.put(tenant_id=tenant_id, actor=actor, payer_id=payer_id, terms=terms, reason=body.reason)


@router.get("/payers/{payer_id}/contract", dependencies=[needs("contracts.read")],
            summary="This tenant's contract with a payer")
@not_audited(CONFIGURATION)
async def get_contract(payer_id: PayerId, tenant_id: TenantId, contracts: Provided[Contracts]):
    return await contracts.get(tenant_id=tenant_id, payer_id=payer_id)


@router.get("/claims/{claim_id}/underpayments", dependencies=[needs("contracts.read")],
            summary="A claim's payments paid incorrectly (below the contract "
                    "beyond its tolerance): expected vs actual allowed per line")
@audited.phi_read("underpayments.read", "claim", id="claim_id")
async def claim_underpayments(claim_id: uuid.UUID, tenant_id: TenantId, contracts: Provided[Contracts]) -> dict:
    return await contracts.underpayments(tenant_id=tenant_id, claim_id=claim_id)
