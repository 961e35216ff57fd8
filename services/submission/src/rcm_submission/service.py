"""submission use cases: queue clean claims; build, validate and send 837P interchanges per tenant,
payer and clearinghouse; read 999/277CA responses back; hand 835s that arrive the same way to remittance.

A claim never leaves half-built: claims the 837P cannot carry (check_billable) or that fail the
implementation-guide check go back to the scrubber's review queue (ClaimReturned) with the findings,
and the rest of the batch goes on without them. A response file that does not parse, or names nothing
we sent, is quarantined with the reason and changes no claim. An 835 is forwarded to remittance
(RemittanceReceived) for the one tenant whose claims it pays, or quarantined with the reason.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, bindparam, cast, delete, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.claim import Adjustment, Claim, OtherPayer, patient_control_number
from rcm_contracts.events import (
    ClaimAcknowledged, ClaimReturned, ClaimScrubbed, ClaimSubmitted, Edit, PaymentPosted, RemittanceReceived,
)
from rcm_runtime.audit import audited
from rcm_runtime.consumer import Delivery
from rcm_runtime.reads import jsonable
from rcm_runtime.unit_of_work import Cause, UnitOfWork, UnitsOfWork
from rcm_x12.codec import X12Error, interchange_texts, tokenize
from rcm_x12.claim_837p.check import check_billable
from rcm_x12.claim_837p.write import ClaimBatch, Receiver, Submitter, build_837p
from rcm_x12.ig.validator import IgFinding, IgValidator

from rcm_submission.clearinghouse import ClearinghouseAdapter, ClearinghouseUnavailable, InboundFile, OutboundFile
from rcm_submission.db import (
    PHI, acknowledgment_files, clearinghouse_routes, interchange_control_seq, interchanges, primary_payments,
    submission_audit, submissions,
)
from rcm_submission.domain.era_tenant import claim_numbers, tenant_for
from rcm_submission.domain.routing import FALLBACK, Route, RouteTable
from rcm_submission.errors import NotAccepted, NotFoundClaim, NotFoundInterchange, SecondaryQueued, UnknownClearinghouse
from rcm_x12.ack_277ca import ClaimAcknowledgment, ClaimAcknowledgments, read_277ca
from rcm_x12.ack_999 import GroupAcknowledgment, UnparseableAcknowledgment, read_999_file
from rcm_x12.reading import WARNING, ReadingIssue

log = logging.getLogger("rcm.submission")

_validator = IgValidator.for_transaction("837", "005010X222A1")


@dataclass(frozen=True)
class Identity:
    """Who we are on the wire. The submitter id (ISA06, GS02, 1000A NM109) is the tenant's id: the
    clearinghouse knows each practice by its own submitter id."""

    name: str
    contact_name: str
    phone: str


def submitter_id(tenant_id: str) -> str:
    return tenant_id[:15]


# ---------------------------------------------------------------- queueing
@audited.money("claim.queue_submission", "claim")
async def on_claims_scrubbed(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    """Clean claims are queued. A claim that comes back clean after a rejection is queued again (its
    attempts and rejection history kept); one already sent or accepted is left alone (a redelivery), unless it
    answers a denials request it was not queued under yet (a corrected claim replacing the one the payer
    denied: sent again, once per request). Rows are keyed by (tenant, claim): another tenant's claim with the
    same id is its own row."""
    now = uow.now()
    rows = [
        {"claim_id": d.event.claim.claim_id, "tenant_id": d.tenant_id, "payer_id": d.event.claim.coverage.payer_id,
         "status": "queued", "claim": d.event.claim.model_dump(mode="json"),
         "patient_control_number": patient_control_number(d.event.claim.claim_id),
         "frequency_code": d.event.claim.frequency_code, "queued_at": now, "resubmission_id": d.event.resubmission_id}
        for d in deliveries if d.event.decision == "clean" and d.event.claim.coverage is not None
    ]
    if not rows:
        return
    stmt = pg_insert(submissions).values(PHI.seal_all(submissions, rows))
    await uow.conn.execute(stmt.on_conflict_do_update(
        index_elements=[submissions.c.tenant_id, submissions.c.claim_id],
        set_={"status": "queued", "claim": stmt.excluded.claim, "payer_id": stmt.excluded.payer_id,
              "queued_at": stmt.excluded.queued_at, "frequency_code": stmt.excluded.frequency_code,
              "resubmission_id": func.coalesce(stmt.excluded.resubmission_id, submissions.c.resubmission_id)},
        where=submissions.c.status.in_(("queued", "rejected", "returned"))
        | (stmt.excluded.resubmission_id.is_not(None)
           & submissions.c.resubmission_id.is_distinct_from(stmt.excluded.resubmission_id))))


@audited.money("claim.secondary", "claim")
async def on_payments_posted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    """The primary payer's adjudication, kept for a secondary claim's 2320 loop (once per tenant and claim: another
    tenant's payment naming the same claim id never stands in for this tenant's). When it leaves the patient a share
    and the claim has secondary coverage on file, the secondary claim is queued now (coordination of benefits)."""
    rows = [{"claim_id": d.event.claim_id, "tenant_id": d.tenant_id, "payment": d.event.model_dump(mode="json")}
            for d in deliveries]
    if not rows:
        return
    stmt = pg_insert(primary_payments).values(rows)
    await uow.conn.execute(stmt.on_conflict_do_nothing(
        index_elements=[primary_payments.c.tenant_id, primary_payments.c.claim_id]))
    candidates = [(d, row["payment"]) for d, row in zip(deliveries, rows) if leaves_patient_share_for_secondary(d.event)]
    if not candidates:
        return
    # one query for the batch: the tenant's own primary claims among them, with what was sent
    sent = {(r.tenant_id, r.claim_id): PHI.open(submissions, r).claim for r in await uow.conn.execute(
        select(submissions.c.tenant_id, submissions.c.claim_id, submissions.c.claim).where(
            tuple_(submissions.c.tenant_id, submissions.c.claim_id).in_(
                [(d.tenant_id, d.event.claim_id) for d, _ in candidates]),
            submissions.c.primary_claim_id.is_(None)))}
    for d, payment in candidates:
        claim = sent.get((d.tenant_id, d.event.claim_id))
        if claim is not None and claim.get("secondary_coverage") and claim.get("payer_responsibility", "P") == "P":
            await _queue_secondary_on_file(d.uow, d.event, claim["secondary_coverage"], payment)


def leaves_patient_share_for_secondary(payment: PaymentPosted) -> bool:
    """A primary adjudication (CLP02 1) that leaves the patient a share goes on to the secondary payer. 19 means the
    payer forwarded the claim itself (a crossover): sending it too would bill the secondary twice."""
    share = payment.patient_responsibility_total
    if share is None:
        share = payment.patient_responsibility
    return payment.claim_status_code == "1" and share > 0


async def _queue_secondary_on_file(uow: UnitOfWork, payment: PaymentPosted, coverage: dict[str, Any],
                                   payment_json: dict[str, Any]) -> None:
    secondary = await queue_secondary(uow, claim_id=payment.claim_id, coverage=coverage, payment=payment_json)
    if secondary is not None:
        await audit(uow, payment.claim_id, "secondary", {"secondary_claim_id": str(secondary.claim_id),
                                                         "automatic": True,
                                                         "primary_remittance_id": str(payment.remittance_id)})


HANDLERS = {ClaimScrubbed.event_type(): on_claims_scrubbed, PaymentPosted.event_type(): on_payments_posted}


# ---------------------------------------------------------------- building and validating
def finding_edit(f: IgFinding) -> Edit:
    return Edit(code=f"IG-{f.code}", severity="error", field=f.element or f.tag,
                message=f"837P implementation guide: {f.message}" + (f" (loop {f.loop_id}, {f.tag})" if f.loop_id else ""))


@dataclass
class BuiltInterchange:
    text: str | None
    claims: list[Claim]
    returned: list[tuple[Claim, str, list[Edit]]] = field(default_factory=list)  # (claim, stage, findings)


def build_valid_interchange(claims: list[Claim], *, tenant_id: str, payer_id: str, control_number: int,
                            identity: Identity, receiver: Receiver, now: datetime, usage: str) -> BuiltInterchange:
    """The 837P for these claims, validated against the implementation guide. Claims that cannot be
    carried, or that make the interchange invalid, are set aside with their findings; the others go."""
    out = BuiltInterchange(None, [])
    ready = []
    for claim in claims:
        problems = check_billable(claim)
        if problems:
            out.returned.append((claim, "build", [Edit(code="BUILD", severity="error", field=p.split(":")[0],
                                                       message=f"the 837P cannot carry the claim: {p}")
                                                  for p in problems]))
        else:
            ready.append(claim)

    def build(batch_claims: list[Claim]) -> str:
        return build_837p(ClaimBatch(
            claims=batch_claims, submitter=Submitter(identity.name, submitter_id(tenant_id), identity.contact_name,
                                                     phone=identity.phone),
            receiver=receiver, interchange_control_number=control_number, now=now,
            sender_id=submitter_id(tenant_id), receiver_id=receiver.id, usage=usage))

    while ready:
        text = build(ready)
        report = _validator.validate(text)
        if report.ok:
            out.text, out.claims = text, ready
            return out
        # find the claims at fault: each alone in its own interchange (only on this rare path)
        bad = []
        for claim in ready:
            alone = _validator.validate(build([claim]))
            if not alone.ok:
                bad.append((claim, [finding_edit(f) for f in alone.errors][:20]))
        if not bad:  # the batch fails only together: send none, return all with the batch findings
            edits = [finding_edit(f) for f in report.errors][:20]
            out.returned += [(c, "validation", edits) for c in ready]
            return out
        out.returned += [(c, "validation", edits) for c, edits in bad]
        bad_ids = {c.claim_id for c, _ in bad}
        ready = [c for c in ready if c.claim_id not in bad_ids]
    return out


# ---------------------------------------------------------------- dispatch
DISPATCHER = "system:dispatcher"  # the actor of what the dispatcher emits
ACK_POLLER = "system:acknowledgments"  # the actor of what the acknowledgment poller emits
RESEND_AFTER = timedelta(seconds=30)  # an interchange still 'sending' this long after it was prepared is sent again

_mark_sent = (update(submissions).where(submissions.c.tenant_id == bindparam("b_tenant_id"),
                                       submissions.c.claim_id == bindparam("b_claim_id"))
              .values(status="sent", clearinghouse=bindparam("b_clearinghouse"),
                      interchange_control_number=bindparam("b_icn"), submitted_at=bindparam("b_at"),
                      attempts=submissions.c.attempts + 1))


class _Tenants:
    """Per-tenant views of a system unit of work (a background loop, or a response file, acts for many
    tenants): what it emits for a tenant's claim is bound to that tenant and to the acting component."""

    def __init__(self, uow: UnitOfWork, actor: str) -> None:
        self.uow = uow
        self.actor = actor
        self._bound: dict[str, UnitOfWork] = {}

    def __call__(self, tenant_id: str) -> UnitOfWork:
        bound = self._bound.get(tenant_id)
        if bound is None:
            bound = self._bound[tenant_id] = self.uow.bind(Cause(tenant_id=tenant_id, actor=self.actor))
        return bound


