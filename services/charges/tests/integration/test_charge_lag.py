"""Charge lag against the real PostgreSQL: complete encounters wait, late charges join, then release."""

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from rcm_charges.db import encounter_audit, encounters, metadata
from rcm_charges.service import Intake, add_late_charges, capture_encounters, release_due
from rcm_contracts.events import EncounterCaptured, EncounterSubmitted
from tests.support.encounters import generate

pytestmark = pytest.mark.integration


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
        [result] = await capture_encounters(conn, lambda i, ev, key: emitted.append(ev),
                                            [Intake("tenant-a", EncounterSubmitted.model_validate(body), "json")],
                                            charge_lag=timedelta(milliseconds=300))
    assert result.status == "open" and emitted == []  # complete, but waiting for late charges

    async with engine.begin() as conn:
        late = await add_late_charges(conn, lambda ev, key: emitted.append(ev), tenant_id="tenant-a",
                                      claim_id=result.claim_id, actor="biller",
                                      lines=[{"procedure_code": "36415", "units": "1", "charge": "20.00"}])
    assert late.status == "open" and emitted == []
    async with engine.begin() as conn:
        assert await release_due(conn, lambda t, ev, key: emitted.append(ev)) == 0  # not due yet

    await asyncio.sleep(0.4)
    async with engine.begin() as conn:
        assert await release_due(conn, lambda t, ev, key: emitted.append((t, ev))) == 1
    [(tenant, event)] = emitted
    assert tenant == "tenant-a" and isinstance(event, EncounterCaptured)
    assert [line.procedure_code for line in event.claim.lines][-1] == "36415"
    async with engine.connect() as conn:
        row = (await conn.execute(select(encounters).where(encounters.c.claim_id == result.claim_id))).one()
        audit = (await conn.execute(select(encounter_audit.c.action, encounter_audit.c.actor))).all()
    assert row.status == "captured" and row.released_at is not None
    assert [tuple(a) for a in audit] == [("late_charge", "biller")]
    async with engine.begin() as conn:
        assert await release_due(conn, lambda t, ev, key: emitted.append(ev)) == 0  # released once


async def test_without_a_lag_complete_encounters_are_released_at_once(charges_schema):
    body = generate(1, seed=22, scenarios=["paid"])[0].body
    emitted = []
    async with charges_schema.begin() as conn:
        [result] = await capture_encounters(conn, lambda i, ev, key: emitted.append(ev),
                                            [Intake("tenant-a", EncounterSubmitted.model_validate(body), "json")])
    assert result.status == "captured" and isinstance(emitted[0], EncounterCaptured)
