"""patient-billing use cases: one patient balance per (tenant, claim), kept at the claim's running patient
responsibility by every PaymentPosted and PaymentReversed (PatientBalanceOpened when it opens,
PatientBalanceChanged when its amount due changes; a balance at 0 is closed).

Exactly once: the inbox drops a redelivered event; `balance_postings` records each remittance of a tenant once,
so the same remittance posted again as a new event changes nothing. Order: remittance keys every event by the
claim id, so one claim's payments and reversals arrive in posting order; the amount due is replaced by the
event's running total, never added to, so applying them in that order leaves the ledger's figure.
Out of order (a reversal for a payment this service never saw): the reversal's `patient_responsibility_total` is
the ledger's figure after it, so it is applied like any other (a claim without a balance opens one only if the
patient owes something); and if the reversed payment is replayed later, it is recorded as `superseded` and
changes nothing (the reversal already accounts for it).

Self-pay: a SelfPayEncounterCaptured (charges) opens the claim's balance at its full charge, itemized per line, less
the tenant's self-pay discount, once per claim (the (tenant, claim) key: a redelivered or re-emitted event opens
nothing more). No payer is billed, so no remittance should follow; if one does (the patient supplied coverage
later and the claim was billed after all), it applies like any other: the payer's running patient responsibility
replaces the amount due."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Sequence

from sqlalchemy import insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.events import (
    PatientBalanceChanged,
    PatientBalanceOpened,
    PaymentPosted,
    PaymentReversed,
    SelfPayEncounterCaptured,
)
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.errors import Conflict, DomainError, NotFound
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_patient_billing.db import (
    balance_postings,
    patient_balances,
    patient_payments,
    payment_plans,
    self_pay_settings,
)
from rcm_patient_billing.domain.balance import AWAITING, Posting, apply
from rcm_patient_billing.domain.plan import installments_left, schedule
from rcm_patient_billing.domain.self_pay import ZERO, itemize
from rcm_patient_billing.domain.statement import due_date

_insert_balances = BulkInsert(patient_balances, ["statement_id", "remittance_id", "claim_id", "tenant_id", "amount_due",
                                                 "due_date", "status", "last_remittance_id", "updated_at"],
                              on_conflict="(tenant_id, claim_id) DO NOTHING", returning=["statement_id"])
_insert_self_pay = BulkInsert(patient_balances, ["statement_id", "claim_id", "tenant_id", "amount_due", "due_date",
                                                 "status", "origin", "lines", "updated_at"],
                              on_conflict="(tenant_id, claim_id) DO NOTHING", returning=["statement_id"])
_insert_postings = BulkInsert(balance_postings, ["tenant_id", "remittance_id", "claim_id", "kind",
                                                 "reversed_remittance_id", "patient_responsibility",
                                                 "patient_responsibility_total", "statement_id", "effect",
                                                 "amount_due_after"],
                              on_conflict="(tenant_id, remittance_id) DO NOTHING")
# what the batch's remittances already did: seen before (a repost), or reversed before they arrived
# (two joins, not one on `remittance_id = k OR reversed_remittance_id = k`: an OR join cannot use either index and
# read the whole table for every batch, a cost that grew with every posting ever made)
_known = text("WITH k AS (SELECT * FROM unnest(CAST(:tenants AS text[]), CAST(:ids AS uuid[])) AS k(tenant_id, remittance_id)) "
              "SELECT p.tenant_id, p.remittance_id, p.reversed_remittance_id FROM balance_postings p "
              "JOIN k ON p.tenant_id = k.tenant_id AND p.remittance_id = k.remittance_id "
              "UNION ALL "
              "SELECT p.tenant_id, p.remittance_id, p.reversed_remittance_id FROM balance_postings p "
              "JOIN k ON p.tenant_id = k.tenant_id AND p.reversed_remittance_id = k.remittance_id")
_balances = text("SELECT b.tenant_id, b.claim_id, b.statement_id, b.amount_due, b.status FROM patient_balances b "
                 "JOIN unnest(CAST(:tenants AS text[]), CAST(:claims AS uuid[])) AS k(tenant_id, claim_id) "
                 "ON b.tenant_id = k.tenant_id AND b.claim_id = k.claim_id FOR UPDATE OF b")
_update_balances = text(
    "UPDATE patient_balances b SET amount_due = u.amount_due, status = u.status, last_remittance_id = u.remittance_id, "
    "updated_at = u.updated_at, due_date = COALESCE(u.due_date, b.due_date) FROM unnest(CAST(:statement_ids AS uuid[]), "
    "CAST(:amounts AS numeric(12,2)[]), CAST(:statuses AS text[]), CAST(:remittance_ids AS uuid[]), "
    "CAST(:times AS timestamptz[]), CAST(:due_dates AS date[])) "
    "AS u(statement_id, amount_due, status, remittance_id, updated_at, due_date) WHERE b.statement_id = u.statement_id")


def _posting(event: PaymentPosted | PaymentReversed) -> Posting:
    if isinstance(event, PaymentReversed):
        return Posting(event.remittance_id, "reversal", event.patient_responsibility, event.patient_responsibility_total,
                       event.reversed_remittance_id)
    return Posting(event.remittance_id, "payment", event.patient_responsibility, event.patient_responsibility_total,
                   awaiting_payer_id=event.awaiting_payer_id)


class PatientBilling:
    """patient-billing's use cases, built once in the composition root."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def apply_payments(self, deliveries: Sequence[Delivery]) -> int:
        """Posted and reversed payments (each with its unit of work, bound to its tenant; all share one
        connection), in partition order: two selects (the batch's known remittances, its claims' balances,
        locked), then one multi-row insert of postings, one of new balances and one update of changed ones.
        Returns how many balances were opened or changed."""
        if not deliveries:
            return 0
        conn = deliveries[0].uow.conn
        tenants = [d.uow.tenant_id for d in deliveries]
        seen: set[tuple[str, uuid.UUID]] = set()
        reversed_: set[tuple[str, uuid.UUID]] = set()
        for t, rid, rev in await conn.execute(_known, {"tenants": tenants,
                                                       "ids": [d.event.remittance_id for d in deliveries]}):
            seen.add((t, rid))
            if rev is not None:
                reversed_.add((t, rev))
        # (tenant, claim) -> [statement_id, amount_due, is_new, opened_by, due_date, status]
        balances: dict[tuple[str, uuid.UUID], list] = {
            (t, c): [s, a, False, None, None, st] for t, c, s, a, st in await conn.execute(
                _balances, {"tenants": tenants, "claims": [d.event.claim_id for d in deliveries]})}
        postings, touched = [], {}
        now = deliveries[0].uow.now()
        for d in deliveries:
            ev, tenant = d.event, d.uow.tenant_id
            posting = _posting(ev)
            if (tenant, posting.remittance_id) in seen:
                continue  # this remittance was applied already (a repost as a new event)
            seen.add((tenant, posting.remittance_id))
            if posting.reversed_remittance_id is not None:
                reversed_.add((tenant, posting.reversed_remittance_id))
            key = (tenant, ev.claim_id)
            balance = balances.get(key)
            out = apply(None if balance is None else balance[1], posting,
                        already_reversed=(tenant, posting.remittance_id) in reversed_,
                        current_status=None if balance is None else balance[5])
            if balance is None and out.effect in ("opened", "awaiting"):
                balance = balances[key] = [uuid.uuid4(), out.amount_due, True, posting.remittance_id, None, None]
            if out.effect in ("awaiting", "settled"):
                balance[1] = out.amount_due  # recorded, not billed: no statement, no event for the patient
            elif out.effect == "opened":
                balance[1], balance[4] = out.amount_due, due_date(ev.payment_date)
                d.uow.emit(PatientBalanceOpened(claim_id=ev.claim_id, statement_id=balance[0], amount_due=out.amount_due,
                                                due_date=balance[4]), key=ev.claim_id)
            elif out.effect == "changed":
                balance[1] = out.amount_due
                d.uow.emit(PatientBalanceChanged(claim_id=ev.claim_id, statement_id=balance[0],
                                                 previous_amount_due=out.previous, amount_due=out.amount_due,
                                                 status=out.status, remittance_id=posting.remittance_id,
                                                 reason=posting.kind), key=ev.claim_id)
            if out.effect in ("opened", "changed", "awaiting", "settled"):
                balance[5] = out.status
                touched[key] = (posting.remittance_id, out.status)
            postings.append({"tenant_id": tenant, "remittance_id": posting.remittance_id, "claim_id": ev.claim_id,
                             "kind": posting.kind, "reversed_remittance_id": posting.reversed_remittance_id,
                             "patient_responsibility": posting.patient_responsibility,
                             "patient_responsibility_total": posting.total,
                             "statement_id": None if balance is None else balance[0], "effect": out.effect,
                             "amount_due_after": out.amount_due})
        new = [{"statement_id": balances[k][0], "remittance_id": balances[k][3], "claim_id": k[1], "tenant_id": k[0],
                "amount_due": balances[k][1], "due_date": balances[k][4], "status": status,
                "last_remittance_id": rid, "updated_at": now}
               for k, (rid, status) in touched.items() if balances[k][2]]
        if new and len(await _insert_balances.execute(conn, new)) != len(new):
            # another writer opened one of these claims' balances meanwhile: fail the batch (it is retried
            # record by record, and the retry sees that balance)
            raise RuntimeError("a patient balance of this batch was opened concurrently")
        changed = [(balances[k][0], balances[k][1], status, rid, balances[k][4]) for k, (rid, status) in touched.items()
                   if not balances[k][2]]
        if changed:
            await conn.execute(_update_balances, {"statement_ids": [c[0] for c in changed],
                                                  "amounts": [c[1] for c in changed],
                                                  "statuses": [c[2] for c in changed],
                                                  "remittance_ids": [c[3] for c in changed],
                                                  "times": [now] * len(changed),
                                                  "due_dates": [c[4] for c in changed]})
        await _insert_postings.execute(conn, postings)
        return len(touched)

    async def open_self_pay_balances(self, deliveries: Sequence[Delivery]) -> int:
        """Self-pay encounters (SelfPayEncounterCaptured; each delivery with its unit of work, all on one
        connection): one balance per claim at its itemized charges less the tenant's discount, due STATEMENT_TERMS
        after today, and PatientBalanceOpened for each balance opened. A claim that already has a balance (the
        event again, or a remittance that came first) changes nothing; a claim charging 0 opens none. Returns how
        many opened."""
        if not deliveries:
            return 0
        conn = deliveries[0].uow.conn
        tenants = sorted({d.uow.tenant_id for d in deliveries})
        discounts = dict((await conn.execute(select(self_pay_settings.c.tenant_id, self_pay_settings.c.discount_percent)
                                             .where(self_pay_settings.c.tenant_id.in_(tenants)))).all())
        now = deliveries[0].uow.now()
        due = due_date(now.date())  # one clock for the batch
        rows, opened_by = [], {}
        for d in deliveries:
            event: SelfPayEncounterCaptured = d.event
            key = (d.uow.tenant_id, event.claim.claim_id)
            if key in opened_by:
                continue  # the same claim twice in one batch: the first opens it
            lines, total = itemize(event.claim, discounts.get(d.uow.tenant_id, ZERO))
            if total <= 0:
                continue  # nothing to bill
            row = {"statement_id": uuid.uuid4(), "claim_id": event.claim.claim_id, "tenant_id": d.uow.tenant_id,
                   "amount_due": total, "due_date": due, "status": "open",
                   "origin": "self_pay", "lines": [line.as_dict() for line in lines], "updated_at": now}
            rows.append(row)
            opened_by[key] = d
        if not rows:
            return 0
        inserted = {r[0] for r in await _insert_self_pay.execute(conn, rows)}
        for row in rows:
            if row["statement_id"] in inserted:
                opened_by[(row["tenant_id"], row["claim_id"])].uow.emit(
                    PatientBalanceOpened(claim_id=row["claim_id"], statement_id=row["statement_id"],
                                         amount_due=row["amount_due"], due_date=row["due_date"]), key=row["claim_id"])
        return len(inserted)

    # -- the tenant's self-pay discount --------------------------------------------------------------------
    async def set_self_pay_discount(self, *, tenant_id: str, actor: str, percent: Decimal) -> dict:
        """Set (0: no discount) the percentage taken off self-pay statements opened from now on."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            stmt = pg_insert(self_pay_settings).values(tenant_id=tenant_id, discount_percent=percent, updated_by=actor,
                                                       updated_at=uow.now())
            await uow.conn.execute(stmt.on_conflict_do_update(
                index_elements=[self_pay_settings.c.tenant_id],
                set_={k: stmt.excluded[k] for k in ("discount_percent", "updated_by", "updated_at")}))
        return await self.self_pay_discount(tenant_id=tenant_id)

    async def self_pay_discount(self, *, tenant_id: str) -> dict:
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(select(self_pay_settings).where(
                self_pay_settings.c.tenant_id == tenant_id))).mappings().first()
        if row is None:
            return {"discount_percent": ZERO, "updated_by": None, "updated_at": None}
        return {k: row[k] for k in ("discount_percent", "updated_by", "updated_at")}


# ---------------------------------------------------------------- a patient's own account
# What a patient sees of a balance: no remittance ids, and what is left to pay after their own payments.
_account_balances = text(
    "SELECT b.statement_id, b.claim_id, b.amount_due, b.due_date, b.status, b.opened_at, "
    "COALESCE((SELECT sum(p.amount) FROM patient_payments p WHERE p.tenant_id = b.tenant_id "
    "AND p.statement_id = b.statement_id), CAST(0 AS numeric(12, 2))) AS paid_by_patient "
    "FROM patient_balances b WHERE b.tenant_id = :tenant AND b.patient_account = :account "
    "AND (CAST(:statement AS uuid) IS NULL OR b.statement_id = CAST(:statement AS uuid)) "
    "AND b.status <> 'awaiting_insurance' ORDER BY b.opened_at, b.statement_id")


def _with_outstanding(row) -> dict:
    out = dict(row._mapping)
    out["outstanding"] = max(out["amount_due"] - out["paid_by_patient"], Decimal("0.00"))
    return out


class PatientAccounts:
    """The patient-facing use cases: a patient's balances and their payments, always selected by the tenant AND
    the account the patient's token names (another patient's statement is simply not found), and the staff step
    that links a claim's balance to its patient's account."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def link(self, *, tenant_id: str, actor: str, claim_id: uuid.UUID, account: str) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = (await uow.conn.execute(
                update(patient_balances).where(patient_balances.c.tenant_id == tenant_id,
                                               patient_balances.c.claim_id == claim_id)
                .values(patient_account=account, account_linked_by=actor)
                .returning(patient_balances.c.statement_id))).first()
        if row is None:
            raise NotFound("no patient balance for this claim and tenant")
        return {"claim_id": str(claim_id), "statement_id": str(row.statement_id), "patient_account": account}

    async def balances(self, *, tenant_id: str, account: str, statement_id: uuid.UUID | None = None) -> list[dict]:
        """The account's billed balances (one claim each), oldest first."""
        async with self.units.read(tenant_id) as conn:
            rows = await conn.execute(_account_balances, {"tenant": tenant_id, "account": account,
                                                          "statement": statement_id})
            return [_with_outstanding(r) for r in rows]

    async def balance(self, *, tenant_id: str, account: str, statement_id: uuid.UUID) -> dict:
        found = await self.balances(tenant_id=tenant_id, account=account, statement_id=statement_id)
        if not found:
            raise NotFound("no such statement for this patient")
        return found[0]

    async def pay(self, *, tenant_id: str, account: str, actor: str, statement_id: uuid.UUID, amount: Decimal,
                  reference: str) -> tuple[dict, bool]:
        """Record the patient's payment toward their own statement, once per reference: the same reference sent
        again answers the payment it made (False: nothing new); reused for another statement or amount, 409. More
        than is left to pay is refused (422). Returns (payment, created)."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            conn = uow.conn
            # the balance, locked: two payments of the same statement at once are applied one after the other
            locked = (await conn.execute(
                select(patient_balances.c.statement_id).where(
                    patient_balances.c.tenant_id == tenant_id, patient_balances.c.patient_account == account,
                    patient_balances.c.statement_id == statement_id,
                    patient_balances.c.status != AWAITING).with_for_update())).first()
            if locked is None:
                raise NotFound("no such statement for this patient")
            earlier = (await conn.execute(select(patient_payments).where(
                patient_payments.c.tenant_id == tenant_id, patient_payments.c.patient_account == account,
                patient_payments.c.reference == reference))).mappings().first()
            if earlier is not None:
                if earlier["statement_id"] != statement_id or earlier["amount"] != amount:
                    raise Conflict("this payment reference was used for another payment")
                return dict(earlier), False
            [current] = [_with_outstanding(r) for r in await conn.execute(
                _account_balances, {"tenant": tenant_id, "account": account, "statement": statement_id})]
            if amount > current["outstanding"]:
                raise DomainError("the payment is more than is left to pay on this statement")
            payment = {"payment_id": uuid.uuid4(), "tenant_id": tenant_id, "patient_account": account,
                       "statement_id": statement_id, "amount": amount, "reference": reference, "paid_by": actor,
                       "paid_at": uow.now()}
            await conn.execute(insert(patient_payments).values(**payment))
        return payment, True

    async def set_plan(self, *, tenant_id: str, actor: str, account: str, installment: Decimal, day_of_month: int,
                       starts_on: date) -> dict:
        """Billing staff set (or replace) an account's payment plan."""
        row = {"tenant_id": tenant_id, "patient_account": account, "installment": installment,
               "day_of_month": day_of_month, "starts_on": starts_on, "set_by": actor}
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            stmt = pg_insert(payment_plans).values(**row, set_at=uow.now())
            await uow.conn.execute(stmt.on_conflict_do_update(
                index_elements=[payment_plans.c.tenant_id, payment_plans.c.patient_account],
                set_={k: stmt.excluded[k] for k in ("installment", "day_of_month", "starts_on", "set_by", "set_at")}))
        return await self.plan(tenant_id=tenant_id, account=account)

    async def plan(self, *, tenant_id: str, account: str) -> dict:
        """The account's plan and its schedule over what is left to pay on its statements."""
        async with self.units.read(tenant_id) as conn:
            plan = (await conn.execute(select(payment_plans).where(
                payment_plans.c.tenant_id == tenant_id,
                payment_plans.c.patient_account == account))).mappings().first()
        if plan is None:
            raise NotFound("no payment plan for this account")
        outstanding = sum((b["outstanding"] for b in await self.balances(tenant_id=tenant_id, account=account)),
                          Decimal("0.00"))
        due = schedule(outstanding, plan["installment"], plan["day_of_month"], plan["starts_on"], self.units.clock.today())
        return {"installment": plan["installment"], "day_of_month": plan["day_of_month"],
                "starts_on": plan["starts_on"], "outstanding": outstanding,
                "installments_left": installments_left(outstanding, plan["installment"]),
                "next_installments": [{"due_on": i.due_on.isoformat(), "amount": str(i.amount)} for i in due]}