async def load_routes(conn, tenant_ids: set[str], default: str) -> RouteTable:
    rows = await conn.execute(select(clearinghouse_routes).where(clearinghouse_routes.c.tenant_id.in_(tenant_ids)))
    return RouteTable([Route(r.tenant_id, r.payer_id, r.clearinghouse) for r in rows], default)


def event_key(claim_id: uuid.UUID, primary_claim_id: uuid.UUID | None) -> uuid.UUID:
    """A secondary claim's events are keyed by its primary claim: one partition and one story per claim."""
    return primary_claim_id or claim_id


def _return(uow: UnitOfWork, claim_id: uuid.UUID, stage: str, findings: list[Edit],
            primary_claim_id: uuid.UUID | None = None) -> None:
    uow.emit(ClaimReturned(claim_id=claim_id, stage=stage, findings=findings), key=event_key(claim_id, primary_claim_id))


async def _set_returned(uow: UnitOfWork, returned: list[tuple[Claim, str, list[Edit]]]) -> None:
    """Claims that cannot go (uow bound to their tenant) go back to review with their findings."""
    if not returned:
        return
    await uow.conn.execute(update(submissions).where(
        submissions.c.tenant_id == uow.tenant_id, submissions.c.claim_id.in_([c.claim_id for c, _, _ in returned]))
                           .values(status="returned"))
    for claim, stage, findings in returned:
        _return(uow, claim.claim_id, stage, findings)


