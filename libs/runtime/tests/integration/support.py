"""Shared pieces of the runtime integration tests: an effects table and a handler that counts."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import Column, Integer, MetaData, Table, Text, select, text
from sqlalchemy.dialects.postgresql import insert

from rcm_contracts.envelope import Envelope, new_envelope
from rcm_contracts.events import PatientBalanceOpened
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork
from rcm_runtime.errors import DomainError

effects_md = MetaData()
effects = Table("effects", effects_md, Column("claim_key", Text, primary_key=True), Column("applied", Integer, nullable=False))

POISON_AMOUNT = Decimal("666.00")


def balance_event(amount: str = "10.00") -> PatientBalanceOpened:
    return PatientBalanceOpened(claim_id=uuid.uuid4(), statement_id=uuid.uuid4(), amount_due=Decimal(amount),
                                due_date=date(2026, 12, 1))


def envelope(amount: str = "10.00", tenant: str = "tenant-a") -> Envelope:
    ev = balance_event(amount)
    return new_envelope(ev, service="patient_billing", tenant_id=tenant, key=str(ev.claim_id))


_count = insert(effects)
_count = _count.on_conflict_do_update(index_elements=[effects.c.claim_key], set_={"applied": effects.c.applied + 1})


async def count_effect(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    """Adds 1 per application: a value of 2 would mean an event was applied twice."""
    for d in deliveries:
        if d.event.amount_due == POISON_AMOUNT:
            raise DomainError("statement amount rejected by test rule")
        await uow.conn.execute(_count, {"claim_key": d.key, "applied": 1})


HANDLERS = {PatientBalanceOpened.event_type(): count_effect}


async def create_effects(engine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(effects_md.create_all)


async def effect_counts(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {r.claim_key: r.applied for r in (await conn.execute(select(effects)))}


async def wait_for(predicate, timeout: float = 30.0, interval: float = 0.1):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {result!r})")
        await asyncio.sleep(interval)


async def table_count(engine, table: str) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
