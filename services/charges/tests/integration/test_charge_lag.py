"""Charge lag against the real PostgreSQL: complete encounters wait, late charges join, then release."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from rcm_charges.db import encounter_audit, encounters, metadata
from rcm_charges.service import Intake, add_late_charges, capture_encounters, release_due
from rcm_contracts.events import EncounterCaptured, EncounterSubmitted
from rcm_runtime.clock import SystemClock
from rcm_runtime.outbox import Emitter
from rcm_runtime.unit_of_work import Cause, UnitOfWork
from tests.support.encounters import generate

pytestmark = pytest.mark.integration


class _Recorded(Emitter):
    """The unit of work's outbox, recording what is emitted as `record(tenant_id, event)` instead."""

    def __init__(self, record) -> None:
        super().__init__("charges", "test")
        self.record = record

    def emit(self, event, *, tenant_id, key, **_):
        self.record(tenant_id, event)


def unit(conn, record, *, tenant_id: str | None = "tenant-a", actor: str = "intake") -> UnitOfWork:
    cause = Cause(tenant_id=tenant_id, actor=actor) if tenant_id else None
    return UnitOfWork(conn, _Recorded(record), cause, SystemClock())


@pytest.fixture
async def charges_schema(scratch_schema):
    settings, engine = scratch_schema
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    return engine


async def test_late_charge_joins_the_claim_before_release(charges_schema):
    engine = charges_schema
    body = generate(1, seed=21, scenarios=["paid"])[0].body
    emitted = []
    async with engine.begin() as conn:
        uow = unit(conn, lambda t, ev: emitted.append(ev))
        [result] = await capture_encounters(uow, [Intake(uow, EncounterSubmitted.model_validate(body), "json")],
                                            charge_lag=timedelta(milliseconds=300))
    assert result.status == "open" and emitted == []  # complete, but waiting for late charges

    async with engine.begin() as conn:
        late = await add_late_charges(unit(conn, lambda t, ev: emitted.append(ev), actor="biller"),
                                      claim_id=result.claim_id,
                                      lines=[{"procedure_code": "36415", "units": "1", "charge": "20.00"}])
    assert late.status == "open" and emitted == []
    async with engine.begin() as conn:
        assert await release_due(unit(conn, lambda t, ev: emitted.append(ev), tenant_id=None)) == 0  # not due yet

    await asyncio.sleep(0.4)
    async with engine.begin() as conn:
        assert await release_due(unit(conn, lambda t, ev: emitted.append((t, ev)), tenant_id=None)) == 1
    [(tenant, event)] = emitted
    assert tenant == "tenant-a" and isinstance(event, EncounterCaptured)
    assert [line.procedure_code for line in event.claim.lines][-1] == "36415"
    async with engine.connect() as conn:
        row = (await conn.execute(select(encounters).where(encounters.c.claim_id == result.claim_id))).one()
        audit = (await conn.execute(select(encounter_audit.c.action, encounter_audit.c.actor))).all()
    assert row.status == "captured" and row.released_at is not None
    assert [tuple(a) for a in audit] == [("late_charge", "biller")]
    async with engine.begin() as conn:
        assert await release_due(unit(conn, lambda t, ev: emitted.append(ev), tenant_id=None)) == 0  # released once


async def test_without_a_lag_complete_encounters_are_released_at_once(charges_schema):
    body = generate(1, seed=22, scenarios=["paid"])[0].body
    emitted = []
    async with charges_schema.begin() as conn:
        uow = unit(conn, lambda t, ev: emitted.append(ev))
        [result] = await capture_encounters(uow, [Intake(uow, EncounterSubmitted.model_validate(body), "json")])
    assert result.status == "captured" and isinstance(emitted[0], EncounterCaptured)