async def _mark_claims_sent(conn, tenant_id: str, claims: list[Claim], clearinghouse: str, icn: str,
                            now: datetime) -> dict:
    await conn.execute(_mark_sent, [{"b_tenant_id": tenant_id, "b_claim_id": c.claim_id,
                                     "b_clearinghouse": clearinghouse, "b_icn": icn, "b_at": now} for c in claims])
    return dict((await conn.execute(select(submissions.c.claim_id, submissions.c.attempts).where(
        submissions.c.tenant_id == tenant_id, submissions.c.claim_id.in_([c.claim_id for c in claims])))).all())


async def prepare_interchanges(tenants: _Tenants, clearinghouses: set[str], *, identity: Identity,
                               default_route: str, usage: str, batch_max: int) -> tuple[int, list[tuple[str, OutboundFile]]]:
    """Inside the dispatcher's unit of work: take a batch of queued claims (row locks, SKIP LOCKED, so several
    replicas can dispatch), build and validate one interchange per (tenant, payer), record it ('sending',
    its claims 'sent', ClaimSubmitted in the outbox) and return the files to hand over once it commits."""
    conn = tenants.uow.conn
    rows = (await conn.execute(
        select(submissions.c.claim_id, submissions.c.tenant_id, submissions.c.payer_id, submissions.c.claim,
               submissions.c.primary_claim_id)
        .where(submissions.c.status == "queued").order_by(submissions.c.queued_at).limit(batch_max)
        .with_for_update(skip_locked=True))).all()
    if not rows:
        return 0, []
    rows = PHI.open_all(submissions, rows)
    routes = await load_routes(conn, {r.tenant_id for r in rows}, default_route)
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for r in rows:
        groups[(r.tenant_id, r.payer_id)].append(r)
    now = tenants.uow.now()
    prepared: list[tuple[str, OutboundFile]] = []
    for (tenant_id, payer_id), group in groups.items():
        uow = tenants(tenant_id)
        name = routes.clearinghouse_for(tenant_id, payer_id)
        claims = [Claim.model_validate(r.claim) for r in group]
        if name not in clearinghouses:
            await _set_returned(uow, [(c, "build", [Edit(
                code="ROUTE", severity="error", field="coverage.payer_id",
                message="the payer's route names a clearinghouse this deployment has no connection for; "
                        "fix the route")]) for c in claims])
            continue
        icn = await conn.scalar(interchange_control_seq.next_value())
        built = build_valid_interchange(claims, tenant_id=tenant_id, payer_id=payer_id, control_number=icn,
                                        identity=identity, receiver=Receiver(name, name.upper()[:15]), now=now,
                                        usage=usage)
        await _set_returned(uow, built.returned)
        if built.text is None:
            continue
        icn_text = f"{icn:09d}"
        await conn.execute(insert(interchanges).values(
            interchange_control_number=icn_text, tenant_id=tenant_id, payer_id=payer_id, clearinghouse=name,
            claim_count=len(built.claims), status="sending", sent_at=now,
            **PHI.seal(interchanges, {"content": built.text}, tenant=tenant_id)))
        attempts = await _mark_claims_sent(conn, tenant_id, built.claims, name, icn_text, now)
        primaries = {r.claim_id: r.primary_claim_id for r in group}
        for c in built.claims:
            primary = primaries.get(c.claim_id)
            next_payer = c.secondary_coverage.payer_id if c.secondary_coverage and c.payer_responsibility == "P" else None
            uow.emit(ClaimSubmitted(claim_id=c.claim_id, payer_id=payer_id, clearinghouse=name,
                                    interchange_control_number=icn_text, total_charge=c.total_charge,
                                    submitted_at=now, patient_control_number=patient_control_number(c.claim_id),
                                    frequency_code=c.frequency_code, attempt=attempts[c.claim_id],
                                    payer_responsibility=c.payer_responsibility, primary_claim_id=primary,
                                    next_payer_id=next_payer, place_of_service=c.place_of_service),
                     key=event_key(c.claim_id, primary))
        prepared.append((name, OutboundFile(f"{icn_text}.837", built.text)))
    return len(rows), prepared


