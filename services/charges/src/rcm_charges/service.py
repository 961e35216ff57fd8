"""Use cases of charges: capture encounters as claims, once per (tenant, source system, source id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.events import EncounterCaptured, EncounterSubmitted
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.errors import DomainError

from rcm_charges.db import encounters
from rcm_charges.domain.claim_builder import build_claim, content_hash


class ConflictingResend(DomainError):
    """Same source encounter id, different content: a correction, not a resend."""


@dataclass(frozen=True)
class Intake:
    tenant_id: str
    submission: EncounterSubmitted
    channel: str


@dataclass(frozen=True)
class CaptureResult:
    claim_id: uuid.UUID
    encounter_id: uuid.UUID
    created: bool


Emit = Callable[[int, EncounterCaptured, uuid.UUID], None]  # (index of the intake, event, key)

_insert_encounters = BulkInsert(
    encounters, ["claim_id", "encounter_id", "tenant_id", "source_system", "source_encounter_id", "intake_channel",
                 "content_hash", "claim"],
    on_conflict="ON CONSTRAINT uq_encounter_source DO NOTHING", returning=["claim_id"])


async def capture_encounters(conn: AsyncConnection, emit: Emit, intakes: list[Intake]) -> list[CaptureResult]:
    """Insert encounters and their EncounterCaptured events in one statement each; resends return the
    existing claim unchanged. A resend with different content raises ConflictingResend."""
    rows, claims = [], []
    for it in intakes:
        claim = build_claim(it.submission, claim_id=uuid.uuid4(), encounter_id=uuid.uuid4())
        claims.append(claim)
        rows.append({"claim_id": claim.claim_id, "encounter_id": claim.encounter_id, "tenant_id": it.tenant_id,
                     "source_system": it.submission.source_system,
                     "source_encounter_id": it.submission.source_encounter_id, "intake_channel": it.channel,
                     "content_hash": content_hash(it.submission), "claim": claim.model_dump(mode="json")})
    inserted = {r.claim_id for r in await _insert_encounters.execute(conn, rows)}
    existing = {}
    if len(inserted) < len(rows):
        keys = [(r["tenant_id"], r["source_system"], r["source_encounter_id"]) for r in rows if r["claim_id"] not in inserted]
        found = await conn.execute(
            select(encounters.c.tenant_id, encounters.c.source_system, encounters.c.source_encounter_id,
                   encounters.c.claim_id, encounters.c.encounter_id, encounters.c.content_hash)
            .where(tuple_(encounters.c.tenant_id, encounters.c.source_system, encounters.c.source_encounter_id).in_(keys)))
        existing = {(r.tenant_id, r.source_system, r.source_encounter_id): r for r in found}
    results = []
    for i, (row, claim) in enumerate(zip(rows, claims)):
        if row["claim_id"] in inserted:
            emit(i, EncounterCaptured(claim=claim, intake_channel=intakes[i].channel), claim.claim_id)
            results.append(CaptureResult(claim.claim_id, claim.encounter_id, True))
            continue
        prior = existing[(row["tenant_id"], row["source_system"], row["source_encounter_id"])]
        if prior.content_hash != row["content_hash"]:
            raise ConflictingResend(
                "an encounter with this source_system and source_encounter_id was already captured with different "
                "content; send corrections through the correction workflow")
        results.append(CaptureResult(prior.claim_id, prior.encounter_id, False))
    return results


async def get_encounter(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> dict | None:
    row = (
        await conn.execute(select(encounters).where(encounters.c.tenant_id == tenant_id, encounters.c.claim_id == claim_id))
    ).mappings().first()
    return dict(row) if row else None
