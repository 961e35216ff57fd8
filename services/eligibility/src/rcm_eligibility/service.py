"""eligibility use cases: verify coverage for claims (cached 271s), hold what the front desk or the
authorizations team must fix, release held claims."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.claim import Claim
from rcm_contracts.events import CoverageVerified, EligibilityHeld
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.errors import Conflict, NotFound

from rcm_eligibility.db import coverage_checks, eligibility_cache, inquiry_control_seq
from rcm_eligibility.domain.decision import CoverageSnapshot, Decision, decide, snapshot_of, with_coverage_period
from rcm_eligibility.domain.prior_auth import AuthRuleTable
from rcm_x12.eligibility_270 import Dependent, EligibilityInquiry, Subscriber, build_270_batch
from rcm_x12.eligibility_271 import parse_271
from rcm_eligibility.payers import PayerConnection, PayerRefused


@dataclass
class Eligibility:
    """Everything the use cases need besides the transaction: payer connection and rules."""

    payer: PayerConnection
    auth_rules: AuthRuleTable
    submitter_id: str
    cache_ttl: timedelta
    concurrency: int = 8


class NotHeld(Conflict):
    code = "not_held"


def _inquiry(claim: Claim) -> EligibilityInquiry:
    cov = claim.coverage
    # the subscriber: a full person, else the insured known by name only (no birth date), else the patient
    subscriber_person = cov.subscriber or (cov.insured if cov.relationship != "self" else None) or claim.patient
    dependent = None
    if cov.relationship != "self":
        p = claim.patient
        dependent = Dependent(first_name=p.first_name, last_name=p.last_name, birth_date=p.birth_date, sex=p.sex)
    return EligibilityInquiry(
        payer_id=cov.payer_id, payer_name=cov.payer_name, provider_npi=claim.billing_provider.npi,
        provider_name=(claim.billing_provider.name or "PROVIDER")[:60],
        subscriber=Subscriber(member_id=cov.member_id, first_name=subscriber_person.first_name,
                              last_name=subscriber_person.last_name, birth_date=subscriber_person.birth_date,
                              sex=subscriber_person.sex),
        date_of_service=claim.service_date, relationship=cov.relationship, dependent=dependent,
        service_type_codes=("30", "4", "98"))


BATCH_270 = 100  # inquiries per interchange


async def _ask_chunk(elig: Eligibility, chunk: list[tuple[tuple, Claim]], control: int, gate: asyncio.Semaphore,
                     asked: dict, unasked: set) -> None:
    inquiries, keys = [], []
    for i, (key, claim) in enumerate(chunk, start=1):
        try:
            inquiry = dataclasses.replace(_inquiry(claim), trace_number=f"{control}-{i}")
        except ValueError:
            unasked.add(key)  # e.g. an NPI failing its check digit: the scrubber reports it
            continue
        inquiries.append(inquiry)
        keys.append(key)
    if not inquiries:
        return
    x270 = build_270_batch(inquiries, control_number=control, sender_id=elig.submitter_id,
                           receiver_id=chunk[0][1].coverage.payer_id[:15], now=datetime.now(timezone.utc))
    async with gate:
        try:
            x271 = await elig.payer.inquire(x270)
        except PayerRefused as exc:
            for key in keys:
                asked[key] = CoverageSnapshot(active=None, rejections=[{"code": "refused", "meaning": str(exc),
                                                                        "follow_up": "check the inquiry data"}])
            return
    summaries = parse_271(x271)
    by_trace = {s.trace_number: s for s in summaries if s.trace_number}
    for i, key in enumerate(keys):
        trace = inquiries[i].trace_number
        if trace in by_trace:
            asked[key] = snapshot_of([by_trace[trace]])
        elif len(summaries) == len(keys):
            asked[key] = snapshot_of([summaries[i]])  # no echoed trace: the payer answered in order
        else:
            asked[key] = snapshot_of([s for s in summaries if not s.trace_number][:1])  # payer-level rejection


_cache_put = BulkInsert(eligibility_cache, ["tenant_id", "payer_id", "member_id", "service_date", "snapshot"],
                        on_conflict="ON CONSTRAINT uq_eligibility_cache DO UPDATE SET snapshot = EXCLUDED.snapshot, "
                                    "fetched_at = now()")


async def snapshots_for(conn: AsyncConnection, elig: Eligibility, tenant_claims: list[tuple[str, Claim]], *,
                        fresh: bool = False) -> list[tuple[CoverageSnapshot | None, str]]:
    """The 271 snapshot per claim: from the cache when fresh enough, else from the payer (in parallel)."""
    keys = [(t, c.coverage.payer_id, c.coverage.member_id, c.service_date) if c.coverage else None
            for t, c in tenant_claims]
    cached = {}
    wanted = [k for k in keys if k is not None]
    if wanted and not fresh:
        since = datetime.now(timezone.utc) - elig.cache_ttl
        rows = await conn.execute(select(eligibility_cache).where(
            tuple_(eligibility_cache.c.tenant_id, eligibility_cache.c.payer_id, eligibility_cache.c.member_id,
                   eligibility_cache.c.service_date).in_(wanted), eligibility_cache.c.fetched_at >= since))
        cached = {(r.tenant_id, r.payer_id, r.member_id, r.service_date): CoverageSnapshot.from_json(r.snapshot) for r in rows}
    misses = {k: c for k, (_, c) in zip(keys, tenant_claims) if k is not None and k not in cached}
    asked: dict[tuple, CoverageSnapshot] = {}
    unasked: set[tuple] = set()
    if misses:
        # One batch interchange per payer (up to BATCH_270 inquiries), sent in parallel; each 270 has
        # its own trace number and its 271 is matched back on the echoed TRN02.
        by_payer: dict[str, list[tuple[tuple, Claim]]] = {}
        for key, claim in misses.items():
            by_payer.setdefault(claim.coverage.payer_id, []).append((key, claim))
        chunks = [group[i:i + BATCH_270] for group in by_payer.values() for i in range(0, len(group), BATCH_270)]
        controls = [await conn.scalar(inquiry_control_seq.next_value()) for _ in chunks]
        gate = asyncio.Semaphore(elig.concurrency)
        await asyncio.gather(*(_ask_chunk(elig, chunk, control, gate, asked, unasked)
                               for chunk, control in zip(chunks, controls)))
    if asked:
        await _cache_put.execute(conn, [{"tenant_id": k[0], "payer_id": k[1], "member_id": k[2], "service_date": k[3],
                                         "snapshot": s.as_json()} for k, s in asked.items()])
    out = []
    for k in keys:
        if k is None:
            out.append((None, "none"))
        elif k in cached:
            out.append((cached[k], "cache"))
        elif k in unasked:
            out.append((None, "not_sent"))
        else:
            out.append((asked[k], "payer"))
    return out


_record = BulkInsert(coverage_checks, ["claim_id", "tenant_id", "payer_id", "status", "reason", "result", "work_queue",
                                       "hold_reason", "edits", "claim", "snapshot"])


def check_row(tenant_id: str, claim: Claim, decision: Decision, snapshot: CoverageSnapshot | None) -> dict:
    held = decision.hold_reason is not None
    return {"claim_id": claim.claim_id, "tenant_id": tenant_id, "payer_id": decision.result.payer_id,
            "status": "held" if held else decision.result.status, "reason": decision.result.reason,
            "result": decision.result.model_dump(mode="json"), "work_queue": decision.work_queue,
            "hold_reason": decision.hold_reason, "edits": [e.model_dump(mode="json") for e in decision.edits],
            "claim": claim.model_dump(mode="json"), "snapshot": snapshot.as_json() if snapshot else None}


def outcome_event(claim: Claim, decision: Decision, snapshot: CoverageSnapshot | None = None):
    if decision.hold_reason is None:
        return CoverageVerified(claim=with_coverage_period(claim, snapshot), eligibility=decision.result)
    return EligibilityHeld(claim_id=claim.claim_id, reason=decision.hold_reason, work_queue=decision.work_queue,
                           edits=decision.edits)


async def verify_claims(conn: AsyncConnection, elig: Eligibility, items: list[tuple[str, Claim]], emit) -> None:
    """`emit(index, event, key)` for each claim: CoverageVerified, or EligibilityHeld."""
    snaps = await snapshots_for(conn, elig, items)
    now = datetime.now(timezone.utc)
    rows = []
    for i, ((tenant_id, claim), (snap, source)) in enumerate(zip(items, snaps)):
        decision = decide(claim, snap, source=source, now=now, auth_rules=elig.auth_rules)
        rows.append(check_row(tenant_id, claim, decision, snap))
        emit(i, outcome_event(claim, decision, snap), claim.claim_id)
    await _record.execute(conn, rows)


async def _held(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID):
    row = (await conn.execute(select(coverage_checks).where(
        coverage_checks.c.tenant_id == tenant_id, coverage_checks.c.claim_id == claim_id).with_for_update())).first()
    if row is None:
        raise NotFound("no such claim at the eligibility stage for this tenant")
    if row.status != "held":
        raise NotHeld("the claim is not held at eligibility")
    return row


async def _redecide(conn, elig: Eligibility, row, claim: Claim, snapshot: CoverageSnapshot, source: str, emit) -> Decision:
    decision = decide(claim, snapshot, source=source, now=datetime.now(timezone.utc), auth_rules=elig.auth_rules)
    values = check_row(row.tenant_id, claim, decision, snapshot)
    del values["claim_id"], values["tenant_id"]
    await conn.execute(update(coverage_checks).where(coverage_checks.c.claim_id == row.claim_id).values(**values))
    emit(outcome_event(claim, decision, snapshot), claim.claim_id)
    return decision


async def record_authorization(conn, elig: Eligibility, emit, *, tenant_id: str, claim_id: uuid.UUID,
                               authorization_number: str) -> Decision:
    """The authorizations team obtained the payer's authorization: attach it and release the claim."""
    row = await _held(conn, tenant_id, claim_id)
    claim = Claim.model_validate({**row.claim, "prior_authorization": authorization_number})
    return await _redecide(conn, elig, row, claim, CoverageSnapshot.from_json(row.snapshot), "cache", emit)


async def recheck(conn, elig: Eligibility, emit, *, tenant_id: str, claim_id: uuid.UUID,
                  member_id: str | None = None) -> Decision:
    """The front desk corrected the coverage (or the payer updated it): ask the payer again."""
    row = await _held(conn, tenant_id, claim_id)
    claim = Claim.model_validate(row.claim)
    if member_id:
        claim = claim.model_copy(update={"coverage": claim.coverage.model_copy(update={"member_id": member_id})})
    [(snapshot, source)] = await snapshots_for(conn, elig, [(tenant_id, claim)], fresh=True)
    return await _redecide(conn, elig, row, claim, snapshot, source, emit)