# ---------------------------------------------------------------- acknowledgments
@dataclass
class AckResult:
    kind: str  # 999 | 277CA | 835 | unknown
    status: str  # processed | forwarded (an 835, to remittance) | quarantined | duplicate
    reason: str | None = None
    claims_updated: int = 0
    tenant_id: str | None = None  # an 835's tenant (its payee), once known
    # what the 999/277CA reader read around or refused, by interchange (rcm_x12 ReadingIssue.as_json: interchange,
    # transaction set, segment position, kind, code, reason; never element values)
    issues: list[dict] = field(default_factory=list)


ERA_EVENT_MAX_BYTES = 8_000_000  # default of Settings.era_event_max_bytes
TOO_LARGE = "too large for the event bus: upload it through POST /v1/remittances/x12"


def _kind(text: str) -> str:
    """What the file is, by the first ST of its first interchange that has one (each interchange split with its
    own delimiters)."""
    for chunk, _ in interchange_texts(text):
        _, segments = tokenize(chunk)
        st = next((s for s in segments if s.tag == "ST"), None)
        if st is not None:
            return {"999": "999", "277": "277CA", "835": "835"}.get(st.element(1), "unknown")
    raise UnparseableAcknowledgment("no transaction set (ST) in the file")


async def process_acknowledgment(uow: UnitOfWork, clearinghouse: str, name: str, content: str, *,
                                 actor: str, era_max_bytes: int = ERA_EVENT_MAX_BYTES) -> AckResult:
    """Read one response file into claim statuses, or forward an 835 to remittance (`uow` a system unit: the
    file may name claims of several tenants; what it emits is bound to each claim's tenant and `actor`).
    Idempotent on the file's content."""
    tenants = _Tenants(uow, actor)
    sha = hashlib.sha256(content.encode("utf-8", errors="replace")).hexdigest()
    seen = await uow.conn.scalar(select(acknowledgment_files.c.id).where(
        acknowledgment_files.c.clearinghouse == clearinghouse, acknowledgment_files.c.content_sha256 == sha))
    if seen is not None:
        return AckResult("unknown", "duplicate")
    result = AckResult("unknown", "quarantined")
    icn = None
    try:
        result.kind = _kind(content)
        if result.kind == "999":
            read = read_999_file(content)
            result.issues = [i.as_json() for i in read.issues]
            icn, result.claims_updated, result.reason, unknown = await _apply_999(tenants, clearinghouse,
                                                                                list(read.groups))
            result.issues += unknown
        elif result.kind == "277CA":
            acknowledgments = read_277ca(content)
            result.issues = [i.as_json() for i in acknowledgments.issues]
            result.claims_updated, result.reason = await _apply_277ca(tenants, acknowledgments)
        elif result.kind == "835":
            result.tenant_id, result.reason = await _forward_835(tenants, clearinghouse, name, content, sha,
                                                                 max_bytes=era_max_bytes)
        else:
            result.reason = "not a 999, 277CA or 835"
    except (UnparseableAcknowledgment, X12Error) as exc:
        result.reason = f"does not parse: {exc}"
    if result.reason is None:
        result.status = "forwarded" if result.kind == "835" else "processed"
    await uow.conn.execute(insert(acknowledgment_files).values(
        clearinghouse=clearinghouse, name=name[:200], kind=result.kind, status=result.status, reason=result.reason,
        interchange_control_number=icn, claims_updated=result.claims_updated, tenant_id=result.tenant_id,
        content_sha256=sha, received_at=uow.now(),
        **PHI.seal(acknowledgment_files, {"content": content}, tenant=result.tenant_id)))
    return result


_owners_of = text("SELECT patient_control_number, tenant_id FROM submissions "
                  "WHERE patient_control_number = ANY(CAST(:pcns AS text[]))")


async def _forward_835(tenants: _Tenants, clearinghouse: str, name: str, content: str, sha: str, *,
                       max_bytes: int) -> tuple[str | None, str | None]:
    """(tenant, reason): hand the 835 to remittance as RemittanceReceived for the tenant whose claims it pays,
    in the unit that records the file (so exactly once with it); or say why not (no tenant, too large)."""
    numbers = claim_numbers(content)
    owners: dict[str, set[str]] = defaultdict(set)
    if numbers:
        for pcn, tenant in await tenants.uow.conn.execute(_owners_of, {"pcns": list(set(numbers))}):
            owners[pcn].add(tenant)
    found = tenant_for(numbers, owners)
    if found.tenant_id is None:
        return None, found.reason
    event = RemittanceReceived(clearinghouse=clearinghouse, file_name=name[:200], content=content,
                               content_sha256=sha, received_at=tenants.uow.now())
    # the size it travels at (JSON-escaped): above the limit the relay's producer or the topic would refuse it
    # and stall every event behind it, so it stays here for an operator instead
    size = len(json.dumps(content, ensure_ascii=False).encode("utf-8"))
    if size > max_bytes:
        return found.tenant_id, f"{TOO_LARGE} ({size} bytes as an event; the limit is {max_bytes})"
    # keyed by tenant: one tenant's files reach remittance in the order they arrived (a reversal after its original)
    tenants(found.tenant_id).emit(event, key=found.tenant_id, subject=f"remittance-file/{sha}")
    return found.tenant_id, None


def _ack_event(uow: UnitOfWork, row, *, accepted: bool, stage: str, status_code: str, reason: str | None,
               pccn: str | None = None, first_pass: bool | None = None) -> None:
    uow.emit(ClaimAcknowledged(claim_id=row.claim_id, accepted=accepted, status_code=status_code, reason=reason,
                               payer_claim_control_number=pccn, stage=stage, first_pass=first_pass),
             key=event_key(row.claim_id, row.primary_claim_id))


