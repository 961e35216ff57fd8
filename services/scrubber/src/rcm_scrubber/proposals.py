"""Rule proposals use cases: keep each DenialRuleRecommended as a proposed custom rule (once per recommendation id),
list them, approve one (the payer's next rule-set version carries the rule: it runs on claims scrubbed from then on)
or dismiss it. Approve and dismiss act on proposed ones only."""

from __future__ import annotations

import uuid
from typing import Any, Sequence

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.events import DenialRuleRecommended
from rcm_runtime.consumer import Delivery
from rcm_runtime.errors import Conflict, NotFound
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_scrubber.db import rule_proposals, rule_sets
from rcm_scrubber.domain.proposals import next_version, proposed_rule
from rcm_scrubber.domain.rule_sets import RuleSetError, parse_rule_set, payer_key
from rcm_scrubber.service import add_rule_set, lock_rule_sets


class NotProposed(Conflict):
    code = "not_proposed"


async def accept_recommendations(recommended: Sequence[Delivery]) -> int:
    """Each recommendation once per (tenant, id); a rule the scrubber could not run is skipped (it cannot be
    approved): denials builds it from codes, so this does not happen unless the two disagree on the rule's shape."""
    rows = []
    for d in recommended:
        ev: DenialRuleRecommended = d.event
        try:
            rule = proposed_rule(ev)
        except RuleSetError:
            continue
        rows.append({"proposal_id": ev.recommendation_id, "tenant_id": d.uow.tenant_id, "payer_id": ev.payer_id,
                     "procedure_code": ev.procedure_code, "carc": ev.carc, "count": ev.count,
                     "threshold": ev.threshold, "window_start": ev.window_start, "window_end": ev.window_end,
                     "denied_amount": ev.denied_amount, "rule": rule, "status": "proposed"})
    if not rows:
        return 0
    done = await recommended[0].uow.conn.execute(pg_insert(rule_proposals).values(rows).on_conflict_do_nothing()
                                                 .returning(rule_proposals.c.proposal_id))
    return len(done.all())


async def list_proposals(conn: AsyncConnection, tenant_id: str, *, status: str | None, payer_id: str | None,
                         limit: int, offset: int) -> tuple[int, list[dict[str, Any]]]:
    where = [rule_proposals.c.tenant_id == tenant_id]
    if status:
        where.append(rule_proposals.c.status == status)
    if payer_id:
        where.append(rule_proposals.c.payer_id == payer_id)
    total = await conn.scalar(select(func.count()).select_from(rule_proposals).where(*where))
    rows = await conn.execute(select(rule_proposals).where(*where)
                              .order_by(rule_proposals.c.created_at.desc(), rule_proposals.c.proposal_id)
                              .limit(limit).offset(offset))
    return total, [dict(r) for r in rows.mappings()]


async def _proposed(uow: UnitOfWork, proposal_id: uuid.UUID):
    row = (await uow.conn.execute(select(rule_proposals).where(
        rule_proposals.c.tenant_id == uow.tenant_id, rule_proposals.c.proposal_id == proposal_id)
        .with_for_update())).mappings().first()
    if row is None:
        raise NotFound("no such rule proposal for this tenant")
    if row["status"] != "proposed":
        raise NotProposed(f"the proposal is {row['status']} already")
    return row


async def approve(uow: UnitOfWork, proposal_id: uuid.UUID, note: str | None) -> dict[str, Any]:
    """The rule joins the payer's rule set as its next version (created by the approver)."""
    row = await _proposed(uow, proposal_id)
    payer = payer_key(row["payer_id"])
    await lock_rule_sets(uow, payer)  # another approval for the payer waits, then builds on this version
    latest = (await uow.conn.execute(select(rule_sets.c.document).where(
        rule_sets.c.tenant_id == uow.tenant_id, rule_sets.c.payer_id == payer)
        .order_by(rule_sets.c.version.desc()).limit(1))).scalar()
    document = next_version(uow.tenant_id, payer, parse_rule_set(latest) if latest else None, row["rule"])
    stored = await add_rule_set(uow, document.model_dump(mode="json", exclude_none=True))
    return await _decide(uow, row, "approved", note, rule_set_version=stored.version)


async def dismiss(uow: UnitOfWork, proposal_id: uuid.UUID, note: str | None) -> dict[str, Any]:
    return await _decide(uow, await _proposed(uow, proposal_id), "dismissed", note)


async def _decide(uow: UnitOfWork, row, status: str, note: str | None, **extra) -> dict[str, Any]:
    done = await uow.conn.execute(update(rule_proposals).where(
        rule_proposals.c.tenant_id == uow.tenant_id, rule_proposals.c.proposal_id == row["proposal_id"])
        .values(status=status, decided_by=uow.actor, decided_at=func.now(), note=note, **extra)
        .returning(*rule_proposals.c))
    return dict(done.mappings().one())


class Proposals:
    """Rule-proposal use cases, built once in the composition root."""

    def __init__(self, units) -> None:
        self.units = units

    async def accept(self, recommended: Sequence[Delivery]) -> int:
        return await accept_recommendations(recommended)

    async def list(self, tenant_id: str, *, status: str | None, payer_id: str | None, limit: int,
                   offset: int) -> tuple[int, list[dict[str, Any]]]:
        async with self.units.read(tenant_id) as conn:
            return await list_proposals(conn, tenant_id, status=status, payer_id=payer_id, limit=limit, offset=offset)

    async def approve(self, *, tenant_id: str, proposal_id: uuid.UUID, actor: str, note: str | None) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await approve(uow, proposal_id, note)

    async def dismiss(self, *, tenant_id: str, proposal_id: uuid.UUID, actor: str, note: str | None) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await dismiss(uow, proposal_id, note)
