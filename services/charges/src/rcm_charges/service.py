"""Use cases of charges: capture encounters as claims once per (tenant, source system, source id),
hold incomplete ones in completeness review, release them when fixed (or when the charge-lag window
has passed), and keep what a tenant configured (chargemaster, default billing provider, provider
profiles).

`Charges` is what routers and the consumer call: each command opens and owns its unit of work. The
functions below it take that unit (`uow`: connection plus emit with tenant, actor and cause bound), or a
connection for pure reads."""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.base import Event
from rcm_contracts.claim import Provider
from rcm_contracts.events import EncounterCaptured, EncounterHeld, EncounterSubmitted, MissingItem, SelfPayEncounterCaptured
from rcm_runtime.audit import audited
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.errors import Conflict, DomainError, NotFound
from rcm_runtime.outage import Backoff
from rcm_runtime.polling import poll_forever
from rcm_runtime.unit_of_work import Cause, UnitOfWork, UnitsOfWork

from rcm_charges.db import (PHI, chargemaster_items, encounter_audit, encounters, payers, provider_profiles,
                            tenant_settings)
from rcm_charges.domain.chargemaster import ChargemasterCsvError, ChargemasterItem, parse_chargemaster_csv, price_line
from rcm_charges.domain.claim_builder import build_claim, content_hash
from rcm_charges.domain.completeness import missing_items, remaining_issues, statement_pointers
from rcm_charges.domain.fhir_bundle import EncounterOutcome, read_encounters
from rcm_charges.domain.payer_directory import PayerDirectory, PayerEntry, apply_payer_directory
from rcm_charges.domain.hl7_dft import dft_to_encounters, split_messages
from rcm_charges.domain.intake_errors import IntakeError

log = logging.getLogger("rcm.charges")


class ConflictingResend(Conflict):
    """Same source encounter id, different content, for a claim already released."""

    code = "conflicting_resend"


class NotOpen(Conflict):
    """The encounter was released as a claim; it can no longer be changed here."""

    code = "not_open"


class InvalidChargemaster(DomainError):
    """A chargemaster CSV with bad rows: nothing imported. errors: [{"field": "row N", "reason": why}]."""

    code = "invalid_chargemaster"

    def __init__(self, message: str, errors: list[dict]) -> None:
        super().__init__(message)
        self.errors = errors


class NoHl7Message(DomainError):
    """The body holds no HL7 v2 message (no MSH segment)."""

    code = "invalid_hl7"


@dataclass(frozen=True)
class Intake:
    """One encounter to capture, with the unit of work bound to its tenant and cause (a request's unit,
    or a consumed event's `delivery.uow`; all intakes of one batch share its connection)."""

    uow: UnitOfWork
    submission: EncounterSubmitted
    channel: str

    @property
    def tenant_id(self) -> str:
        return self.uow.tenant_id


@dataclass(frozen=True)
class CaptureResult:
    claim_id: uuid.UUID
    encounter_id: uuid.UUID
    # captured | self_pay (released to patient billing) | open (waiting out the charge lag) | held | duplicate |
    # conflict (a changed resend of a released encounter, reported and unchanged)
    status: str
    missing: list[dict] | None = None
    created: bool = False  # a new encounter (not a resend or a change to an existing one)
    reason: str | None = None  # why a `conflict` changed nothing