async def _apply_999(tenants: _Tenants, clearinghouse: str, groups: list[GroupAcknowledgment],
                     ) -> tuple[str | None, int, str | None, list[dict]]:
    """(the first interchange acknowledged, claims updated, why the file is quarantined, issues). A rejected
    transaction set rejects every claim it carried (we send one ST per interchange). A file of several
    interchanges may acknowledge groups we did not send beside ours: those are issues, and the file is
    quarantined only when it acknowledges none of ours."""
    conn = tenants.uow.conn
    updated, first, unknown = 0, None, []
    for group in groups:
        icn = _acknowledged_icn(group)
        sent = (await conn.execute(select(interchanges).where(
            interchanges.c.interchange_control_number == icn,
            interchanges.c.clearinghouse == clearinghouse))).first() if icn else None
        if sent is None:
            unknown.append(ReadingIssue(
                group.interchange, group.interchange_control_number, WARNING,
                "the 999 acknowledges a group (GS06) this deployment did not send; ignored", code="unknown_group",
                transaction_set=group.control_number).as_json())
            continue
        first = first or icn
        updated += await _apply_999_group(tenants, icn, group)
    if first is None:
        return (_acknowledged_icn(groups[0]) if groups else None), 0, \
            "the 999 acknowledges a group (GS06) this deployment did not send", unknown
    return first, updated, None, unknown


def _acknowledged_icn(group: GroupAcknowledgment) -> str | None:
    """The interchange we sent that the group answers: we number each group as its interchange (GS06 = ISA13)."""
    return f"{int(group.group_control_number):09d}" if group.group_control_number.isdigit() else None


async def _apply_999_group(tenants: _Tenants, icn: str, group: GroupAcknowledgment) -> int:
    conn = tenants.uow.conn
    accepted = all(t.accepted for t in group.transaction_sets) and group.status.value != "rejected"
    await conn.execute(update(interchanges).where(interchanges.c.interchange_control_number == icn).values(
        status="accepted" if accepted else "rejected", acknowledged_at=tenants.uow.now()))
    if accepted:
        return 0
    findings = [f for t in group.transaction_sets for f in t.findings]
    codes = [e.code for t in group.transaction_sets for e in t.syntax_errors] + [e.code for e in group.group_errors]
    edits = [Edit(code=f"999-{f.code or 'R'}", severity="error", message=f"999 rejected the interchange: "
                  f"{f.description}", field=f.segment_tag) for f in findings][:20] or [
        Edit(code="999-R", severity="error", message="999 rejected the interchange (codes "
             + (", ".join(codes) or "none given") + "); correct and resubmit")]
    rows = (await conn.execute(select(submissions).where(
        submissions.c.interchange_control_number == icn, submissions.c.status == "sent").with_for_update())).all()
    await conn.execute(update(submissions).where(
        tuple_(submissions.c.tenant_id, submissions.c.claim_id).in_([(r.tenant_id, r.claim_id) for r in rows]))
                       .values(status="rejected", ever_rejected=True, ack_status_code="999:R",
                               ack_reason=edits[0].message[:500]))
    for r in rows:
        uow = tenants(r.tenant_id)
        _ack_event(uow, r, accepted=False, stage="999", status_code="999:R", reason=edits[0].message)
        _return(uow, r.claim_id, "999", edits, r.primary_claim_id)
    return len(rows)


def _status_code(ack: ClaimAcknowledgment) -> str:
    relevant = [s for s in ack.statuses if (s.rejects if ack.accepted is False else s.accepts)] or list(ack.statuses)
    s = relevant[0] if relevant else None
    return ":".join(x for x in (s.category, s.code, s.entity) if x) if s else "277CA"


def _status_reason(ack: ClaimAcknowledgment) -> str:
    parts = [f"{s.category_meaning}: {s.meaning}" + (f" ({s.entity_meaning})" if s.entity_meaning else "")
             for s in ack.statuses if s.rejects]
    return "; ".join(parts)[:500] or "rejected by the clearinghouse or payer"


_mark_accepted = (update(submissions).where(submissions.c.tenant_id == bindparam("b_tenant_id"),
                                           submissions.c.claim_id == bindparam("b_claim_id"))
                  .values(status="accepted", payer_claim_control_number=bindparam("b_pccn"),
                          ack_status_code=bindparam("b_code"), ack_reason=None,
                          first_pass_accepted=bindparam("b_first_pass")))
_mark_rejected = (update(submissions).where(submissions.c.tenant_id == bindparam("b_tenant_id"),
                                           submissions.c.claim_id == bindparam("b_claim_id"))
                  .values(status="rejected", ever_rejected=True, ack_status_code=bindparam("b_code"),
                          ack_reason=bindparam("b_reason"), first_pass_accepted=False))


def _unambiguous(rows: list, batch_references: set[str]) -> list:
    """The patient control number is unique per tenant, so two tenants' claims with the same claim id share one.
    Where a 277CA's claim matches sent claims of several tenants, only the one sent in an interchange the file's
    batches name (2200B TRN02 echoes our BHT03, the interchange control number) is applied; a claim still
    ambiguous is left as sent, never applied to the wrong tenant."""
    by_pcn: dict[str, list] = defaultdict(list)
    for r in rows:
        by_pcn[r.patient_control_number].append(r)
    out = []
    for same in by_pcn.values():
        if len(same) > 1:
            same = [r for r in same if r.interchange_control_number in batch_references]
        if len(same) == 1:
            out.extend(same)
    return out


