"""Use cases of charges: capture an encounter as a claim, once per (tenant, source system, source id)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.claim import Claim
from rcm_contracts.events import EncounterCaptured, EncounterSubmitted
from rcm_runtime.errors import DomainError

from rcm_charges.db import encounters
from rcm_charges.domain.claim_builder import build_claim, content_hash


class ConflictingResend(DomainError):
    """Same source encounter id, different content: a correction, not a resend."""


@dataclass(frozen=True)
class CaptureResult:
    claim_id: uuid.UUID
    encounter_id: uuid.UUID
    created: bool


async def capture_encounter(conn: AsyncConnection, emit, *, tenant_id: str, submission: EncounterSubmitted,
                            channel: str) -> CaptureResult:
    """Insert the encounter and its EncounterCaptured event; a resend returns the existing claim.

    `emit(event, key)` writes to the outbox of the same transaction.
    """
    digest = content_hash(submission)
    claim_id, encounter_id = uuid.uuid4(), uuid.uuid4()
    claim: Claim = build_claim(submission, claim_id=claim_id, encounter_id=encounter_id)
    inserted = (
        await conn.execute(
            insert(encounters)
            .values(claim_id=claim_id, encounter_id=encounter_id, tenant_id=tenant_id,
                    source_system=submission.source_system, source_encounter_id=submission.source_encounter_id,
                    intake_channel=channel, content_hash=digest, claim=claim.model_dump(mode="json"))
            .on_conflict_do_nothing(constraint="uq_encounter_source")
            .returning(encounters.c.claim_id)
        )
    ).first()
    if inserted is not None:
        emit(EncounterCaptured(claim=claim, intake_channel=channel), claim_id)
        return CaptureResult(claim_id, encounter_id, True)
    existing = (
        await conn.execute(
            select(encounters.c.claim_id, encounters.c.encounter_id, encounters.c.content_hash).where(
                encounters.c.tenant_id == tenant_id,
                encounters.c.source_system == submission.source_system,
                encounters.c.source_encounter_id == submission.source_encounter_id,
            )
        )
    ).one()
    if existing.content_hash != digest:
        raise ConflictingResend(
            "an encounter with this source_system and source_encounter_id was already captured with different "
            "content; send corrections through the correction workflow"
        )
    return CaptureResult(existing.claim_id, existing.encounter_id, False)


async def get_encounter(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> dict | None:
    row = (
        await conn.execute(select(encounters).where(encounters.c.tenant_id == tenant_id, encounters.c.claim_id == claim_id))
    ).mappings().first()
    return dict(row) if row else None
