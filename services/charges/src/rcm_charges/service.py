"""Use cases of charges: capture encounters as claims once per (tenant, source system, source id),
hold incomplete ones in completeness review, release them when fixed."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from sqlalchemy import func, insert, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.base import Event
from rcm_contracts.claim import Provider
from rcm_contracts.events import EncounterCaptured, EncounterHeld, EncounterSubmitted, MissingItem
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.errors import Conflict, NotFound

from rcm_charges.db import chargemaster_items, encounter_audit, encounters, provider_profiles, tenant_settings
from rcm_charges.domain.chargemaster import ChargemasterItem, price_line
from rcm_charges.domain.claim_builder import build_claim, content_hash
from rcm_charges.domain.completeness import missing_items


class ConflictingResend(Conflict):
    """Same source encounter id, different content, for a claim already released."""

    code = "conflicting_resend"


class NotOpen(Conflict):
    """The encounter was released as a claim; it can no longer be changed here."""

    code = "not_open"


@dataclass(frozen=True)
class Intake:
    tenant_id: str
    submission: EncounterSubmitted
    channel: str


@dataclass(frozen=True)
class CaptureResult:
    claim_id: uuid.UUID
    encounter_id: uuid.UUID
    status: str  # captured | open (waiting out the charge lag) | held | duplicate
    missing: list[dict] | None = None
    created: bool = False  # a new encounter (not a resend or a change to an existing one)


Emit = Callable[[int, Event, uuid.UUID], None]  # (index of the intake, event, key)

_insert_encounters = BulkInsert(
    encounters, ["claim_id", "encounter_id", "tenant_id", "source_system", "source_encounter_id", "intake_channel",
                 "content_hash", "status", "submission", "missing", "claim", "released_at", "release_after"],
    on_conflict="ON CONSTRAINT uq_encounter_source DO NOTHING", returning=["claim_id"])


@dataclass
class TenantReference:
    """What a tenant configured that intake applies: chargemaster prices (only those the batch needs)
    and the default billing provider for encounters that name none (e.g. Synthea organisations)."""

    prices: list[ChargemasterItem] = field(default_factory=list)
    default_billing_provider: Provider | None = None
    profiles: dict[str, Provider] = field(default_factory=dict)  # by NPI


PROVIDER_ROLES = ("billing_provider", "rendering_provider", "referring_provider")


def with_profiles(submission: EncounterSubmitted, ref: TenantReference) -> EncounterSubmitted:
    """Fill what the EHR left empty (tax id, address, taxonomy, name) from the enrolled provider profile;
    what the EHR sent wins."""
    updates = {}
    for role in PROVIDER_ROLES:
        provider = getattr(submission, role)
        profile = ref.profiles.get(provider.npi) if provider is not None else None
        if profile is not None:
            sent = provider.model_dump(exclude_none=True)
            updates[role] = Provider.model_validate({**profile.model_dump(exclude_none=True), **sent})
    return submission.model_copy(update=updates) if updates else submission


async def tenant_reference(conn: AsyncConnection, intakes: list[Intake]) -> dict[str, TenantReference]:
    """Per tenant: chargemaster rows for the codes of unpriced lines and, when an encounter lacks a
    billing provider, the tenant's default (one query each per batch)."""
    out: dict[str, TenantReference] = defaultdict(TenantReference)
    wanted = {(it.tenant_id, line.procedure_code.strip().upper())
              for it in intakes for line in it.submission.lines if line.charge is None}
    if wanted:
        rows = await conn.execute(select(chargemaster_items).where(
            tuple_(chargemaster_items.c.tenant_id, chargemaster_items.c.code).in_(list(wanted))))
        for r in rows:
            out[r.tenant_id].prices.append(ChargemasterItem(r.code, r.modifier, r.price, r.effective_from, r.effective_to))
    npis = {(it.tenant_id, p.npi) for it in intakes for p in (getattr(it.submission, r) for r in PROVIDER_ROLES) if p}
    if npis:
        rows = await conn.execute(select(provider_profiles).where(
            tuple_(provider_profiles.c.tenant_id, provider_profiles.c.npi).in_(list(npis))))
        for r in rows:
            out[r.tenant_id].profiles[r.npi] = Provider.model_validate(r.provider)
    unbilled = {it.tenant_id for it in intakes if it.submission.billing_provider is None}
    if unbilled:
        rows = await conn.execute(select(tenant_settings.c.tenant_id, tenant_settings.c.default_billing_provider)
                                  .where(tenant_settings.c.tenant_id.in_(unbilled)))
        for r in rows:
            if r.default_billing_provider:
                out[r.tenant_id].default_billing_provider = Provider.model_validate(r.default_billing_provider)
    return out