@dataclass(frozen=True)
class FhirIntake:
    """A Bundle's encounters, each with its outcome: rejected (`outcome.errors`) or captured (`result`)."""

    bundle_type: str | None
    entry_count: int
    outcomes: list[tuple[EncounterOutcome, CaptureResult | None]]


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
    payers: PayerDirectory = field(default_factory=lambda: PayerDirectory([]))  # the tenant's payer list


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
    covered = {it.tenant_id for it in intakes if it.submission.coverage or it.submission.secondary_coverage}
    if covered:
        listed: dict[str, list[PayerEntry]] = defaultdict(list)
        for r in await conn.execute(select(payers).where(payers.c.tenant_id.in_(covered))):
            listed[r.tenant_id].append(PayerEntry(r.payer_id, r.name, tuple(r.aliases)))
        for tenant_id, entries in listed.items():
            out[tenant_id].payers = PayerDirectory(entries)
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
    """Complete -> a claim and EncounterCaptured (a self-pay one: SelfPayEncounterCaptured, status `self_pay`,
    for patient billing and never the payer pipeline); incomplete -> what is missing and EncounterHeld."""
    if submission.billing_provider is None and ref.default_billing_provider is not None:
        submission = submission.model_copy(update={"billing_provider": ref.default_billing_provider})
    submission = with_profiles(submission, ref)
    submission = apply_payer_directory(submission, ref.payers)
    line_prices = [price_line(line, submission.service_date, ref.prices) for line in submission.lines]
    missing = missing_items(submission, line_prices)
    if missing:
        return Evaluation("held", None, [m.as_dict() for m in missing],
                          EncounterHeld(claim_id=claim_id, source_system=submission.source_system,
                                        source_encounter_id=submission.source_encounter_id,
                                        missing=[MissingItem(field=m.field, reason=m.reason) for m in missing]))
    if submission.self_pay:
        submission = statement_pointers(submission)
    priced = submission.model_copy(update={"lines": [
        line.model_copy(update={"charge": price}) for line, price in zip(submission.lines, line_prices)]})
    claim = build_claim(priced, claim_id=claim_id, encounter_id=encounter_id)
    if submission.self_pay:
        return Evaluation("self_pay", claim.model_dump(mode="json"), None,
                          SelfPayEncounterCaptured(claim=claim, intake_channel=channel))
    return Evaluation("captured", claim.model_dump(mode="json"), None, EncounterCaptured(claim=claim, intake_channel=channel))


OPEN_STATES = ("held", "open")  # not yet released: changes and late charges are still accepted
RELEASED_STATES = ("captured", "self_pay")  # released: to eligibility, or (self-pay) to patient billing
RELEASED_REASON = ("an encounter with this source_system and source_encounter_id was already released as a claim; "
                   "changes now need a corrected claim (frequency 7)")


def _hold_for_lag(ev: Evaluation, release_after: datetime | None, now: datetime) -> Evaluation:
    """A complete encounter still inside its charge-lag window stays open (no event yet)."""
    if ev.status in RELEASED_STATES and release_after is not None and release_after > now:
        return Evaluation("open", ev.claim, None, ev.event)
    return ev


async def capture_encounters(uow: UnitOfWork, intakes: list[Intake], *, actor: str = "intake",
                             charge_lag: timedelta = timedelta(0), conflicts: str = "raise") -> list[CaptureResult]:
    """Insert encounters (one statement for the batch, on `uow.conn`; each intake's events go out through
    its own bound unit). A resend with the same content changes nothing; a corrected resend of an open
    encounter becomes its next version (audited); a corrected resend of a released claim raises
    ConflictingResend. With a charge lag, complete encounters wait (status open) so late charges can join
    before release_due() releases them. `conflicts="report"`: a corrected resend of a released claim is a
    `conflict` result for that encounter alone (nothing of it changed) instead of ConflictingResend."""
    conn = uow.conn
    refs = await tenant_reference(conn, intakes)
    rows, evals = [], []
    now = uow.now()
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
                     "released_at": now if ev.status in RELEASED_STATES else None, "release_after": release_after})
    inserted = {r.claim_id for r in await _insert_encounters.execute(conn, PHI.seal_all(encounters, rows))}
    existing = {}
    if len(inserted) < len(rows):
        keys = [(r["tenant_id"], r["source_system"], r["source_encounter_id"]) for r in rows if r["claim_id"] not in inserted]
        found = await conn.execute(select(encounters).where(
            tuple_(encounters.c.tenant_id, encounters.c.source_system, encounters.c.source_encounter_id).in_(keys)))
        existing = {(r.tenant_id, r.source_system, r.source_encounter_id): r for r in PHI.open_all(encounters, found)}
    results = []
    for i, (row, ev) in enumerate(zip(rows, evals)):
        if row["claim_id"] in inserted:
            if ev.status != "open":
                intakes[i].uow.emit(ev.event, key=row["claim_id"])
            results.append(CaptureResult(row["claim_id"], row["encounter_id"], ev.status, ev.missing, created=True))
            continue
        prior = existing[(row["tenant_id"], row["source_system"], row["source_encounter_id"])]
        if prior.content_hash == row["content_hash"] or same_content(prior.submission, row["content_hash"]):
            results.append(CaptureResult(prior.claim_id, prior.encounter_id, "duplicate", prior.missing))
            continue
        if prior.status not in OPEN_STATES:
            if conflicts == "report":
                results.append(CaptureResult(prior.claim_id, prior.encounter_id, "conflict", reason=RELEASED_REASON))
                continue
            raise ConflictingResend(RELEASED_REASON)
        result = await _apply_change(intakes[i].uow, prior, intakes[i].submission,
                                     actor=actor, action="corrected_resend", channel=intakes[i].channel)
        results.append(result)
    return results


