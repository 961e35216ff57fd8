"""Read APIs of patient-billing (staff), the patient-facing account routes and the staff step linking a balance to
its patient's account."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated

from rcm_contracts.dates import IsoDate

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from rcm_contracts.claim import Money
from rcm_runtime.app import Provided
from rcm_runtime.audit import CONFIGURATION, audited, not_audited
from rcm_runtime.auth import Actor, Caller, Forbidden, TenantId
from rcm_runtime.reads import jsonable, stage_read_router
from rcm_runtime.roles import Role

from rcm_patient_billing.access import needs
from rcm_patient_billing.db import patient_balances
from rcm_patient_billing.service import PatientAccounts, PatientBilling

router = stage_read_router(patient_balances, tag="patient-billing", needs=needs("balances.read"),
                           status_column="status", queue_path="/balances", queue_default=None, time_column="opened_at")
accounts = APIRouter(prefix="/v1", tags=["patient account"])
settings = APIRouter(prefix="/v1", tags=["settings"])
Accounts = Provided[PatientAccounts]
Billing = Provided[PatientBilling]


def _own_account(caller: Caller) -> str:
    """The account a patient's token names (claim `rcm_patient`, settings.auth_patient_claim). Without it nobody's
    account is meant, whatever the roles (an admin's or auditor's token included): 403."""
    if caller.patient_account is None:
        raise Forbidden("account.own", frozenset({Role.PATIENT}))  # not a permission: the rcm_patient claim
    return caller.patient_account


OwnAccount = Annotated[str, Depends(_own_account)]


class AccountLink(BaseModel):
    patient_account: str = Field(min_length=1, max_length=64, description="the practice's guarantor account id")


@accounts.put("/claims/{claim_id}/patient-account", dependencies=[needs("accounts.write")],
              summary="Link a claim's patient balance to its patient's account (what the patient's token names)")
@audited.phi_change("patient_account.link", "claim", id="claim_id")
async def link_account(claim_id: uuid.UUID, body: AccountLink, tenant_id: TenantId, actor: Actor,
                       use: Accounts) -> dict:
    return await use.link(tenant_id=tenant_id, actor=actor, claim_id=claim_id, account=body.patient_account)


@accounts.get("/patient/balances", dependencies=[needs("account.read")],
              summary="The calling patient's statements: amount due, due date, paid by them, left to pay")
@audited.phi_read("patient.balances.read", "patient_account")
async def my_balances(tenant_id: TenantId, account: OwnAccount, use: Accounts) -> dict:
    return {"items": [jsonable(b) for b in await use.balances(tenant_id=tenant_id, account=account)]}


@accounts.get("/patient/balances/{statement_id}", dependencies=[needs("account.read")],
              summary="One of the calling patient's statements (404 for anyone else's)")
@audited.phi_read("patient.balance.read", "statement", id="statement_id")
async def my_balance(statement_id: uuid.UUID, tenant_id: TenantId, account: OwnAccount, use: Accounts) -> dict:
    return jsonable(await use.balance(tenant_id=tenant_id, account=account, statement_id=statement_id))


class PaymentIn(BaseModel):
    amount: Money = Field(gt=0)
    reference: str = Field(min_length=1, max_length=100,
                           description="the client's idempotency key: the same reference again is the same payment")


@accounts.post("/patient/balances/{statement_id}/payments", dependencies=[needs("account.pay")], status_code=201,
               responses={200: {"description": "the same reference again: the payment it made, nothing new"}},
               summary="Pay toward one of the calling patient's statements (at most what is left to pay)")
@audited.money("patient.payment", "statement", id="statement_id")
async def pay(statement_id: uuid.UUID, body: PaymentIn, tenant_id: TenantId, account: OwnAccount, actor: Actor,
              use: Accounts, response: Response) -> dict:
    payment, created = await use.pay(tenant_id=tenant_id, account=account, actor=actor, statement_id=statement_id,
                                     amount=body.amount, reference=body.reference)
    response.status_code = 201 if created else 200
    return jsonable({k: v for k, v in payment.items() if k != "tenant_id"})


class PlanIn(BaseModel):
    installment: Money = Field(gt=0, description="the monthly amount")
    day_of_month: int = Field(ge=1, le=28)
    starts_on: IsoDate


@accounts.put("/patient-accounts/{patient_account}/payment-plan", dependencies=[needs("accounts.write")],
              summary="Set (or replace) a patient account's payment plan: a monthly installment on a day")
@audited.money("payment_plan.set", "patient_account", id="patient_account")
async def set_plan(patient_account: Annotated[str, Path(min_length=1, max_length=64)], body: PlanIn,
                   tenant_id: TenantId, actor: Actor, use: Accounts) -> dict:
    return jsonable(await use.set_plan(tenant_id=tenant_id, actor=actor, account=patient_account,
                                       installment=body.installment, day_of_month=body.day_of_month,
                                       starts_on=body.starts_on))


@accounts.get("/patient/payment-plan", dependencies=[needs("account.read")],
              summary="The calling patient's payment plan and its next installments (404 without one)")
@audited.phi_read("patient.plan.read", "patient_account")
async def my_plan(tenant_id: TenantId, account: OwnAccount, use: Accounts) -> dict:
    return jsonable(await use.plan(tenant_id=tenant_id, account=account))


class SelfPayDiscountIn(BaseModel):
    discount_percent: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2,
                                      description="taken off every line of a self-pay statement; 0: no discount")


@settings.put("/settings/self-pay-discount", dependencies=[needs("settings.write")],
              summary="Set the tenant's self-pay discount (a percentage off self-pay statements opened from now on)",
              description="Statements already opened keep their amounts. 0 stops discounting.")
@not_audited(CONFIGURATION)
async def put_self_pay_discount(body: SelfPayDiscountIn, tenant_id: TenantId, actor: Actor, billing: Billing) -> dict:
    return jsonable(await billing.set_self_pay_discount(tenant_id=tenant_id, actor=actor,
                                                        percent=body.discount_percent))


@settings.get("/settings/self-pay-discount", dependencies=[needs("settings.read")],
              summary="The tenant's self-pay discount (0 when none is set)")
@not_audited(CONFIGURATION)
async def get_self_pay_discount(tenant_id: TenantId, billing: Billing) -> dict:
    return jsonable(await billing.self_pay_discount(tenant_id=tenant_id))