@dataclass(frozen=True)
class Evaluation:
    status: str
    claim: dict | None
    missing: list[dict] | None
    event: Event


def evaluate(submission: EncounterSubmitted, ref: TenantReference, *, claim_id: uuid.UUID,
             encounter_id: uuid.UUID, channel: str) -> Evaluation:
    """Complete -> a claim and EncounterCaptured; incomplete -> what is missing and EncounterHeld."""
    if submission.billing_provider is None and ref.default_billing_provider is not None:
        submission = submission.model_copy(update={"billing_provider": ref.default_billing_provider})
    submission = with_profiles(submission, ref)
    line_prices = [price_line(line, submission.service_date, ref.prices) for line in submission.lines]
    missing = missing_items(submission, line_prices)
    if missing:
        return Evaluation("held", None, [m.as_dict() for m in missing],
                          EncounterHeld(claim_id=claim_id, source_system=submission.source_system,
                                        source_encounter_id=submission.source_encounter_id,
                                        missing=[MissingItem(field=m.field, reason=m.reason) for m in missing]))
    priced = submission.model_copy(update={"lines": [
        line.model_copy(update={"charge": price}) for line, price in zip(submission.lines, line_prices)]})
    claim = build_claim(priced, claim_id=claim_id, encounter_id=encounter_id)
    return Evaluation("captured", claim.model_dump(mode="json"), None, EncounterCaptured(claim=claim, intake_channel=channel))


OPEN_STATES = ("held", "open")  # not yet released: changes and late charges are still accepted


def _hold_for_lag(ev: Evaluation, release_after: datetime | None, now: datetime) -> Evaluation:
    """A complete encounter still inside its charge-lag window stays open (no event yet)."""
    if ev.status == "captured" and release_after is not None and release_after > now:
        return Evaluation("open", ev.claim, None, ev.event)
    return ev