def same_content(stored: dict, new_hash: str) -> bool:
    """An encounter stored before its contract gained optional fields hashes differently from the same content
    sent today (the dump now carries the new fields' defaults): read back through today's model, it hashes alike,
    so an unchanged resend stays a duplicate (not a 409) across upgrades."""
    try:
        return content_hash(EncounterSubmitted.model_validate(stored)) == new_hash
    except ValueError:  # pydantic's ValidationError: a stored shape today's model refuses is not the same content
        return False


async def _apply_change(uow: UnitOfWork, prior, submission: EncounterSubmitted, *, actor: str,
                        action: str, channel: str, evaluated: Any = None) -> CaptureResult:
    """A new version of an open encounter (`uow` is bound to its tenant): re-evaluated (`evaluated`: already, by
    the caller), audited, and released (its event emitted) when complete and out of its charge-lag window."""
    conn = uow.conn
    ev = evaluated
    if ev is None:
        refs = await tenant_reference(conn, [Intake(uow, submission, channel)])
        ev = evaluate(submission, refs[prior.tenant_id], claim_id=prior.claim_id, encounter_id=prior.encounter_id,
                      channel=channel)
    version = prior.version + 1
    now = uow.now()
    ev = _hold_for_lag(ev, prior.release_after, now)
    await conn.execute(update(encounters).where(
        encounters.c.tenant_id == prior.tenant_id, encounters.c.claim_id == prior.claim_id).values(
        **PHI.seal(encounters, {"submission": submission.model_dump(mode="json"), "claim": ev.claim},
                   tenant=prior.tenant_id),
        content_hash=content_hash(submission), version=version,
        status=ev.status, missing=ev.missing, released_at=now if ev.status in RELEASED_STATES else None))
    await conn.execute(insert(encounter_audit), [PHI.seal(encounter_audit, {
        "claim_id": prior.claim_id, "tenant_id": prior.tenant_id, "actor": actor, "action": action,
        "version": version, "before": prior.submission, "after": submission.model_dump(mode="json")})])
    if ev.status != "open":
        uow.emit(ev.event, key=prior.claim_id)
    return CaptureResult(prior.claim_id, prior.encounter_id, ev.status, ev.missing)


async def _open_encounter(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID):
    prior = PHI.open(encounters, (await conn.execute(select(encounters).where(
        encounters.c.tenant_id == tenant_id, encounters.c.claim_id == claim_id).with_for_update())).first())
    if prior is None:
        raise NotFound("no such encounter for this tenant")
    if prior.status not in OPEN_STATES:
        raise NotOpen("the encounter was already released as a claim; changes now need a corrected claim")
    return prior