async def _apply_277ca(tenants: _Tenants, parsed: ClaimAcknowledgments) -> tuple[int, str | None]:
    conn = tenants.uow.conn
    by_pcn = {a.patient_control_number: a for a in parsed.claims
              if a.patient_control_number and a.accepted is not None}
    if not by_pcn:
        return 0, "the 277CA carries no claim with a decided status"
    rows = (await conn.execute(select(submissions).where(
        submissions.c.patient_control_number.in_(list(by_pcn)), submissions.c.status == "sent").with_for_update())).all()
    found, rows = rows, _unambiguous(rows, {b.batch_reference for b in parsed.batches if b.batch_reference})
    if found and not rows:
        return 0, ("the 277CA names a CLM01 that claims of several tenants share, and its batch (2200B TRN02) names "
                   "none of their interchanges")
    if not rows:
        return 0, "the 277CA names no claim this deployment is waiting on (unknown or already acknowledged)"
    accepted, rejected = [], []
    for r in rows:
        uow = tenants(r.tenant_id)
        ack = by_pcn[r.patient_control_number]
        code = _status_code(ack)
        if ack.accepted:
            first_pass = r.attempts == 1 and not r.ever_rejected and r.frequency_code == "1"
            accepted.append({"b_tenant_id": r.tenant_id, "b_claim_id": r.claim_id, "b_pccn": ack.payer_claim_control_number, "b_code": code,
                             "b_first_pass": first_pass})
            _ack_event(uow, r, accepted=True, stage="277CA", status_code=code, reason=None,
                       pccn=ack.payer_claim_control_number, first_pass=first_pass)
        else:
            reason = _status_reason(ack)
            rejected.append({"b_tenant_id": r.tenant_id, "b_claim_id": r.claim_id, "b_code": code, "b_reason": reason})
            _ack_event(uow, r, accepted=False, stage="277CA", status_code=code, reason=reason, first_pass=False)
            _return(uow, r.claim_id, "277CA", primary_claim_id=r.primary_claim_id, findings=[Edit(
                code=f"277CA-{code}", severity="error", message=f"277CA rejected the claim: {reason}; correct and "
                                                                 "resubmit")])
    if accepted:
        await conn.execute(_mark_accepted, accepted)
    if rejected:
        await conn.execute(_mark_rejected, rejected)
    return len(rows), None


# ---------------------------------------------------------------- corrections and secondary claims
async def resubmit_corrected(uow: UnitOfWork, *, claim_id: uuid.UUID, frequency: str,
                             changes: dict[str, Any] | None) -> Claim:
    """A replacement (7) or void (8) of a claim the payer accepted: it names the payer's claim number
    (REF*F8) and goes out again. Raises NotFound / NotAccepted, or ValidationError for bad changes."""
    conn = uow.conn
    row = PHI.open(submissions, (await conn.execute(select(submissions).where(
        submissions.c.tenant_id == uow.tenant_id, submissions.c.claim_id == claim_id).with_for_update())).first())
    if row is None:
        raise NotFoundClaim("no such claim at the submission stage for this tenant")
    if row.status != "accepted" or not row.payer_claim_control_number:
        raise NotAccepted("only a claim the payer accepted (with its claim number) can be replaced or voided")
    protected = {"claim_id", "encounter_id", "source_system", "source_encounter_id"}
    data = {**row.claim, **{k: v for k, v in (changes or {}).items() if k not in protected},
            "frequency_code": frequency, "original_claim_number": row.payer_claim_control_number}
    claim = Claim.model_validate(data)
    await conn.execute(update(submissions).where(
        submissions.c.tenant_id == uow.tenant_id, submissions.c.claim_id == claim_id).values(
        status="queued", **PHI.seal(submissions, {"claim": claim.model_dump(mode="json")}, tenant=uow.tenant_id),
        frequency_code=frequency, queued_at=uow.now()))
    return claim


def secondary_claim_id(primary_claim_id: uuid.UUID) -> uuid.UUID:
    return uuid.uuid5(primary_claim_id, "secondary")


async def queue_secondary(uow: UnitOfWork, *, claim_id: uuid.UUID, coverage: dict[str, Any],
                          payment: dict[str, Any] | None = None) -> Claim | None:
    """The claim to the secondary payer, carrying the primary's payment and adjustments (2320/2330): `payment` the
    primary's PaymentPosted (else the one kept for the claim). Returns None when it was queued before."""
    conn, tenant_id = uow.conn, uow.tenant_id
    row = PHI.open(submissions, (await conn.execute(select(submissions).where(
        submissions.c.tenant_id == tenant_id, submissions.c.claim_id == claim_id))).first())
    if row is None:
        raise NotFoundClaim("no such claim at the submission stage for this tenant")
    paid = payment or (await conn.execute(select(primary_payments.c.payment).where(
        primary_payments.c.claim_id == claim_id, primary_payments.c.tenant_id == tenant_id))).scalar()
    if paid is None:
        raise NotAccepted("the primary payer has not paid or denied this claim yet (no remittance posted)")
    primary = Claim.model_validate(row.claim)
    other = OtherPayer(coverage=primary.coverage, responsibility="P",
                       payer_claim_control_number=paid["payer_claim_control_number"],
                       paid_amount=Decimal(paid["paid_amount"]), adjudication_date=paid["payment_date"],
                       adjustments=[Adjustment.model_validate(a) for a in paid["adjustments"] if Decimal(a["amount"])])
    secondary = Claim.model_validate({**primary.model_dump(mode="json"), "claim_id": str(secondary_claim_id(claim_id)),
                                      "coverage": coverage, "payer_responsibility": "S", "secondary_coverage": None,
                                      "other_payers": [other.model_dump(mode="json")], "frequency_code": "1",
                                      "original_claim_number": None})
    stmt = pg_insert(submissions).values(PHI.seal(submissions, dict(
        claim_id=secondary.claim_id, tenant_id=tenant_id, payer_id=secondary.coverage.payer_id, status="queued",
        claim=secondary.model_dump(mode="json"), patient_control_number=patient_control_number(secondary.claim_id),
        frequency_code="1", queued_at=uow.now(), primary_claim_id=claim_id)))
    inserted = (await conn.execute(stmt.on_conflict_do_nothing().returning(submissions.c.claim_id))).first()
    return secondary if inserted is not None else None