async def capture_encounters(conn: AsyncConnection, emit: Emit, intakes: list[Intake], *, actor: str = "intake",
                             charge_lag: timedelta = timedelta(0)) -> list[CaptureResult]:
    """Insert encounters (one statement for the batch). A resend with the same content changes
    nothing; a corrected resend of an open encounter becomes its next version (audited); a corrected
    resend of a released claim raises ConflictingResend. With a charge lag, complete encounters wait
    (status open) so late charges can join before release_due() releases them."""
    refs = await tenant_reference(conn, intakes)
    rows, evals = [], []
    now = datetime.now(timezone.utc)
    release_after = now + charge_lag if charge_lag > timedelta(0) else None
    for it in intakes:
        claim_id, encounter_id = uuid.uuid4(), uuid.uuid4()
        ev = evaluate(it.submission, refs[it.tenant_id], claim_id=claim_id, encounter_id=encounter_id, channel=it.channel)
        ev = _hold_for_lag(ev, release_after, now)
        evals.append(ev)
        rows.append({"claim_id": claim_id, "encounter_id": encounter_id, "tenant_id": it.tenant_id,
                     "source_system": it.submission.source_system,
                     "source_encounter_id": it.submission.source_encounter_id, "intake_channel": it.channel,
                     "content_hash": content_hash(it.submission), "status": ev.status,
                     "submission": it.submission.model_dump(mode="json"), "missing": ev.missing, "claim": ev.claim,
                     "released_at": now if ev.status == "captured" else None, "release_after": release_after})
    inserted = {r.claim_id for r in await _insert_encounters.execute(conn, rows)}
    existing = {}
    if len(inserted) < len(rows):
        keys = [(r["tenant_id"], r["source_system"], r["source_encounter_id"]) for r in rows if r["claim_id"] not in inserted]
        found = await conn.execute(select(encounters).where(
            tuple_(encounters.c.tenant_id, encounters.c.source_system, encounters.c.source_encounter_id).in_(keys)))
        existing = {(r.tenant_id, r.source_system, r.source_encounter_id): r for r in found}
    results = []
    for i, (row, ev) in enumerate(zip(rows, evals)):
        if row["claim_id"] in inserted:
            if ev.status != "open":
                emit(i, ev.event, row["claim_id"])
            results.append(CaptureResult(row["claim_id"], row["encounter_id"], ev.status, ev.missing, created=True))
            continue
        prior = existing[(row["tenant_id"], row["source_system"], row["source_encounter_id"])]
        if prior.content_hash == row["content_hash"]:
            results.append(CaptureResult(prior.claim_id, prior.encounter_id, "duplicate", prior.missing))
            continue
        if prior.status not in OPEN_STATES:
            raise ConflictingResend(
                "an encounter with this source_system and source_encounter_id was already released as a claim; "
                "changes now need a corrected claim (frequency 7)")
        result = await _apply_change(conn, lambda ev_, key: emit(i, ev_, key), prior, intakes[i].submission,
                                     actor=actor, action="corrected_resend", channel=intakes[i].channel)
        results.append(result)
    return results


async def _apply_change(conn: AsyncConnection, emit, prior, submission: EncounterSubmitted, *, actor: str,
                        action: str, channel: str) -> CaptureResult:
    refs = await tenant_reference(conn, [Intake(prior.tenant_id, submission, channel)])
    ev = evaluate(submission, refs[prior.tenant_id], claim_id=prior.claim_id, encounter_id=prior.encounter_id,
                  channel=channel)
    version = prior.version + 1
    now = datetime.now(timezone.utc)
    ev = _hold_for_lag(ev, prior.release_after, now)
    await conn.execute(update(encounters).where(encounters.c.claim_id == prior.claim_id).values(
        submission=submission.model_dump(mode="json"), content_hash=content_hash(submission), version=version,
        status=ev.status, missing=ev.missing, claim=ev.claim, released_at=now if ev.status == "captured" else None))
    await conn.execute(insert(encounter_audit), [{
        "claim_id": prior.claim_id, "tenant_id": prior.tenant_id, "actor": actor, "action": action,
        "version": version, "before": prior.submission, "after": submission.model_dump(mode="json")}])
    if ev.status != "open":
        emit(ev.event, prior.claim_id)
    return CaptureResult(prior.claim_id, prior.encounter_id, ev.status, ev.missing)


async def _open_encounter(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID):
    prior = (await conn.execute(select(encounters).where(
        encounters.c.tenant_id == tenant_id, encounters.c.claim_id == claim_id).with_for_update())).first()
    if prior is None:
        raise NotFound("no such encounter for this tenant")
    if prior.status not in OPEN_STATES:
        raise NotOpen("the encounter was already released as a claim; changes now need a corrected claim")
    return prior


