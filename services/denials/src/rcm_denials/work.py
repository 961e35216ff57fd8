"""Working denials: the work queue (deadline, days left, priority computed on read with the tenant's payer
deadlines), one item with its history, the actions that move an item (rcm_denials.domain.workflow), payer
deadlines and tenant settings, and the sweep that moves items past their deadline to `expired`.

Each action runs in one unit of work: the item is locked, the state machine decides, the item and its history row
(who, when, status before and after, what was recorded) are written, and the request's audit row commits with
them. A refused action raises Conflict (409) and changes nothing."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_runtime.errors import Conflict, NotFound
from rcm_runtime.outage import Backoff
from rcm_runtime.polling import poll_forever
from rcm_runtime.reads import jsonable
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_contracts.base import Event

from rcm_denials.db import denial_actions, denial_settings, denials, payer_deadlines
from rcm_denials.trends_db import payment_facts
from rcm_denials.domain import workflow
from rcm_denials.domain.priority import (
    DEFAULT_APPEAL_DAYS, DEFAULT_TIMELY_FILING_DAYS, DeadlineDays, days_left, deadline, priority,
)
from rcm_denials.domain.workflow import Move, NotAllowed

log = logging.getLogger("rcm.denials.work")
DEFAULT_WRITE_OFF_APPROVAL_ABOVE = Decimal("100.00")


@dataclass(frozen=True)
class TenantTerms:
    default: DeadlineDays
    by_payer: dict[str, DeadlineDays]
    write_off_approval_above: Decimal

    def days(self, payer_id: str) -> DeadlineDays:
        return self.by_payer.get(payer_id, self.default)


async def tenant_terms(conn: AsyncConnection, tenant_id: str) -> TenantTerms:
    row = (await conn.execute(select(denial_settings).where(denial_settings.c.tenant_id == tenant_id))).mappings().first()
    payers = (await conn.execute(select(payer_deadlines).where(payer_deadlines.c.tenant_id == tenant_id))).mappings()
    default = DeadlineDays(row["appeal_days"], row["timely_filing_days"]) if row else DeadlineDays()
    return TenantTerms(default, {p["payer_id"]: DeadlineDays(p["appeal_days"], p["timely_filing_days"]) for p in payers},
                       row["write_off_approval_above"] if row else DEFAULT_WRITE_OFF_APPROVAL_ABOVE)


def _remitted(row: Any) -> date:
    return row["remittance_date"] or row["recorded_at"].date()


def _due(row: Any, terms: TenantTerms, today: date) -> tuple[date, int, str]:
    """The item's deadline, days left to it, and the status it shows: a workable item past its deadline is expired
    (before the sweep writes it)."""
    due = deadline(_remitted(row), row["service_date"], terms.days(row["payer_id"]))
    left = days_left(due, today)
    status = row["status"]
    return due, left, "expired" if status in workflow.WORKABLE and left < 0 else status


def view(row: Any, terms: TenantTerms, today: date) -> dict[str, Any]:
    """An item as the queue shows it: the stored row plus root cause, deadline, days left, amount at stake,
    priority, and the status it shows (_due)."""
    due, left, status = _due(row, terms, today)
    amount = row["denied_amount"]
    score = priority(amount, row["category"], left) if status in workflow.WORKABLE else Decimal("0.00")
    return {**jsonable(dict(row)), "root_cause": row["category"], "status": status, "deadline": due.isoformat(),
            "days_left": left, "amount": str(amount), "priority": float(score)}


def _one_item(tenant_id: str, denial_id: uuid.UUID):
    """One item of the tenant, with the denied payment's claim number (CLP07): a replacement claim names it."""
    return (select(denials, payment_facts.c.payer_claim_number)
            .outerjoin(payment_facts, (payment_facts.c.tenant_id == denials.c.tenant_id)
                       & (payment_facts.c.remittance_id == denials.c.remittance_id))
            .where(denials.c.tenant_id == tenant_id, denials.c.denial_id == denial_id))