async def audit(uow: UnitOfWork, claim_id: uuid.UUID, action: str, detail: dict) -> None:
    """Who (the unit's actor) did what to a claim, in the same transaction as the change."""
    await uow.conn.execute(submission_audit.insert().values(claim_id=claim_id, tenant_id=uow.tenant_id,
                                                            actor=uow.actor, action=action, detail=detail,
                                                            at=uow.now()))


# ---------------------------------------------------------------- reads
async def first_pass_summary(conn, tenant_id: str) -> list[dict]:
    """Per payer: claims acknowledged, accepted on the first pass, rejected at least once."""
    stmt = (select(submissions.c.payer_id,
                   func.count().filter(submissions.c.status.in_(("accepted", "rejected"))).label("acknowledged"),
                   func.sum(cast(submissions.c.first_pass_accepted.is_(True), Integer)).label("first_pass_accepted"),
                   func.sum(cast(submissions.c.ever_rejected, Integer)).label("ever_rejected"))
            .where(submissions.c.tenant_id == tenant_id).group_by(submissions.c.payer_id)
            .order_by(submissions.c.payer_id))
    out = []
    for r in await conn.execute(stmt):
        acknowledged, first = r.acknowledged or 0, r.first_pass_accepted or 0
        out.append({"payer_id": r.payer_id, "acknowledged": acknowledged, "first_pass_accepted": first,
                    "ever_rejected": r.ever_rejected or 0,
                    "first_pass_rate": round(first / acknowledged, 4) if acknowledged else None})
    return out