async def fix_encounter(uow: UnitOfWork, *, claim_id: uuid.UUID, changes: dict[str, Any]) -> CaptureResult:
    """Completeness review: merge the corrected fields into the held encounter; release it if complete.
    Audited as the unit's actor. Raises pydantic ValidationError when the merged encounter is invalid."""
    prior = await _open_encounter(uow.conn, uow.tenant_id, claim_id)
    issues = prior.submission.get("intake_issues") or []
    if "intake_issues" not in changes:
        changes = {**changes, "intake_issues": remaining_issues(issues, changes)}
    merged = EncounterSubmitted.model_validate({**prior.submission, **changes,
                                                "source_system": prior.source_system,
                                                "source_encounter_id": prior.source_encounter_id})
    return await _apply_change(uow, prior, merged, actor=uow.actor, action="fixed", channel=prior.intake_channel)


async def add_late_charges(uow: UnitOfWork, *, claim_id: uuid.UUID, lines: list[dict]) -> CaptureResult:
    """Charges that arrive after the encounter, added while it is still open (held, or inside the
    charge-lag window). Audited as the unit's actor."""
    prior = await _open_encounter(uow.conn, uow.tenant_id, claim_id)
    merged = EncounterSubmitted.model_validate({**prior.submission, "lines": [*prior.submission["lines"], *lines]})
    return await _apply_change(uow, prior, merged, actor=uow.actor, action="late_charge", channel=prior.intake_channel)


RELEASE_ACTOR = "system:charge-lag"


async def release_due(uow: UnitOfWork, *, batch_max: int = 500) -> int:
    """Release open encounters whose charge-lag window has passed by `uow.now()` (with any late charges),
    for every tenant: `uow` is a system unit, bound per released row to that row's tenant. Row locks
    (SKIP LOCKED) let several replicas run this."""
    conn = uow.conn
    now = uow.now()
    due = (await conn.execute(select(encounters).where(
        encounters.c.status == "open", encounters.c.release_after <= now)
        .order_by(encounters.c.release_after).limit(batch_max).with_for_update(skip_locked=True))).all()
    due = PHI.open_all(encounters, due)
    for prior in due:
        bound = uow.bind(Cause(tenant_id=prior.tenant_id, actor=RELEASE_ACTOR))
        submission = EncounterSubmitted.model_validate(prior.submission)
        refs = await tenant_reference(conn, [Intake(bound, submission, prior.intake_channel)])
        ev = evaluate(submission, refs[prior.tenant_id], claim_id=prior.claim_id, encounter_id=prior.encounter_id,
                      channel=prior.intake_channel)
        await conn.execute(update(encounters).where(
            encounters.c.tenant_id == prior.tenant_id, encounters.c.claim_id == prior.claim_id).values(
            **PHI.seal(encounters, {"claim": ev.claim}, tenant=prior.tenant_id),
            status=ev.status, missing=ev.missing, released_at=now if ev.status in RELEASED_STATES else None))
        bound.emit(ev.event, key=prior.claim_id)
    return len(due)