class DenialWork:
    """The work queue's use cases, built once in the composition root."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    def today(self) -> date:
        return self.units.clock.today()

    # -- reads -----------------------------------------------------------------------------------------

    async def queue(self, *, tenant_id: str, root_cause: str | None = None, payer_id: str | None = None,
                    owner: str | None = None, status: str | None = None, work_queue: str | None = None,
                    sort: str = "priority", limit: int = 100, offset: int = 0) -> dict[str, Any]:
        where = [denials.c.tenant_id == tenant_id]
        for column, value in (("category", root_cause), ("payer_id", payer_id), ("owner", owner),
                              ("work_queue", work_queue)):
            if value:
                where.append(denials.c[column] == value)
        today = self.today()
        async with self.units.read(tenant_id) as conn:
            terms = await tenant_terms(conn, tenant_id)
            rows = (await conn.execute(select(denials).where(*where))).mappings().all()
            summary = await self._summary(conn, tenant_id, terms, today)
        items = [view(r, terms, today) for r in rows]
        if status:
            items = [i for i in items if i["status"] == status]
        key: Callable[[dict], Any] = {
            "priority": lambda i: (-i["priority"], i["deadline"], i["denial_id"]),
            "deadline": lambda i: (i["deadline"], -i["priority"], i["denial_id"]),
            "recorded_at": lambda i: (i["recorded_at"], i["denial_id"]),
        }[sort]
        items.sort(key=key)
        return {"total": len(items), "summary": summary, "items": items[offset:offset + limit]}

    async def _summary(self, conn: AsyncConnection, tenant_id: str, terms: TenantTerms, today: date) -> dict:
        """Counts over all of the tenant's items: by root cause, by status (as shown: expired included), the
        unclassified ones and the items carrying codes the lists did not know."""
        rows = (await conn.execute(select(denials.c.category, denials.c.status, denials.c.payer_id,
                                          denials.c.remittance_date, denials.c.recorded_at, denials.c.service_date,
                                          denials.c.denied_amount, func.jsonb_array_length(denials.c.unknown_codes)
                                          .label("unknown")).where(denials.c.tenant_id == tenant_id))).mappings().all()
        by_cause: dict[str, int] = {}
        by_status: dict[str, int] = {}
        for r in rows:
            by_cause[r["category"]] = by_cause.get(r["category"], 0) + 1
            status = _due(r, terms, today)[2]
            by_status[status] = by_status.get(status, 0) + 1
        return {"total": len(rows), "by_root_cause": dict(sorted(by_cause.items())),
                "by_status": dict(sorted(by_status.items())), "unclassified": by_cause.get("unclassified", 0),
                "with_unknown_codes": sum(1 for r in rows if r["unknown"])}

    async def item(self, *, tenant_id: str, denial_id: uuid.UUID) -> dict[str, Any]:
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(_one_item(tenant_id, denial_id))).mappings().first()
            if row is None:
                raise NotFound("no such denial for this tenant")
            terms = await tenant_terms(conn, tenant_id)
            history = (await conn.execute(select(denial_actions).where(
                denial_actions.c.tenant_id == tenant_id, denial_actions.c.denial_id == denial_id)
                .order_by(denial_actions.c.seq))).mappings().all()
        return {**view(row, terms, self.today()), "actions": [jsonable(dict(h)) for h in history]}

    # -- actions ---------------------------------------------------------------------------------------

    async def act(self, *, tenant_id: str, actor: str, denial_id: uuid.UUID, action: str,
                  decide: Callable[[str, Any, TenantTerms], tuple[Move, dict[str, Any], dict[str, Any]]],
                  emit: Callable[[Any, uuid.UUID], tuple[Event, dict[str, Any]]] | None = None) -> dict:
        """Lock the item, let `decide(status shown, row, terms)` return (move, columns to set, detail for the
        history) or raise NotAllowed (409, nothing changed), then write the item and its history row. `emit(row,
        action id)`, when given, returns the action's consequence downstream (an event, published with the
        commit) and more columns to set (what ties the item to it)."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = (await uow.conn.execute(_one_item(tenant_id, denial_id).with_for_update(of=denials))).mappings().first()
            if row is None:
                raise NotFound("no such denial for this tenant")
            terms = await tenant_terms(uow.conn, tenant_id)
            shown = view(row, terms, uow.now().date())["status"]
            action_id = uuid.uuid4()
            try:
                move, changes, detail = decide(shown, row, terms)
                if emit is not None:
                    event, tied = emit(row, action_id)
                    uow.emit(event, key=row["claim_id"])
                    changes = {**changes, **tied}
            except NotAllowed as exc:
                raise Conflict(str(exc)) from None
            now = uow.now()
            # the audit row says what changed: the status before and after and what was recorded (ids, codes,
            # dates and amounts: no PHI)
            uow.audit_detail(action=action, before=shown, after=move.to, recorded=jsonable(detail))
            await uow.conn.execute(update(denials).where(denials.c.denial_id == denial_id)
                                   .values(status=move.to, updated_at=now, **changes))
            await uow.conn.execute(insert(denial_actions).values(
                action_id=action_id, denial_id=denial_id, tenant_id=tenant_id, action=action, actor=actor, at=now,
                from_status=shown, to_status=move.to, detail=jsonable(detail)))
        return await self.item(tenant_id=tenant_id, denial_id=denial_id)

    # -- payer deadlines and tenant settings -----------------------------------------------------------

    async def put_payer_deadline(self, *, tenant_id: str, actor: str, payer_id: str, days: DeadlineDays) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            values = {"tenant_id": tenant_id, "payer_id": payer_id, "appeal_days": days.appeal_days,
                      "timely_filing_days": days.timely_filing_days, "updated_by": actor, "updated_at": uow.now()}
            await uow.conn.execute(pg_insert(payer_deadlines).values(**values).on_conflict_do_update(
                index_elements=["tenant_id", "payer_id"], set_={k: v for k, v in values.items()
                                                                if k not in ("tenant_id", "payer_id")}))
        return await self.payer_deadline(tenant_id=tenant_id, payer_id=payer_id)

    async def payer_deadline(self, *, tenant_id: str, payer_id: str) -> dict:
        """The payer's days, or the tenant's defaults for it (`source` says which)."""
        async with self.units.read(tenant_id) as conn:
            terms = await tenant_terms(conn, tenant_id)
        days = terms.days(payer_id)
        return {"payer_id": payer_id, "appeal_days": days.appeal_days, "timely_filing_days": days.timely_filing_days,
                "source": "payer" if payer_id in terms.by_payer else "tenant_default"}

    async def put_settings(self, *, tenant_id: str, actor: str, days: DeadlineDays, approval_above: Decimal) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            values = {"tenant_id": tenant_id, "appeal_days": days.appeal_days,
                      "timely_filing_days": days.timely_filing_days, "write_off_approval_above": approval_above,
                      "updated_by": actor, "updated_at": uow.now()}
            await uow.conn.execute(pg_insert(denial_settings).values(**values).on_conflict_do_update(
                index_elements=["tenant_id"], set_={k: v for k, v in values.items() if k != "tenant_id"}))
        return await self.settings(tenant_id=tenant_id)

    async def settings(self, *, tenant_id: str) -> dict:
        async with self.units.read(tenant_id) as conn:
            terms = await tenant_terms(conn, tenant_id)
        return {"appeal_days": terms.default.appeal_days, "timely_filing_days": terms.default.timely_filing_days,
                "write_off_approval_above": str(terms.write_off_approval_above)}

    # -- the expiry sweep ------------------------------------------------------------------------------

    async def expire_due(self) -> int:
        """Every tenant's open and in-progress items past their deadline (by the clock) become `expired`, each
        with a history row. The deadline is the one the queue shows (payer row, else tenant default, else 90 /
        365 days)."""
        async with self.units.begin_system() as uow:
            moved = await uow.conn.execute(_expire, {"today": uow.now().date(), "at": uow.now(),
                                                      "workable": sorted(workflow.WORKABLE),
                                                      "appeal_days": DEFAULT_APPEAL_DAYS,
                                                      "filing_days": DEFAULT_TIMELY_FILING_DAYS})
            return len(list(moved))

    async def expire_forever(self, idle_s: float, backoff: Backoff | None = None) -> None:
        await poll_forever(self.expire_due, idle_s=idle_s, log=log, what="denial expiry", backoff=backoff)