# ---------------------------------------------------------------- the use cases
class Submission:
    """submission's use cases, built once in the composition root with the clearinghouse connections. Each
    command opens and owns its unit of work; no clearinghouse is called while one is open (DESIGN §2 rule 7):
    interchanges are recorded, then handed over; response files are fetched, then applied one short unit each."""

    def __init__(self, units: UnitsOfWork, clearinghouses: dict[str, ClearinghouseAdapter], *, identity: Identity,
                 default_route: str, usage: str = "P", batch_max: int = 500,
                 era_max_bytes: int = ERA_EVENT_MAX_BYTES) -> None:
        self.units = units
        self.clock = units.clock
        self.clearinghouses = clearinghouses
        self.identity = identity
        self.default_route = default_route
        self.usage = usage
        self.batch_max = batch_max
        self.era_max_bytes = era_max_bytes  # the largest 835 forwarded to remittance as an event

    # -------------------------------------------------------- dispatch (the background loop)
    async def dispatch_once(self) -> int:
        """Send one batch of queued claims: one interchange per (tenant, payer).

        Two steps, so a response can never arrive for an interchange we have not recorded: the interchange
        is built, validated and committed (status 'sending', its claims 'sent', ClaimSubmitted in the
        outbox), then handed to the clearinghouse and marked 'sent'. If the hand-over fails, or the process
        dies in between, resend_unconfirmed() sends the stored file again under the same name (the ISA13),
        which the clearinghouse answers once."""
        await self.resend_unconfirmed()
        async with self.units.begin_system() as uow:
            taken, prepared = await prepare_interchanges(
                _Tenants(uow, DISPATCHER), set(self.clearinghouses), identity=self.identity,
                default_route=self.default_route, usage=self.usage, batch_max=self.batch_max)
        for name, file in prepared:
            await self._hand_over(self.clearinghouses[name], file)
        return taken

    async def _hand_over(self, adapter: ClearinghouseAdapter, file: OutboundFile) -> bool:
        try:
            await adapter.send(file)
        except ClearinghouseUnavailable as exc:
            log.warning("interchange not handed over; will resend", extra={"reason": str(exc)})
            return False
        async with self.units.begin_system() as uow:
            await uow.conn.execute(update(interchanges).where(
                interchanges.c.interchange_control_number == file.name.split(".")[0],
                interchanges.c.status == "sending").values(status="sent"))
        return True

    async def resend_unconfirmed(self, limit: int = 20) -> int:
        cutoff = self.clock.now() - RESEND_AFTER
        async with self.units.read_system() as conn:  # every tenant's interchanges
            rows = (await conn.execute(select(interchanges.c.interchange_control_number, interchanges.c.clearinghouse,
                                              interchanges.c.tenant_id, interchanges.c.content)
                                       .where(interchanges.c.status == "sending", interchanges.c.sent_at < cutoff)
                                       .order_by(interchanges.c.sent_at).limit(limit))).all()
        rows = PHI.open_all(interchanges, rows)
        sent = 0
        for r in rows:
            if r.clearinghouse in self.clearinghouses:
                sent += await self._hand_over(self.clearinghouses[r.clearinghouse],
                                              OutboundFile(f"{r.interchange_control_number}.837", r.content))
        return sent

    # -------------------------------------------------------- acknowledgments
    async def poll_acknowledgments(self, limit: int = 50) -> int:
        """Fetch the response files waiting at each clearinghouse (no transaction open), apply (or forward, an
        835) each in its own short unit of work, then tell the clearinghouse it may forget it."""
        handled = 0
        for name, adapter in self.clearinghouses.items():
            files: list[InboundFile] = await adapter.receive(limit)
            for f in files:
                result = await self.receive_acknowledgment(name, f.name, f.content, actor=ACK_POLLER)
                if result.status == "quarantined":
                    log.warning("acknowledgment quarantined", extra={"clearinghouse": name, "kind": result.kind})
                elif result.status == "forwarded":
                    log.info("835 forwarded to remittance", extra={"clearinghouse": name, "tenant_id": result.tenant_id})
                await adapter.done(f)
                handled += 1
        return handled

    async def receive_acknowledgment(self, clearinghouse: str, name: str, content: str, *,
                                     actor: str = "api") -> AckResult:
        """One 999 or 277CA file (polled, or handed in by an operator): quarantined with the reason when it
        does not parse or names nothing we sent. An 835 is forwarded to remittance for its tenant."""
        async with self.units.begin_system() as uow:
            return await process_acknowledgment(uow, clearinghouse, name, content, actor=actor,
                                                era_max_bytes=self.era_max_bytes)

    async def acknowledgment_files(self, *, status: str | None = None, limit: int = 100) -> list[dict]:
        cols = [c for c in acknowledgment_files.c if c.name != "content"]
        stmt = select(*cols)
        if status:
            stmt = stmt.where(acknowledgment_files.c.status == status)
        async with self.units.read_system() as conn:  # an operator's listing: files of every tenant
            rows = (await conn.execute(stmt.order_by(acknowledgment_files.c.id.desc()).limit(limit))).mappings().all()
        return [jsonable(dict(r)) for r in rows]

    # -------------------------------------------------------- reads
    async def interchange(self, tenant_id: str, icn: str) -> dict:
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(select(interchanges).where(
                interchanges.c.tenant_id == tenant_id,
                interchanges.c.interchange_control_number == icn))).mappings().first()
        if row is None:
            raise NotFoundInterchange("no such interchange for this tenant")
        return jsonable(dict(PHI.open(interchanges, row)))

    async def acceptance(self, tenant_id: str) -> dict:
        async with self.units.read(tenant_id) as conn:
            payers = await first_pass_summary(conn, tenant_id)
        acknowledged = sum(p["acknowledged"] for p in payers)
        first = sum(p["first_pass_accepted"] for p in payers)
        return {"acknowledged": acknowledged, "first_pass_accepted": first,
                "first_pass_rate": round(first / acknowledged, 4) if acknowledged else None, "payers": payers}

    # -------------------------------------------------------- routes
    async def set_route(self, *, tenant_id: str, actor: str, payer_id: str, clearinghouse: str) -> None:
        """Raises UnknownClearinghouse when no connection of that name is configured."""
        if clearinghouse not in self.clearinghouses:
            raise UnknownClearinghouse(sorted(self.clearinghouses))
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            stmt = pg_insert(clearinghouse_routes).values(tenant_id=tenant_id, payer_id=payer_id,
                                                          clearinghouse=clearinghouse, updated_by=actor,
                                                          updated_at=uow.now())
            await uow.conn.execute(stmt.on_conflict_do_update(
                index_elements=[clearinghouse_routes.c.tenant_id, clearinghouse_routes.c.payer_id],
                set_={"clearinghouse": clearinghouse, "updated_by": actor, "updated_at": stmt.excluded.updated_at}))

    async def routes(self, tenant_id: str) -> dict:
        async with self.units.read(tenant_id) as conn:
            rows = (await conn.execute(select(clearinghouse_routes).where(
                clearinghouse_routes.c.tenant_id == tenant_id)
                .order_by(clearinghouse_routes.c.payer_id))).mappings().all()
        return {"fallback": FALLBACK, "routes": [jsonable(dict(r)) for r in rows]}

    async def remove_route(self, *, tenant_id: str, actor: str, payer_id: str) -> None:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await uow.conn.execute(delete(clearinghouse_routes).where(
                clearinghouse_routes.c.tenant_id == tenant_id, clearinghouse_routes.c.payer_id == payer_id))

    # -------------------------------------------------------- corrections and secondary claims (audited)
    async def correct(self, *, tenant_id: str, actor: str, claim_id: uuid.UUID, frequency: str,
                      changes: dict[str, Any] | None, note: str | None) -> Claim:
        """Replace (7) or void (8) an accepted claim; audited. Raises NotFound / NotAccepted / ValidationError."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            claim = await resubmit_corrected(uow, claim_id=claim_id, frequency=frequency, changes=changes)
            await audit(uow, claim_id, f"frequency_{frequency}", {"note": note, "changed": sorted((changes or {}).keys())})
        return claim

    async def bill_secondary(self, *, tenant_id: str, actor: str, claim_id: uuid.UUID,
                             coverage: dict[str, Any]) -> Claim:
        """Queue the secondary payer's claim; audited. Raises NotFound / NotAccepted / ValidationError."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            claim = await queue_secondary(uow, claim_id=claim_id, coverage=coverage)
            if claim is None:
                raise SecondaryQueued("the secondary claim was queued before")
            await audit(uow, claim_id, "secondary", {"secondary_claim_id": str(claim.claim_id)})
        return claim

    async def claim_audit(self, tenant_id: str, claim_id: uuid.UUID) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            rows = (await conn.execute(select(submission_audit).where(
                submission_audit.c.tenant_id == tenant_id, submission_audit.c.claim_id == claim_id)
                .order_by(submission_audit.c.id))).mappings().all()
        return [jsonable(dict(r)) for r in rows]
