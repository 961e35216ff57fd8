"""scrubber use cases: scrub coded claims under the tenant's and payer's rule sets; keep the manual
review queue (correct, re-scrub, hold, release, every action audited); take back claims submission
could not send or the clearinghouse rejected.

`Scrubber` (built once in the composition root) is what routers and consumer handlers call: each command
opens and owns its unit of work; the functions below it take that unit (`uow`: connection, emit, tenant and
actor bound) or, for pure reads, a connection. The date scrubbing compares against (future dates of service,
timely filing) is the injected clock's."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any, Sequence

from sqlalchemy import func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection
from pydantic import ValidationError

from rcm_contracts.claim import Claim
from rcm_contracts.envelope import describe_validation_error
from rcm_contracts.events import ClaimResubmissionRequested, ClaimReturned, ClaimScrubbed, Edit
from rcm_runtime import phi
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.clock import Clock
from rcm_runtime.consumer import Delivery
from rcm_runtime.errors import Conflict, NotFound
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork

from rcm_scrubber.db import (
    FINGERPRINT_FIELD, PHI, claim_fingerprints, resubmissions, review_audit, rule_sets, scrubbed_claims,
)
from rcm_scrubber.domain import resubmission
from rcm_scrubber.domain.catalog import CATALOG
from rcm_scrubber.domain.engine import ScrubContext, claim_fingerprint, decision, scrub
from rcm_scrubber.domain.rule_sets import EffectiveRuleSet, RuleSetDocument, RuleSetLibrary, parse_rule_set

log = logging.getLogger("rcm.scrubber")
TENANT_DEFAULT = "*"  # rule_sets.payer_id of a tenant's default rule set
OPEN = ("review", "held")  # decisions a person may still act on


class NotInReview(Conflict):
    code = "not_in_review"


class StillFailing(Conflict):
    """Release refused: errors remain. The edits travel with the 409."""

    code = "edits_remain"

    def __init__(self, edits: list[Edit]) -> None:
        super().__init__(f"{sum(e.severity == 'error' for e in edits)} error edit(s) remain; correct the claim first")
        self.edits = edits


class StaleVersion(Conflict):
    code = "version_exists"


# ---------------------------------------------------------------- rule sets
async def rule_library(conn: AsyncConnection, tenant_ids: set[str]) -> RuleSetLibrary:
    rows = await conn.execute(select(rule_sets.c.document).where(rule_sets.c.tenant_id.in_(tenant_ids)))
    return RuleSetLibrary(parse_rule_set(r.document) for r in rows)


async def lock_rule_sets(uow: UnitOfWork, payer: str) -> None:
    """Serialise new versions of one tenant's rule set for one payer until the transaction ends: two writers (two
    approvals of proposed rules, two uploads) would otherwise both read the same latest version and the second's
    insert would collide. A transaction-level advisory lock: there may be no row to lock yet (the first version)."""
    await uow.conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                           {"k": f"scrubber.rule_sets/{uow.tenant_id}/{payer}"})


async def add_rule_set(uow: UnitOfWork, document: dict[str, Any]) -> RuleSetDocument:
    """Store a new version for the unit's tenant, created by its actor. Raises RuleSetError (422) for a bad
    document, StaleVersion (409) when the version is not above the latest for that tenant and payer
    (versions are never rewritten)."""
    tenant_id = uow.tenant_id
    doc = parse_rule_set({**document, "tenant_id": tenant_id})
    payer = doc.payer_id or TENANT_DEFAULT
    await lock_rule_sets(uow, payer)
    latest = await uow.conn.scalar(select(func.max(rule_sets.c.version)).where(
        rule_sets.c.tenant_id == tenant_id, rule_sets.c.payer_id == payer))
    if latest is not None and doc.version <= latest:
        raise StaleVersion(f"version {doc.version} is not above the latest ({latest}) for this payer")
    await uow.conn.execute(insert(rule_sets).values(tenant_id=tenant_id, payer_id=payer, version=doc.version,
                                                    effective_from=doc.effective_from,
                                                    document=doc.model_dump(mode="json"), created_by=uow.actor))
    return doc


async def list_rule_sets(conn: AsyncConnection, tenant_id: str, payer_id: str | None) -> list[dict[str, Any]]:
    stmt = select(rule_sets).where(rule_sets.c.tenant_id == tenant_id)
    if payer_id:
        stmt = stmt.where(rule_sets.c.payer_id == payer_id)
    rows = await conn.execute(stmt.order_by(rule_sets.c.payer_id, rule_sets.c.version.desc()))
    return [dict(r) for r in rows.mappings()]


def edit_catalog() -> list[dict[str, Any]]:
    """Every edit the scrubber knows: id, default severity, field, 837P loop/segment, parameter schema."""
    return [{"id": d.id, "severity": d.severity, "title": d.title, "message": d.message, "field": d.field,
             "segment": d.segment, "parameters": d.parameters.model_json_schema() if d.parameters else None}
            for d in CATALOG]


# ---------------------------------------------------------------- scrubbing
@dataclass(frozen=True)
class Scrubbed:
    claim: Claim
    decision: str
    edits: list[Edit]
    rule_sets: list[dict]


def stored_fingerprint(fingerprint: str, tenant_id: str) -> str:
    """What claim_fingerprints holds for a fingerprint: its blind index (rcm_runtime.phi), not the digest itself."""
    return phi.sealer().blind_index(fingerprint, tenant=tenant_id, field=FINGERPRINT_FIELD)


async def _known_fingerprints(conn: AsyncConnection, items: list[tuple[str, Claim]]) -> dict[tuple[str, str], uuid.UUID]:
    """(tenant, fingerprint) -> the claim sent on with it."""
    stored = {(t, stored_fingerprint(f, t)): f for t, f in {(t, claim_fingerprint(c, t)) for t, c in items}}
    if not stored:
        return {}
    rows = await conn.execute(select(claim_fingerprints).where(
        tuple_(claim_fingerprints.c.tenant_id, claim_fingerprints.c.fingerprint).in_(list(stored))))
    return {(r.tenant_id, stored[(r.tenant_id, r.fingerprint)]): r.claim_id for r in rows}


async def scrub_claims(conn: AsyncConnection, items: list[tuple[str, Claim, list[Edit]]], *,
                       today: date) -> list[Scrubbed]:
    """(tenant, claim, upstream edits) -> decisions as of `today`, with one query each for rule sets and
    fingerprints."""
    library = await rule_library(conn, {t for t, _, _ in items})
    known = await _known_fingerprints(conn, [(t, c) for t, c, _ in items])
    out = []
    for tenant_id, claim, upstream in items:
        fingerprint = claim_fingerprint(claim, tenant_id)
        seen = known.get((tenant_id, fingerprint))
        rule_set = library.for_claim(claim, tenant_id)
        ctx = ScrubContext(today=today, tenant_id=tenant_id, rule_set=rule_set, upstream=upstream,
                           # the claim's own earlier send is not a duplicate of itself
                           known_fingerprints={fingerprint} if seen is not None and seen != claim.claim_id else frozenset())
        edits = scrub(claim, context=ctx)
        out.append(Scrubbed(claim, decision(edits), edits,
                            [{"payer_id": s.payer_id, "version": s.version} for s in rule_set.sources]))
    return out


def _row(tenant_id: str, s: Scrubbed, *, stage: str = "scrub") -> dict[str, Any]:
    return {"claim_id": s.claim.claim_id, "tenant_id": tenant_id, "decision": s.decision,
            "edits": [e.model_dump(mode="json") for e in s.edits], "claim": s.claim.model_dump(mode="json"),
            "payer_id": s.claim.coverage.payer_id if s.claim.coverage else None,
            "edit_codes": sorted({e.code for e in s.edits}), "stage": stage, "rule_sets": s.rule_sets}


_insert_fingerprints = BulkInsert(claim_fingerprints, ["tenant_id", "fingerprint", "claim_id"],
                                  on_conflict="DO NOTHING")


async def record_sent_on(conn: AsyncConnection, items: list[tuple[str, Claim]]) -> None:
    """Fingerprints of claims released to submission: a later claim billing the same services is a duplicate."""
    await _insert_fingerprints.execute(conn, [
        {"tenant_id": t, "fingerprint": stored_fingerprint(claim_fingerprint(c, t), t), "claim_id": c.claim_id}
        for t, c in items])


async def accept_coded(coded: Sequence[Delivery]) -> None:
    """Coded claims (each delivery with its unit of work, bound to its tenant; all share one connection):
    clean ones go on to submission, the others wait in the review queue, all written with one upsert. A
    claim coded again (after a coder's fix) replaces its earlier scrub; rows are keyed by (tenant, claim), so
    another tenant's claim with the same id is its own row. Claims that still need a coder are
    skipped: coding emits them again once fixed."""
    ready = [d for d in coded if d.event.status == "coded"]
    if not ready:
        return
    conn, clock = ready[0].uow.conn, ready[0].uow.clock
    items = [(d.uow.tenant_id, d.event.claim, list(d.event.edits)) for d in ready]
    results = await scrub_claims(conn, items, today=clock.today())
    rows = [_row(t, s) for (t, _, _), s in zip(items, results)]
    stmt = pg_insert(scrubbed_claims).values(PHI.seal_all(scrubbed_claims, rows))
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=[scrubbed_claims.c.tenant_id, scrubbed_claims.c.claim_id],
        set_={k: stmt.excluded[k] for k in ("decision", "edits", "claim", "payer_id", "edit_codes", "stage",
                                           "rule_sets")} | {"version": scrubbed_claims.c.version + 1,
                                                            "scrubbed_at": func.now(),
                                                            # coded anew: no longer the answer to a denials request
                                                            "resubmission_id": None}))
    await record_sent_on(conn, [(t, s.claim) for (t, _, _), s in zip(items, results) if s.decision == "clean"])
    for d, s in zip(ready, results):
        d.uow.emit(ClaimScrubbed(claim=s.claim, decision=s.decision, edits=s.edits), key=s.claim.claim_id)


async def take_back(returned: Sequence[Delivery]) -> int:
    """Claims submission returned (no valid 837P could be built, or a 999/277CA rejection) re-enter
    the review queue with the findings as their edits. Returns how many were found."""
    found = 0
    for d in returned:
        ev: ClaimReturned = d.event
        tenant_id, conn = d.uow.tenant_id, d.uow.conn
        findings = [e.model_dump(mode="json") for e in ev.findings]
        result = await conn.execute(update(scrubbed_claims).where(
            scrubbed_claims.c.tenant_id == tenant_id, scrubbed_claims.c.claim_id == ev.claim_id).values(
            decision="review", stage=ev.stage, edits=findings, edit_codes=sorted({e.code for e in ev.findings}),
            scrubbed_at=func.now()))
        if result.rowcount:
            found += 1
            await conn.execute(insert(review_audit).values(
                claim_id=ev.claim_id, tenant_id=tenant_id, actor="submission", action="returned",
                after={"stage": ev.stage, "edits": findings}))  # no claim: nothing to seal
    return found


# ---------------------------------------------------------------- resubmissions from denial work
async def resubmit(requested: Sequence[Delivery]) -> int:
    """Denials asks to send a claim again (ClaimResubmissionRequested, each delivery's unit bound to its tenant):
    a corrected claim replaces the denied one (frequency 7) in its row; a rebill is a new claim to the other payer.
    Each is scrubbed under today's rules: clean goes on to submission carrying the request's id; errors, a request
    for review, or a correction that does not make a valid claim wait in the review queue (stage `denial`) for a
    person to correct and release. A request whose claim the scrubber never had for the tenant is refused with
    the reason. Every request is acted on once (a redelivery finds its row). Returns how many were sent on."""
    sent = 0
    for d in requested:
        ev: ClaimResubmissionRequested = d.event
        uow, tenant_id = d.uow, d.uow.tenant_id
        first = await uow.conn.execute(pg_insert(resubmissions).values(
            tenant_id=tenant_id, request_id=ev.request_id, denial_id=ev.denial_id, claim_id=ev.claim_id,
            kind=ev.kind, outcome="received").on_conflict_do_nothing().returning(resubmissions.c.request_id))
        if first.first() is None:
            continue  # acted on before
        outcome, reason, claim_id = await _resubmit_one(uow, ev)
        sent += outcome == "clean"
        await uow.conn.execute(update(resubmissions).where(
            resubmissions.c.tenant_id == tenant_id, resubmissions.c.request_id == ev.request_id).values(
            outcome=outcome, reason=reason, resubmitted_claim_id=claim_id))
        if outcome == "refused":
            log.warning("resubmission refused", extra={"tenant_id": tenant_id, "request_id": str(ev.request_id),
                                                       "reason": reason})
    return sent


async def _resubmit_one(uow: UnitOfWork, ev: ClaimResubmissionRequested) -> tuple[str, str | None, uuid.UUID | None]:
    row = PHI.open(scrubbed_claims, (await uow.conn.execute(select(scrubbed_claims).where(
        scrubbed_claims.c.tenant_id == uow.tenant_id, scrubbed_claims.c.claim_id == ev.claim_id)
        .with_for_update())).first())
    if row is None:
        return "refused", "the scrubber has no such claim for this tenant", None
    forced: list[Edit] = []
    try:
        claim = resubmission.replacement(row.claim, ev) if ev.kind == "corrected" else resubmission.rebilled(row.claim, ev)
    except ValidationError as exc:
        if ev.kind != "corrected":
            return "refused", "the rebilled claim is not a valid claim: " + describe_validation_error(exc), None
        # kept, for a person: the claim as billed, as a replacement, with why the correction did not apply
        claim = resubmission.as_billed_replacement(row.claim, ev)
        forced = [Edit(code="DNL-INVALID", severity="error",
                       message="the correction from denial work does not make a valid claim: "
                               + describe_validation_error(exc))]
    if resubmission.for_review(ev):
        forced.append(resubmission.CORRECT_THEN_RELEASE)
    [result] = await scrub_claims(uow.conn, [(uow.tenant_id, claim, forced)], today=uow.clock.today())
    decision = "review" if forced else result.decision
    result = Scrubbed(result.claim, decision, result.edits, result.rule_sets)
    if ev.kind == "corrected":
        await _rewrite(uow, row, result, stage="denial", resubmission_id=ev.request_id)
    else:  # a new claim: its own row
        await uow.conn.execute(pg_insert(scrubbed_claims).values(
            {**PHI.seal(scrubbed_claims, _row(uow.tenant_id, result, stage="denial")), "resubmission_id": ev.request_id})
            .on_conflict_do_nothing())
    await _audit(uow, row, result, action=f"resubmission_{ev.kind}", note=None)
    if decision == "clean":
        await _send_on(uow, result, resubmission_id=ev.request_id)
    return decision, None, claim.claim_id


# ---------------------------------------------------------------- review queue actions
async def _open_claim(uow: UnitOfWork, claim_id: uuid.UUID, *, states=OPEN):
    row = (await uow.conn.execute(select(scrubbed_claims).where(
        scrubbed_claims.c.tenant_id == uow.tenant_id, scrubbed_claims.c.claim_id == claim_id).with_for_update())).first()
    row = PHI.open(scrubbed_claims, row)
    if row is None:
        raise NotFound("no such claim at the scrubber stage for this tenant")
    if row.decision not in states:
        raise NotInReview(f"the claim is {row.decision}, not in the review queue")
    return row


def _snapshot(row_or_result) -> dict[str, Any]:
    if isinstance(row_or_result, Scrubbed):
        return {"decision": row_or_result.decision, "claim": row_or_result.claim.model_dump(mode="json"),
                "edit_codes": sorted({e.code for e in row_or_result.edits})}
    return {"decision": row_or_result.decision, "claim": row_or_result.claim, "edit_codes": row_or_result.edit_codes}


async def _rescrub(uow: UnitOfWork, row, claim: Claim, *, action: str, note: str | None, release: bool) -> Scrubbed:
    """Scrub the (corrected) claim again. Clean -> sent on when `release` (a person's decision) or
    when it came back clean from a correction; otherwise it stays in review with the new edits."""
    [result] = await scrub_claims(uow.conn, [(row.tenant_id, claim, [])], today=uow.clock.today())
    if release and result.decision != "clean":
        raise StillFailing(result.edits)
    await _rewrite(uow, row, result, stage="scrub")
    await _audit(uow, row, result, action=action, note=note)
    if result.decision == "clean":
        await _send_on(uow, result, resubmission_id=row.resubmission_id)
    return result


async def _rewrite(uow: UnitOfWork, row, result: Scrubbed, *, stage: str, **more: Any) -> None:
    """The claim's row after a scrub (its version moved on); `more`: other columns to set."""
    sealed = PHI.seal(scrubbed_claims, _row(row.tenant_id, result, stage=stage))
    await uow.conn.execute(update(scrubbed_claims).where(
        scrubbed_claims.c.tenant_id == row.tenant_id, scrubbed_claims.c.claim_id == row.claim_id).values(
        **{k: v for k, v in sealed.items() if k not in ("claim_id", "tenant_id")}, **more,
        version=row.version + 1, scrubbed_at=func.now()))


async def _audit(uow: UnitOfWork, row, result: Scrubbed, *, action: str, note: str | None) -> None:
    """Who did what to the claim, with it and its edits before and after (the claim the result is about)."""
    await uow.conn.execute(insert(review_audit).values(PHI.seal(review_audit, dict(
        claim_id=result.claim.claim_id, tenant_id=row.tenant_id, actor=uow.actor, action=action,
        before=_snapshot(row), after=_snapshot(result), note=note))))


async def _send_on(uow: UnitOfWork, result: Scrubbed, *, resubmission_id: uuid.UUID | None) -> None:
    """A clean claim goes on to submission; its fingerprint marks a later claim for the same services a duplicate."""
    await record_sent_on(uow.conn, [(uow.tenant_id, result.claim)])
    uow.emit(ClaimScrubbed(claim=result.claim, decision="clean", edits=result.edits, resubmission_id=resubmission_id),
             key=result.claim.claim_id)


async def correct(uow: UnitOfWork, claim_id: uuid.UUID, changes: dict[str, Any], note: str | None = None) -> Scrubbed:
    """Merge corrected fields (top-level claim fields) and re-scrub. Raises pydantic ValidationError
    when the corrected claim is not a valid claim."""
    row = await _open_claim(uow, claim_id)
    protected = {"claim_id", "encounter_id", "source_system", "source_encounter_id"}
    merged = Claim.model_validate({**row.claim, **{k: v for k, v in changes.items() if k not in protected}})
    return await _rescrub(uow, row, merged, action="corrected", note=note, release=False)


async def rescrub(uow: UnitOfWork, claim_id: uuid.UUID) -> Scrubbed:
    """After a rule-set change: the same claim under today's rules."""
    row = await _open_claim(uow, claim_id, states=("review",))
    return await _rescrub(uow, row, Claim.model_validate(row.claim), action="rescrubbed", note=None, release=False)


async def release(uow: UnitOfWork, claim_id: uuid.UUID, note: str | None) -> Scrubbed:
    """A held claim (or one a person judged ready) goes on if no error edit remains."""
    row = await _open_claim(uow, claim_id)
    return await _rescrub(uow, row, Claim.model_validate(row.claim), action="released", note=note, release=True)


async def hold(uow: UnitOfWork, claim_id: uuid.UUID, note: str | None) -> None:
    row = await _open_claim(uow, claim_id, states=("review",))
    await uow.conn.execute(update(scrubbed_claims).where(
        scrubbed_claims.c.tenant_id == uow.tenant_id, scrubbed_claims.c.claim_id == claim_id).values(decision="held"))
    await uow.conn.execute(insert(review_audit).values(PHI.seal(review_audit, dict(
        claim_id=claim_id, tenant_id=uow.tenant_id, actor=uow.actor, action="held", before=_snapshot(row),
        after={"decision": "held"}, note=note))))


async def audit_trail(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
    rows = await conn.execute(select(review_audit).where(
        review_audit.c.tenant_id == tenant_id, review_audit.c.claim_id == claim_id).order_by(review_audit.c.id))
    return [dict(r) for r in PHI.open_all(review_audit, rows.mappings())]


async def review_queue(conn: AsyncConnection, tenant_id: str, *, decision: str | None, edit: str | None,
                       payer_id: str | None, stage: str | None, limit: int, offset: int) -> tuple[int, list[dict]]:
    where = [scrubbed_claims.c.tenant_id == tenant_id]
    if decision:
        where.append(scrubbed_claims.c.decision == decision)
    if edit:
        where.append(scrubbed_claims.c.edit_codes.any(edit))
    if payer_id:
        where.append(scrubbed_claims.c.payer_id == payer_id)
    if stage:
        where.append(scrubbed_claims.c.stage == stage)
    total = await conn.scalar(select(func.count()).select_from(scrubbed_claims).where(*where))
    rows = await conn.execute(select(scrubbed_claims).where(*where).order_by(scrubbed_claims.c.scrubbed_at)
                              .limit(limit).offset(offset))
    return total, [dict(r) for r in PHI.open_all(scrubbed_claims, rows.mappings())]


# ---------------------------------------------------------------- the use cases routers and handlers call
class Scrubber:
    """The scrubber's use cases, built once in the composition root: commands open and own their unit of
    work (acting for the tenant, as the person named by the request); queries read on one connection."""

    def __init__(self, units: UnitsOfWork, clock: Clock) -> None:
        self.units = units
        self.clock = clock

    # consumed events (each delivery carries its bound unit of work)
    async def accept_coded(self, coded: Sequence[Delivery]) -> None:
        await accept_coded(coded)

    async def take_back(self, returned: Sequence[Delivery]) -> int:
        return await take_back(returned)

    async def resubmit(self, requested: Sequence[Delivery]) -> int:
        return await resubmit(requested)

    # review queue
    async def review_queue(self, tenant_id: str, *, decision: str | None, edit: str | None, payer_id: str | None,
                           stage: str | None, limit: int, offset: int) -> tuple[int, list[dict]]:
        async with self.units.read(tenant_id) as conn:
            return await review_queue(conn, tenant_id, decision=decision, edit=edit, payer_id=payer_id, stage=stage,
                                      limit=limit, offset=offset)

    async def resubmissions(self, tenant_id: str, *, claim_id: uuid.UUID | None, denial_id: uuid.UUID | None,
                            outcome: str | None, limit: int) -> list[dict]:
        where = [resubmissions.c.tenant_id == tenant_id]
        for column, value in (("claim_id", claim_id), ("denial_id", denial_id), ("outcome", outcome)):
            if value is not None:
                where.append(resubmissions.c[column] == value)
        async with self.units.read(tenant_id) as conn:
            rows = await conn.execute(select(resubmissions).where(*where)
                                      .order_by(resubmissions.c.received_at.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]

    async def audit_trail(self, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await audit_trail(conn, tenant_id, claim_id)

    async def correct(self, *, tenant_id: str, claim_id: uuid.UUID, changes: dict[str, Any], actor: str,
                      note: str | None = None) -> Scrubbed:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await correct(uow, claim_id, changes, note)

    async def rescrub(self, *, tenant_id: str, claim_id: uuid.UUID, actor: str) -> Scrubbed:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await rescrub(uow, claim_id)

    async def release(self, *, tenant_id: str, claim_id: uuid.UUID, actor: str, note: str | None) -> Scrubbed:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await release(uow, claim_id, note)

    async def hold(self, *, tenant_id: str, claim_id: uuid.UUID, actor: str, note: str | None) -> None:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await hold(uow, claim_id, note)

    # rule sets and catalog
    async def add_rule_set(self, *, tenant_id: str, document: dict[str, Any], actor: str) -> RuleSetDocument:
        """Raises RuleSetError (nothing stored) for a document that cannot be used, StaleVersion for a version
        not above the latest."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            return await add_rule_set(uow, document)

    async def rule_sets(self, tenant_id: str, *, payer_id: str | None) -> list[dict[str, Any]]:
        async with self.units.read(tenant_id) as conn:
            return await list_rule_sets(conn, tenant_id, payer_id)

    async def effective_rule_set(self, tenant_id: str, *, payer_id: str | None, on: date | None) -> EffectiveRuleSet:
        """What runs on a claim of this payer with date of service `on` (default: today, by the clock)."""
        async with self.units.read(tenant_id) as conn:
            library = await rule_library(conn, {tenant_id})
        return library.effective(tenant_id, payer_id, on=on or self.clock.today())

    def edit_catalog(self) -> list[dict[str, Any]]:
        return edit_catalog()