# The same deadline as rcm_denials.domain.priority.deadline, in SQL so one statement sweeps every tenant
_expire = text(
    "WITH due AS (SELECT d.denial_id, d.tenant_id, d.status AS from_status FROM denials d "
    "LEFT JOIN payer_deadlines p ON p.tenant_id = d.tenant_id AND p.payer_id = d.payer_id "
    "LEFT JOIN denial_settings s ON s.tenant_id = d.tenant_id "
    "WHERE d.status = ANY(CAST(:workable AS text[])) AND LEAST("
    "COALESCE(d.remittance_date, CAST(d.recorded_at AS date)) + COALESCE(p.appeal_days, s.appeal_days, "
    "CAST(:appeal_days AS integer)), COALESCE(d.service_date + COALESCE(p.timely_filing_days, s.timely_filing_days, "
    "CAST(:filing_days AS integer)), DATE '9999-12-31')) "
    "< CAST(:today AS date) FOR UPDATE OF d SKIP LOCKED), "
    "moved AS (UPDATE denials d SET status = 'expired', updated_at = :at FROM due "
    "WHERE d.denial_id = due.denial_id RETURNING d.denial_id) "
    "INSERT INTO denial_actions (action_id, denial_id, tenant_id, action, actor, at, from_status, to_status, detail) "
    "SELECT gen_random_uuid(), due.denial_id, due.tenant_id, 'expired', 'system:deadline', :at, due.from_status, "
    "'expired', '{}'::jsonb FROM due JOIN moved USING (denial_id) RETURNING denial_id")