async def fix_encounter(conn: AsyncConnection, emit, *, tenant_id: str, claim_id: uuid.UUID, changes: dict[str, Any],
                        actor: str) -> CaptureResult:
    """Completeness review: merge the corrected fields into the held encounter; release it if complete.
    Raises pydantic ValidationError when the merged encounter is invalid."""
    prior = await _open_encounter(conn, tenant_id, claim_id)
    merged = EncounterSubmitted.model_validate({**prior.submission, **changes,
                                                "source_system": prior.source_system,
                                                "source_encounter_id": prior.source_encounter_id})
    return await _apply_change(conn, emit, prior, merged, actor=actor, action="fixed", channel=prior.intake_channel)


async def add_late_charges(conn: AsyncConnection, emit, *, tenant_id: str, claim_id: uuid.UUID, lines: list[dict],
                           actor: str) -> CaptureResult:
    """Charges that arrive after the encounter, added while it is still open (held, or inside the
    charge-lag window)."""
    prior = await _open_encounter(conn, tenant_id, claim_id)
    merged = EncounterSubmitted.model_validate({**prior.submission, "lines": [*prior.submission["lines"], *lines]})
    return await _apply_change(conn, emit, prior, merged, actor=actor, action="late_charge", channel=prior.intake_channel)


async def release_due(conn: AsyncConnection, emit, *, batch_max: int = 500) -> int:
    """Release open encounters whose charge-lag window has passed (with any late charges). Row locks
    (SKIP LOCKED) let several replicas run this."""
    now = datetime.now(timezone.utc)
    due = (await conn.execute(select(encounters).where(
        encounters.c.status == "open", encounters.c.release_after <= now)
        .order_by(encounters.c.release_after).limit(batch_max).with_for_update(skip_locked=True))).all()
    for prior in due:
        submission = EncounterSubmitted.model_validate(prior.submission)
        refs = await tenant_reference(conn, [Intake(prior.tenant_id, submission, prior.intake_channel)])
        ev = evaluate(submission, refs[prior.tenant_id], claim_id=prior.claim_id, encounter_id=prior.encounter_id,
                      channel=prior.intake_channel)
        await conn.execute(update(encounters).where(encounters.c.claim_id == prior.claim_id).values(
            status=ev.status, missing=ev.missing, claim=ev.claim, released_at=now if ev.status == "captured" else None))
        emit(prior.tenant_id, ev.event, prior.claim_id)
    return len(due)


async def get_encounter(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> dict | None:
    row = (await conn.execute(select(encounters).where(
        encounters.c.tenant_id == tenant_id, encounters.c.claim_id == claim_id))).mappings().first()
    return dict(row) if row else None


async def audit_trail(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
    rows = await conn.execute(select(encounter_audit).where(
        encounter_audit.c.tenant_id == tenant_id, encounter_audit.c.claim_id == claim_id).order_by(encounter_audit.c.id))
    return [dict(r) for r in rows.mappings()]


async def set_default_billing_provider(conn: AsyncConnection, *, tenant_id: str, provider: Provider | None,
                                       actor: str) -> None:
    """The billing provider applied to this tenant's encounters that name none (audited by who/when)."""
    value = provider.model_dump(mode="json") if provider else None
    stmt = pg_insert(tenant_settings).values(tenant_id=tenant_id, default_billing_provider=value, updated_by=actor)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=[tenant_settings.c.tenant_id],
        set_={"default_billing_provider": value, "updated_by": actor, "updated_at": func.now()}))


async def default_billing_provider(conn: AsyncConnection, tenant_id: str) -> dict | None:
    row = (await conn.execute(select(tenant_settings).where(tenant_settings.c.tenant_id == tenant_id))).mappings().first()
    return dict(row) if row else None


async def put_provider_profile(conn: AsyncConnection, *, tenant_id: str, provider: Provider, actor: str) -> None:
    value = provider.model_dump(mode="json", exclude_none=True)
    stmt = pg_insert(provider_profiles).values(tenant_id=tenant_id, npi=provider.npi, provider=value, updated_by=actor)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=[provider_profiles.c.tenant_id, provider_profiles.c.npi],
        set_={"provider": value, "updated_by": actor, "updated_at": func.now()}))