async def get_encounter(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> dict | None:
    row = (await conn.execute(select(encounters).where(
        encounters.c.tenant_id == tenant_id, encounters.c.claim_id == claim_id))).mappings().first()
    return dict(PHI.open(encounters, row)) if row else None


async def audit_trail(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
    rows = await conn.execute(select(encounter_audit).where(
        encounter_audit.c.tenant_id == tenant_id, encounter_audit.c.claim_id == claim_id).order_by(encounter_audit.c.id))
    return [dict(r) for r in PHI.open_all(encounter_audit, rows.mappings())]


async def set_default_billing_provider(uow: UnitOfWork, provider: Provider | None) -> None:
    """The billing provider applied to the unit's tenant's encounters that name none (audited by who/when:
    the unit's actor)."""
    value = provider.model_dump(mode="json") if provider else None
    stmt = pg_insert(tenant_settings).values(tenant_id=uow.tenant_id, default_billing_provider=value,
                                             updated_by=uow.actor)
    await uow.conn.execute(stmt.on_conflict_do_update(
        index_elements=[tenant_settings.c.tenant_id],
        set_={"default_billing_provider": value, "updated_by": uow.actor, "updated_at": func.now()}))


async def default_billing_provider(conn: AsyncConnection, tenant_id: str) -> dict | None:
    row = (await conn.execute(select(tenant_settings).where(tenant_settings.c.tenant_id == tenant_id))).mappings().first()
    return dict(row) if row else None


async def put_provider_profile(uow: UnitOfWork, provider: Provider) -> None:
    value = provider.model_dump(mode="json", exclude_none=True)
    stmt = pg_insert(provider_profiles).values(tenant_id=uow.tenant_id, npi=provider.npi, provider=value,
                                               updated_by=uow.actor)
    await uow.conn.execute(stmt.on_conflict_do_update(
        index_elements=[provider_profiles.c.tenant_id, provider_profiles.c.npi],
        set_={"provider": value, "updated_by": uow.actor, "updated_at": func.now()}))


async def list_provider_profiles(conn: AsyncConnection, tenant_id: str) -> list[dict]:
    rows = await conn.execute(select(provider_profiles).where(provider_profiles.c.tenant_id == tenant_id)
                              .order_by(provider_profiles.c.npi))
    return [dict(r) for r in rows.mappings()]


async def put_payer(uow: UnitOfWork, entry: PayerEntry) -> None:
    values = {"name": entry.name, "aliases": list(entry.aliases), "updated_by": uow.actor}
    await uow.conn.execute(pg_insert(payers).values(tenant_id=uow.tenant_id, payer_id=entry.payer_id, **values)
                           .on_conflict_do_update(index_elements=[payers.c.tenant_id, payers.c.payer_id],
                                                  set_={**values, "updated_at": func.now()}))


async def delete_payer(uow: UnitOfWork, payer_id: str) -> bool:
    deleted = await uow.conn.execute(delete(payers).where(payers.c.tenant_id == uow.tenant_id,
                                                          payers.c.payer_id == payer_id))
    return deleted.rowcount > 0


async def list_payers(conn: AsyncConnection, tenant_id: str) -> list[dict]:
    rows = await conn.execute(select(payers).where(payers.c.tenant_id == tenant_id).order_by(payers.c.payer_id))
    return [dict(r) for r in rows.mappings()]


PAYER_FIELDS = ("coverage.payer_id", "secondary_coverage.payer_id")


async def reevaluate_unknown_payers(uow: UnitOfWork, *, batch_max: int = 500) -> tuple[int, list[uuid.UUID]]:
    """Held encounters of the unit's tenant waiting for a payer (unlisted, or named by display only), evaluated
    again against the payer list as it is now (one reference read for all). Those whose outcome it changes get a
    new version, audited as the unit's actor, and are released when complete; the others (e.g. a coverage naming
    no payer at all, which no list can fix) are left as they are. Returns how many were evaluated, and the claim
    ids of those changed."""
    waiting = or_(*(encounters.c.missing.contains([{"field": f}]) for f in PAYER_FIELDS))
    rows = PHI.open_all(encounters, (await uow.conn.execute(select(encounters).where(
        encounters.c.tenant_id == uow.tenant_id, encounters.c.status == "held", waiting)
        .order_by(encounters.c.received_at).limit(batch_max).with_for_update(skip_locked=True))).all())
    submissions = [EncounterSubmitted.model_validate(prior.submission) for prior in rows]
    refs = (await tenant_reference(uow.conn, [Intake(uow, s, p.intake_channel) for p, s in zip(rows, submissions)])
            if rows else {})
    changed = []
    for prior, submission in zip(rows, submissions):
        ev = evaluate(submission, refs[prior.tenant_id], claim_id=prior.claim_id, encounter_id=prior.encounter_id,
                      channel=prior.intake_channel)
        if ev.status == prior.status and ev.missing == prior.missing:
            continue  # the list changes nothing for it: no new version
        await _apply_change(uow, prior, submission, actor=uow.actor, action="payer_listed",
                            channel=prior.intake_channel, evaluated=ev)
        changed.append(prior.claim_id)
    return len(rows), changed


_import_items = BulkInsert(chargemaster_items, ["tenant_id", "code", "modifier", "price", "effective_from", "effective_to"],
                           on_conflict="ON CONSTRAINT uq_chargemaster_item DO UPDATE SET price = EXCLUDED.price, "
                                       "effective_to = EXCLUDED.effective_to, imported_at = now()")


async def import_chargemaster_items(uow: UnitOfWork, items: list[ChargemasterItem], *, replace: bool = False) -> None:
    """Upsert the tenant's chargemaster rows (one statement); `replace` drops its other rows first."""
    tenant_id = uow.tenant_id
    if replace:
        await uow.conn.execute(delete(chargemaster_items).where(chargemaster_items.c.tenant_id == tenant_id))
    await _import_items.execute(uow.conn, [{"tenant_id": tenant_id, "code": i.code, "modifier": i.modifier,
                                            "price": i.price, "effective_from": i.effective_from,
                                            "effective_to": i.effective_to} for i in items])


async def list_chargemaster(conn: AsyncConnection, tenant_id: str, *, code: str | None = None,
                            limit: int = 500) -> list[dict]:
    stmt = select(chargemaster_items).where(chargemaster_items.c.tenant_id == tenant_id)
    if code:
        stmt = stmt.where(chargemaster_items.c.code == code.upper())
    rows = await conn.execute(stmt.order_by(chargemaster_items.c.code, chargemaster_items.c.effective_from).limit(limit))
    return [dict(r) for r in rows.mappings()]


class Charges:
    """The charges use cases routers, the intake consumer and the charge-lag loop run. Built once in the
    composition root; each command opens and owns its unit of work."""

    def __init__(self, units: UnitsOfWork, *, charge_lag: timedelta = timedelta(0)) -> None:
        self.units = units
        self.clock = units.clock
        self.charge_lag = charge_lag

    # -- intake ------------------------------------------------------------------------------------------

    async def capture(self, *, tenant_id: str, submissions: list[EncounterSubmitted], channel: str,
                      actor: str = "api", conflicts: str = "raise") -> list[CaptureResult]:
        """Capture encounters sent over HTTP, all in one unit of work. Raises ConflictingResend (409) for a
        changed resend of a released claim (nothing captured), or with `conflicts="report"` answers that
        encounter's result as `conflict`."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            results = await capture_encounters(uow, [Intake(uow, s, channel) for s in submissions],
                                               charge_lag=self.charge_lag, conflicts=conflicts)
            uow.audit_names(*(r.claim_id for r in results))
            return results

    async def capture_fhir(self, *, tenant_id: str, bundle: Any, source_system: str = "fhir") -> FhirIntake:
        """Each Encounter of a FHIR R4 Bundle captured, held or rejected on its own (the accepted ones in one
        unit of work; a retry of the Bundle is idempotent per encounter). Raises IntakeError only when the
        input is not a FHIR Bundle with an Encounter (nothing captured)."""
        read = read_encounters(bundle, source_system=source_system)
        accepted = [o.submission for o in read.outcomes if o.submission is not None]
        results = iter(await self.capture(tenant_id=tenant_id, submissions=accepted, channel="fhir",
                                          conflicts="report") if accepted else [])
        return FhirIntake(read.bundle_type, read.entry_count,
                          [(o, next(results) if o.submission is not None else None) for o in read.outcomes])

    async def capture_hl7v2(self, *, tenant_id: str, text: str, source_system: str | None = None) -> list[CaptureResult]:
        """HL7 v2 DFT^P03 message(s): all parsed first; raises NoHl7Message, or IntakeError listing the problems
        per message (`message`: 1-based), and then captures nothing."""
        messages = split_messages(text)
        if not messages:
            raise NoHl7Message("no HL7 v2 message (MSH segment) in the body")
        submissions, errors = [], []
        for i, message in enumerate(messages):
            try:
                submissions += dft_to_encounters(message, source_system=source_system)
            except IntakeError as exc:
                errors += [{"message": i + 1, **e} for e in exc.errors]
        if errors:
            raise IntakeError(errors)
        return await self.capture(tenant_id=tenant_id, submissions=submissions, channel="hl7v2")

    @audited.money("encounter.intake", "encounter")
    async def on_encounters_submitted(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        """Consumer handler: encounters an EHR published to the intake topic, captured as one batch."""
        await capture_encounters(uow, [Intake(d.uow, d.event, "kafka") for d in deliveries],
                                 charge_lag=self.charge_lag)

    # -- completeness review and late charges (audited) -------------------------------------------------

    async def fix(self, *, tenant_id: str, claim_id: uuid.UUID, changes: dict[str, Any], actor: str) -> CaptureResult:
        """Raises NotFound, NotOpen, or pydantic ValidationError (the merged encounter is invalid)."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await fix_encounter(uow, claim_id=claim_id, changes=changes)

    async def add_late_charges(self, *, tenant_id: str, claim_id: uuid.UUID, lines: list[dict],
                               actor: str) -> CaptureResult:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await add_late_charges(uow, claim_id=claim_id, lines=lines)

    async def audit_trail(self, *, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await audit_trail(conn, tenant_id, claim_id)

    # -- charge lag --------------------------------------------------------------------------------------

    async def release_due(self, *, batch_max: int = 500) -> int:
        """Release every tenant's open encounters whose charge-lag window has passed (by the clock)."""
        async with self.units.begin_system() as uow:
            return await release_due(uow, batch_max=batch_max)

    async def release_forever(self, idle_s: float = 1.0, backoff: Backoff | None = None) -> None:
        """The background loop: release what is due, then wait `idle_s` when nothing was (an outage: `backoff`)."""
        await poll_forever(self.release_due, idle_s=idle_s, log=log, what="charge-lag release", backoff=backoff)

    # -- chargemaster ------------------------------------------------------------------------------------

    async def import_chargemaster(self, *, tenant_id: str, csv_text: str, replace: bool = False,
                                  actor: str = "api") -> int:
        """Raises InvalidChargemaster (every bad row listed; nothing imported)."""
        try:
            items = parse_chargemaster_csv(csv_text)
        except ChargemasterCsvError as exc:
            raise InvalidChargemaster(str(exc), exc.errors) from None
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await import_chargemaster_items(uow, items, replace=replace)
        return len(items)

    async def chargemaster(self, *, tenant_id: str, code: str | None = None, limit: int = 500) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await list_chargemaster(conn, tenant_id, code=code, limit=limit)

    # -- tenant settings and provider profiles (audited by who/when) -------------------------------------

    async def set_default_billing_provider(self, *, tenant_id: str, provider: Provider | None,
                                           actor: str) -> dict | None:
        """Set (or, with None, clear) the default billing provider; returns the tenant's settings row."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await set_default_billing_provider(uow, provider)
            return await default_billing_provider(uow.conn, tenant_id)

    async def default_billing_provider(self, *, tenant_id: str) -> dict | None:
        """The tenant's default billing provider (its settings row), or None when none is configured."""
        async with self.units.read(tenant_id) as conn:
            row = await default_billing_provider(conn, tenant_id)
        return row if row is not None and row["default_billing_provider"] is not None else None

    async def put_provider_profile(self, *, tenant_id: str, provider: Provider, actor: str) -> None:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await put_provider_profile(uow, provider)

    async def put_payer(self, *, tenant_id: str, entry: PayerEntry, actor: str) -> int:
        """List (or change) a payer; returns how many held encounters waiting for a payer were evaluated again."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await put_payer(uow, entry)
            evaluated, changed = await reevaluate_unknown_payers(uow)
            uow.audit_names(*changed)  # the encounters the listing released or held anew
            return evaluated

    async def delete_payer(self, *, tenant_id: str, payer_id: str, actor: str) -> bool:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await delete_payer(uow, payer_id)

    async def payers(self, *, tenant_id: str) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await list_payers(conn, tenant_id)

    async def provider_profiles(self, *, tenant_id: str) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await list_provider_profiles(conn, tenant_id)
