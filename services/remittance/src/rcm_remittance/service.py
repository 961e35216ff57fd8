"""Posting remittances: every file stored verbatim and read once, balanced before anything is posted, each
claim payment posted exactly once to the caller's tenant's own claim, the ledger, the unmatched queue.

A file's path (`ingest`): store it (idempotent on (tenant, SHA-256 of the content): the same file again is
`duplicate` with the first file's id) -> read it (unreadable, truncated, not 5010: `rejected`, nothing
posted) -> balance it (any imbalance: `held`, nothing posted until an operator releases it) -> post
(`post_items`). Posting a file takes a fixed handful of multi-row statements whatever its size: aliases,
claim refs, posted keys, ledger state, reversal originals, then one INSERT each for payments, entries and
unmatched payments, one UPDATE for reversed originals and one SELECT of the running patient shares.

Tenant safety: a claim payment is posted only to a claim in claim_refs for the unit of work's tenant (the
claims that tenant submitted), by CLP01 for an 835 and by claim id for the JSON advice; anything else is
queued as unmatched, never posted.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import uuid
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any

from pydantic_core import to_json
from sqlalchemy import Text, cast, func, literal, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB

from rcm_contracts.events import (Adjustment, ClaimSubmitted, PaidLine, PaymentPosted, PaymentReversed,
                                  RemittanceReceived)
from rcm_contracts.wire import RemittanceAdvice
from rcm_runtime.audit import audited
from rcm_runtime.bulk import BulkInsert, JsonText
from rcm_runtime.errors import Conflict, NotFound
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.reads import jsonable
from rcm_runtime.unit_of_work import Cause, UnitOfWork, UnitsOfWork

from rcm_remittance import underpaid
from rcm_remittance.db import (ADVICE_MARK, PHI, claim_refs, ledger_entries, payer_aliases, posted_payments,
                               remittance_audit, remittance_files, unmatched_payments)
from rcm_remittance.domain import ledger as L
from rcm_remittance.domain.balancing import file_imbalances, patient_share_warnings
from rcm_remittance.domain.identity import aliases_of, norm, payer_key, payment_keys, plb_keys
from rcm_remittance.domain.medicare_pfs import PfsSchedule
from rcm_remittance.domain.remit import (Check, ClaimPay, RejectedFile, claim_from_json, claim_to_json,
                                         read_advice, read_x12_file, sha256)

log = logging.getLogger("rcm.remittance")

ZERO = Decimal("0.00")
OVERLAP_MIN_EVENTS = 256  # fewer events are built in the event loop: a worker thread costs more than it saves
PARSE_AHEAD_MIN_CHARS = 1 << 18  # a file this large is read while it is stored (a thread costs more for less)
# built once, not per claim
_LATER_STATUSES = frozenset(L.SECONDARY | L.TERTIARY)
_DEPENDENT_STATUSES = _LATER_STATUSES | {L.REVERSAL}
_STATE_KINDS = frozenset(("charge", *L.PR_KINDS))  # the ledger state a later payment depends on
POSTED_LIKE = {"posted", "duplicate", "reversed", "not_our_claim"}


class NotHeld(Conflict):
    """Release/reject of a file that is not held (the runtime answers 409 with this code)."""

    code = "not_held"


class NotUnmatched(Conflict):
    """Match/return of a payment that is no longer (or never was) in the unmatched queue, or cannot be posted."""

    code = "not_unmatched"


@dataclass
class Item:
    """One claim payment to post: where it is, its identity and (once resolved) its claim."""

    check_index: int
    claim_index: int
    check: Check
    claim: ClaimPay
    key: str
    claim_id: uuid.UUID | None = None
    # from the claim's ref (coordination of benefits): a secondary/tertiary claim's payer, and the payer after this one
    later_payer: bool = False
    next_payer_id: str | None = None
    place_of_service: str | None = None  # as submitted (None: not known, e.g. a claim named by id in JSON)


@dataclass
class FileResult:
    file_id: uuid.UUID
    status: str
    outcomes: list[dict] = field(default_factory=list)
    findings: dict = field(default_factory=dict)
    reason: str | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o["outcome"] == outcome)

    @property
    def rejected(self) -> list[dict]:
        """Claim payments refused for their own fault (imbalance, a status the guide does not define)."""
        return [{"index": o["claim_index"], "check_index": o["check_index"], "claim_id": o.get("claim_id"),
                 "reason": o["reason"]} for o in self.outcomes if o["outcome"] == "held" and o.get("own_fault")]

    def as_json(self) -> dict:
        duplicates = len(self.outcomes) if self.status == "duplicate" else self.count("duplicate")
        return {"file_id": str(self.file_id), "status": self.status, "reason": self.reason,
                "posted": self.count("posted") + self.count("reversed"), "duplicates": duplicates,
                "unmatched": self.count("unmatched"), "held": self.count("held"), "rejected": self.rejected,
                "claims": self.outcomes, "findings": self.findings}


# ---------------------------------------------------------------- statements

_insert_payments = BulkInsert(posted_payments, [
    "remittance_id", "claim_id", "tenant_id", "payer_id", "payer_claim_control_number", "trace_number", "payment_date",
    "total_charge", "allowed_amount", "paid_amount", "patient_responsibility", "outcome", "adjustments", "remark_codes",
    "payment_key", "file_id", "status_code", "payer_key", "patient_control_number", "reverses"],
    on_conflict="ON CONSTRAINT uq_posted_payment_key DO NOTHING", returning=["remittance_id"],
    conflicts_rare=True)  # keys posted before are filtered out first: a conflict here is a concurrent request
_insert_entries = BulkInsert(ledger_entries, [
    "tenant_id", "claim_id", "remittance_id", "file_id", "line_number", "kind", "amount", "procedure_code", "group_code",
    "reason_code", "remark_codes", "trace_number", "provider_id", "reference", "note", "entry_key"],
    on_conflict="ON CONSTRAINT uq_ledger_entry_key DO NOTHING")
# A claim payment's entries carry no entry_key (only PLB entries do: uq_ledger_entry_key), so none of them can
# conflict: they go in as tuples in this order, by COPY when many (~7 a claim), with no ON CONFLICT to check.
_insert_claim_entries = BulkInsert(ledger_entries, [
    "tenant_id", "claim_id", "remittance_id", "file_id", "line_number", "kind", "amount", "procedure_code", "group_code",
    "reason_code", "remark_codes", "trace_number"], on_conflict=None)
_insert_unmatched = BulkInsert(unmatched_payments, [
    "tenant_id", "payer_id", "trace_number", "patient_control_number", "payer_claim_control_number", "paid_amount",
    "reason", "status", "advice", "payment_key", "file_id"],
    on_conflict="ON CONSTRAINT uq_unmatched_payment_key DO NOTHING", returning=["id"])
_insert_aliases = BulkInsert(payer_aliases, ["tenant_id", "alias", "payer_key"], on_conflict="DO NOTHING")
# Array parameters (= ANY): one cached plan and one parameter however many claims a file has (an IN list of
# 10,000 bind parameters costs more to compile than to run).
_refs_by_pcn = text("SELECT patient_control_number, claim_id, payer_responsibility, next_payer_id, place_of_service "
                    "FROM claim_refs "
                    "WHERE tenant_id = :tenant "
                    "AND patient_control_number = ANY(CAST(:pcns AS text[]))")
_refs_by_claim = text("SELECT claim_id FROM claim_refs WHERE tenant_id = :tenant AND claim_id = ANY(CAST(:ids AS uuid[]))")
_posted_keys = text("SELECT payment_key FROM posted_payments WHERE tenant_id = :tenant "
                    "AND payment_key = ANY(CAST(:keys AS text[]))")
_ledger_state = text("SELECT claim_id, kind, amount, group_code, reason_code FROM ledger_entries WHERE tenant_id = :tenant "
                     "AND claim_id = ANY(CAST(:ids AS uuid[])) AND kind = ANY(CAST(:kinds AS text[])) ORDER BY id")
_lock_claims = text("SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM "
                    "(SELECT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS ordered")
_claims_by_pccn = text("SELECT DISTINCT payer_key, payer_claim_control_number, claim_id FROM posted_payments "
                       "WHERE tenant_id = :tenant AND payer_claim_control_number = ANY(CAST(:refs AS text[]))")
_patient_shares = text("SELECT claim_id, sum(amount) FROM ledger_entries WHERE tenant_id = :tenant "
                       "AND claim_id = ANY(CAST(:ids AS uuid[])) AND kind = ANY(CAST(:kinds AS text[])) GROUP BY claim_id")


def _check_context(check: Check) -> dict:
    return {"payer_id": check.payer_id, "payer_name": check.payer_name, "trace_number": check.trace_number,
            "trace_originator": check.trace_originator, "payment_date": check.payment_date.isoformat(),
            "payment_method": check.payment_method, "interchange": check.interchange,
            "control_number": check.control_number, "payee_npi": check.payee_npi}


def _check_from_context(ctx: dict, claim: ClaimPay) -> Check:
    from datetime import date
    return Check(interchange=ctx.get("interchange", ""), control_number=ctx.get("control_number", ""),
                 payer_id=ctx.get("payer_id"), payer_name=ctx.get("payer_name"), trace_number=ctx["trace_number"],
                 trace_originator=ctx.get("trace_originator"), amount=None,
                 payment_date=date.fromisoformat(ctx["payment_date"]), payment_method=ctx.get("payment_method", "NON"),
                 claims=(claim,), payee_npi=ctx.get("payee_npi"))


def _aggregated_pairs(claim: ClaimPay) -> list[tuple[str, str, Decimal]]:
    totals: OrderedDict[tuple[str, str], Decimal] = OrderedDict()
    for a in claim.all_adjustments:
        totals[(a.group, a.reason)] = totals.get((a.group, a.reason), ZERO) + a.amount
    return [(g, r, amount) for (g, r), amount in totals.items() if amount]


def _patient_share(claim: ClaimPay) -> Decimal:
    return sum((a.amount for a in claim.all_adjustments if a.group == "PR"), ZERO)


def _allowed(claim: ClaimPay) -> Decimal:
    if claim.allowed is not None:
        return claim.allowed
    return claim.charge - sum((a.amount for a in claim.all_adjustments if a.group != "PR"), ZERO)


def _codes_json(cache: dict[tuple[str, ...], JsonText], codes) -> JsonText:
    """A list of codes as JSON text, encoded once per distinct list (a file has a handful for ~70,000 rows)."""
    key = tuple(codes)
    found = cache.get(key)
    if found is None:
        found = cache[key] = JsonText(json.dumps(list(key)))
    return found


def _remarks(claim: ClaimPay) -> list[str]:
    return list(dict.fromkeys([*claim.remark_codes, *(r for line in claim.lines for r in line.remark_codes)]))


# ---------------------------------------------------------------- posting


class Poster:
    """Posts items (claim payments already identified) for one unit of work's tenant; `medicare` is the
    Medicare fee schedule the underpayment check prices with (None: none configured)."""

    def __init__(self, uow: UnitOfWork, file_id: uuid.UUID | None, medicare: PfsSchedule | None) -> None:
        self.uow, self.file_id, self.tenant, self.medicare = uow, file_id, uow.tenant_id, medicare

    async def aliases(self, checks: list[Check]) -> dict[str, str]:
        learned = {a: k for c in checks for a, k in aliases_of(c).items()}
        if learned:
            await _insert_aliases.execute(self.uow.conn, [{"tenant_id": self.tenant, "alias": a, "payer_key": k}
                                                          for a, k in learned.items()])
        names = sorted({norm(c.payer_id) for c in checks if c.payer_id} | {norm(c.trace_originator) for c in checks
                                                                           if c.trace_originator})
        rows = (await self.uow.conn.execute(select(payer_aliases.c.alias, payer_aliases.c.payer_key).where(
            payer_aliases.c.tenant_id == self.tenant,
            (payer_aliases.c.alias.in_(names)) | (payer_aliases.c.payer_key.in_(names))))).all() if names else []
        return {**{r.alias: r.payer_key for r in rows}, **learned}

    @staticmethod
    def display_payer(check: Check, aliases: dict[str, str]) -> str:
        """How events and rows name the payer: N1*PR/REF*2U; else the id learned for its TRN03; else TRN03."""
        if check.payer_id:
            return check.payer_id
        key = payer_key(check, aliases)
        named = sorted(a for a, k in aliases.items() if k == key and a != key)
        return named[0] if named else (check.trace_originator or "UNKNOWN")

    async def resolve_claims(self, items: list[Item], references: set[str] = frozenset()) -> dict[str, uuid.UUID]:
        """Each item's claim, only among the tenant's own submitted claims; returns CLP01 -> claim for the
        PLB references too."""
        pcns = {i.claim.patient_control_number for i in items if i.claim_id is None and i.claim.claim_id is None}
        pcns |= set(references)
        by_pcn: dict[str, uuid.UUID] = {}
        refs: dict[str, Any] = {}
        if pcns:
            rows = await self.uow.conn.execute(_refs_by_pcn, {"tenant": self.tenant, "pcns": sorted(pcns)})
            refs = {r.patient_control_number: r for r in rows}
            by_pcn = {pcn: r.claim_id for pcn, r in refs.items()}
        named = {i.claim.claim_id for i in items if i.claim_id is None and i.claim.claim_id is not None}
        known: set[uuid.UUID] = set()
        if named:
            rows = await self.uow.conn.execute(_refs_by_claim, {"tenant": self.tenant, "ids": sorted(named, key=str)})
            known = {r.claim_id for r in rows}
        for i in items:
            if i.claim_id is None:
                i.claim_id = (i.claim.claim_id if i.claim.claim_id in known else None) if i.claim.claim_id else \
                    by_pcn.get(i.claim.patient_control_number)
                ref = refs.get(i.claim.patient_control_number) if i.claim.claim_id is None else None
                if ref is not None:
                    i.later_payer = ref.payer_responsibility in ("S", "T")
                    i.next_payer_id = ref.next_payer_id
                    i.place_of_service = ref.place_of_service
        return by_pcn

    async def post(self, items: list[Item], aliases: dict[str, str], *, queue_unmatched: bool = True) -> list[dict]:
        uow, tenant = self.uow, self.tenant
        keys = [i.key for i in items]
        posted_keys = {r.payment_key for r in await uow.conn.execute(
            _posted_keys, {"tenant": tenant, "keys": keys})} if keys else set()
        outcomes: list[dict] = []
        to_post: list[tuple[Item, dict]] = []
        unmatched_rows, seen = [], set()
        for i in items:
            o = {"check_index": i.check_index, "claim_index": i.claim_index,
                 "patient_control_number": i.claim.patient_control_number, "status_code": i.claim.status_code,
                 "paid": str(i.claim.paid), "payment_key": i.key,
                 "claim_id": str(i.claim_id) if i.claim_id else None}
            outcomes.append(o)
            action = L.status_action(i.claim.status_code)
            if i.key in posted_keys or i.key in seen:
                o.update(outcome="duplicate", reason="this claim payment was posted before")
            elif action == "hold":
                o.update(outcome="held", own_fault=True, reason=f"claim status CLP02 {i.claim.status_code[:4]!r} is not "
                         "one the 835 guide defines (1-4, 19-23); held for a person")
                unmatched_rows.append(self._queue_row(i, aliases, o["reason"], "held"))
            elif i.claim_id is None:
                o.update(outcome="unmatched", reason="no claim with this patient control number (CLP01) was submitted "
                         "by this tenant" if i.claim.claim_id is None else "no claim with this id was submitted by "
                         "this tenant")
                if queue_unmatched:
                    unmatched_rows.append(self._queue_row(i, aliases, o["reason"], "unmatched"))
            else:
                to_post.append((i, o))
            seen.add(i.key)

        claim_ids = sorted({i.claim_id for i, _ in to_post}, key=str)
        # What a reversal or a later payer posts depends on what the claim's ledger holds: serialise those
        # claims' posting across concurrent files (transaction-scoped advisory locks, taken in one order).
        dependent = sorted({f"{tenant}/{i.claim_id}" for i, _ in to_post
                            if i.claim.status_code in _DEPENDENT_STATUSES or i.later_payer})
        if dependent:
            await uow.conn.execute(_lock_claims, {"keys": dependent})
        state: dict[uuid.UUID, list[L.Entry]] = defaultdict(list)
        if claim_ids:
            rows = await uow.conn.execute(_ledger_state, {"tenant": tenant, "ids": claim_ids,
                                                          "kinds": ["charge", *L.PR_KINDS]})
            for r in rows:
                state[r.claim_id].append(L.Entry(r.kind, r.amount, group_code=r.group_code, reason_code=r.reason_code))
        reversing = [i for i, _ in to_post if i.claim.status_code == L.REVERSAL]
        originals = await self._reversal_candidates(reversing)
        reversed_here = {i.claim_id for i in reversing}  # a reversal may take back a payment earlier in this file

        payment_rows, entry_rows, reversed_pairs, events = [], [], [], []
        remarks_json: dict[tuple[str, ...], JsonText] = {}  # the few distinct remark lists, encoded once
        used: set[uuid.UUID] = set()
        payers: dict[int, tuple[str, str]] = {}
        for i, o in to_post:
            check, claim = i.check, i.claim
            remittance_id = uuid.uuid4()
            if id(check) not in payers:
                payers[id(check)] = (self.display_payer(check, aliases), payer_key(check, aliases))
            payer, key_of_payer = payers[id(check)]
            action = L.status_action(claim.status_code)
            entries: list[L.Entry] = []
            outcome = L.outcome(claim)
            reverses = None
            if action == "reverse":
                original = self._match_original(i, originals, aliases, used)
                if original is None:
                    o.update(outcome="held", own_fault=True, reason="reversal (CLP02 22) of a payment not posted "
                             "here for this claim and payer; held for a person")
                    unmatched_rows.append(self._queue_row(i, aliases, o["reason"], "held"))
                    continue
                used.add(original["remittance_id"])
                reverses = original["remittance_id"]
                entries = L.negated(original["entries"])
                outcome = "reversed"
                reversed_pairs.append((reverses, remittance_id))
                o.update(outcome="reversed", reason="the original payment's entries are negated",
                         reverses=str(reverses))
            elif action == "not_ours":
                outcome = "not_our_claim"
                o.update(outcome="not_our_claim", reason="CLP02 23: not this payer's claim, forwarded; no money moves")
            else:
                existing = state[i.claim_id]
                # a later payer: CLP02 2/3 (and 20/21), or a denial (4) of the secondary claim we sent
                later = claim.status_code in _LATER_STATUSES or i.later_payer
                charge_posted = any(e.kind == "charge" for e in existing) and \
                    sum((e.amount for e in existing if e.kind == "charge"), ZERO) != 0
                if later and charge_posted:
                    entries += L.superseded_patient_share(existing)
                entries += L.payment_entries(claim, charge_posted=charge_posted, later_payer=later)
                o.update(outcome="posted", payment_outcome=outcome, reason=L_STATUS_REASON.get(claim.status_code, ""))
                if i.claim_id in reversed_here:  # newest first, as _reversal_candidates orders them
                    originals.setdefault(i.claim_id, []).insert(0, {
                        "remittance_id": remittance_id, "claim_id": i.claim_id, "payer_key": key_of_payer,
                        "payer_claim_control_number": claim.payer_claim_control_number or "NONE",
                        "paid_amount": claim.paid, "total_charge": claim.charge, "entries": entries})
            state[i.claim_id] += [e for e in entries if e.kind in _STATE_KINDS]
            o["remittance_id"] = str(remittance_id)
            # what the row and the event both say, worked out once
            pr, allowed, pairs, remarks = _patient_share(claim), _allowed(claim), _aggregated_pairs(claim), _remarks(claim)
            payment_rows.append({
                "remittance_id": remittance_id, "claim_id": i.claim_id, "tenant_id": tenant, "payer_id": payer,
                "payer_claim_control_number": claim.payer_claim_control_number or "NONE",
                "trace_number": check.trace_number, "payment_date": check.payment_date, "total_charge": claim.charge,
                "allowed_amount": allowed, "paid_amount": claim.paid, "patient_responsibility": pr,
                "outcome": outcome, "adjustments": JsonText(to_json([
                    {"group_code": g, "reason_code": r, "amount": str(a)} for g, r, a in pairs])
                    .decode()), "remark_codes": _codes_json(remarks_json, remarks),
                "payment_key": i.key, "file_id": self.file_id,
                "status_code": claim.status_code, "payer_key": key_of_payer,
                "patient_control_number": claim.patient_control_number, "reverses": reverses})
            claim_id, trace = i.claim_id, check.trace_number
            for e in entries:
                entry_rows.append((tenant, claim_id, remittance_id, self.file_id, e.line_number, e.kind, e.amount,
                                   e.procedure_code, e.group_code, e.reason_code,
                                   _codes_json(remarks_json, e.remark_codes), trace))
            events.append((i, remittance_id, payer, outcome, reverses, entries, (pr, allowed, pairs, remarks)))

        if payment_rows and len(events) >= OVERLAP_MIN_EVENTS:
            inserted, events_now = await self._write_overlapped(payment_rows, entry_rows, to_post, events)
        else:
            inserted, entry_rows, events_now = await self._write_payments(payment_rows, entry_rows, to_post, events)
            running = await self._patient_shares(events_now)  # read before this batch's entries are written
            if entry_rows:
                await _insert_claim_entries.execute_records(uow.conn, entry_rows)
            self.uow.emit_many(self._events(events_now, running))
        del entry_rows  # ~7 tuples a claim, not kept alive through the contract checks
        reversed_pairs = [(a, b) for a, b in reversed_pairs if b in inserted]
        if reversed_pairs:
            await uow.conn.execute(text(
                "UPDATE posted_payments AS p SET reversed_by = u.by FROM unnest(CAST(:orig AS uuid[]), "
                "CAST(:by AS uuid[])) AS u(orig, by) WHERE p.remittance_id = u.orig AND p.tenant_id = :tenant"),
                {"orig": [a for a, _ in reversed_pairs], "by": [b for _, b in reversed_pairs], "tenant": tenant})
        if unmatched_rows:
            await _insert_unmatched.execute(uow.conn, unmatched_rows)
        await self._check_underpaid(to_post, events, inserted, aliases)
        return outcomes

    async def _write_payments(self, payment_rows: list, entry_rows: list, to_post: list,
                              events: list) -> tuple[set, list, list]:
        """Insert the payments; (those inserted, their entries, their events). A payment not inserted was posted
        meanwhile by a concurrent request: its outcome becomes a duplicate."""
        inserted = {r.remittance_id for r in await _insert_payments.execute(self.uow.conn, payment_rows)} \
            if payment_rows else set()
        lost = {r["remittance_id"] for r in payment_rows} - inserted
        if lost:
            for (i, o) in to_post:
                if o.get("remittance_id") and uuid.UUID(o["remittance_id"]) in lost:
                    o.update(outcome="duplicate", reason="this claim payment was posted before")
                    o.pop("remittance_id")
            entry_rows = [r for r in entry_rows if r[2] in inserted]  # (tenant, claim, remittance, ...)
            events = [e for e in events if e[1] in inserted]
        return inserted, entry_rows, events

    async def _write_overlapped(self, payment_rows: list, entry_rows: list, to_post: list,
                                events: list) -> tuple[set, list]:
        """A large batch: PostgreSQL writes the payments, then the entries (~7 a claim, by COPY), on its own
        core while a worker thread builds the events and then serialises them; nothing else uses the
        connection meanwhile. The events are built for every payment, as if all go in (a concurrent request
        posting the same payment is exceptional); they are serialised into the outbox only once the payments
        are in and none was lost, else built again for those inserted."""
        running = await self._patient_shares(events)  # the ledger before this batch's entries are written
        all_in = threading.Event()
        lost_any = False

        def build_and_emit() -> bool:
            built = self._events(events, defaultdict(lambda: ZERO, running))
            all_in.wait()
            if lost_any:
                return False
            self.uow.emit_many(built)
            return True

        building = asyncio.ensure_future(asyncio.to_thread(build_and_emit))
        try:
            inserted, entry_rows, events_now = await self._write_payments(payment_rows, entry_rows, to_post, events)
            lost_any = len(events_now) != len(events)
        except BaseException:
            lost_any = True
            raise
        finally:
            all_in.set()  # the thread never waits on a failed insert
            if lost_any:
                await asyncio.gather(building, return_exceptions=True)
        try:
            if entry_rows:
                await _insert_claim_entries.execute_records(self.uow.conn, entry_rows)
        finally:
            emitted = await building
        if not emitted:  # some payment was posted meanwhile: its event is not emitted, nor counted in the shares
            self.uow.emit_many(self._events(events_now, defaultdict(lambda: ZERO, running)))
        return inserted, events_now

    async def _check_underpaid(self, to_post: list, events: list, inserted: set, aliases: dict[str, str]) -> None:
        """Payments just inserted against the tenant's contracts (rcm_remittance.underpaid)."""
        outcome_of = {id(i): o for i, o in to_post}
        await underpaid.check_posted(self.uow, self.file_id, aliases, [
            (i, outcome_of[id(i)], remittance_id, payer) for i, remittance_id, payer, outcome, *_ in events
            if remittance_id in inserted and outcome in ("paid", "partially_paid", "denied")], self.medicare)

    def _queue_row(self, i: Item, aliases: dict[str, str], reason: str, status: str) -> dict:
        return PHI.seal(unmatched_payments, {
            "tenant_id": self.tenant, "payer_id": self.display_payer(i.check, aliases),
            "trace_number": i.check.trace_number, "patient_control_number": i.claim.patient_control_number,
            "payer_claim_control_number": i.claim.payer_claim_control_number, "paid_amount": i.claim.paid,
            "reason": reason, "status": status,
            "advice": {"check": _check_context(i.check), "claim": claim_to_json(i.claim)},
            "payment_key": i.key, "file_id": self.file_id})

    def _entry_row(self, e: L.Entry, claim_id, remittance_id, check: Check, **extra) -> dict:
        return {"tenant_id": self.tenant, "claim_id": claim_id, "remittance_id": remittance_id,
                "file_id": self.file_id, "line_number": e.line_number, "kind": e.kind, "amount": e.amount,
                "procedure_code": e.procedure_code, "group_code": e.group_code, "reason_code": e.reason_code,
                "remark_codes": list(e.remark_codes), "trace_number": check.trace_number, "provider_id": None,
                "reference": None, "note": None, "entry_key": None, **extra}

    async def _reversal_candidates(self, items: list[Item]) -> dict[uuid.UUID, list[dict]]:
        claim_ids = sorted({i.claim_id for i in items}, key=str)
        if not claim_ids:
            return {}
        rows = (await self.uow.conn.execute(select(
            posted_payments.c.remittance_id, posted_payments.c.claim_id, posted_payments.c.payer_key,
            posted_payments.c.payer_claim_control_number, posted_payments.c.paid_amount,
            posted_payments.c.total_charge).where(
            posted_payments.c.tenant_id == self.tenant, posted_payments.c.claim_id.in_(claim_ids),
            posted_payments.c.reversed_by.is_(None), posted_payments.c.outcome.in_(["paid", "partially_paid", "denied"]),
            posted_payments.c.status_code.is_distinct_from(L.REVERSAL))
            .order_by(posted_payments.c.posted_at.desc()))).mappings().all()
        by_claim: dict[uuid.UUID, list[dict]] = defaultdict(list)
        ids = [r["remittance_id"] for r in rows]
        entries: dict[uuid.UUID, list[L.Entry]] = defaultdict(list)
        if ids:
            for e in await self.uow.conn.execute(select(ledger_entries).where(
                    ledger_entries.c.tenant_id == self.tenant, ledger_entries.c.remittance_id.in_(ids))
                    .order_by(ledger_entries.c.id)):
                entries[e.remittance_id].append(L.Entry(e.kind, e.amount, e.line_number, e.procedure_code,
                                                        e.group_code, e.reason_code, tuple(e.remark_codes)))
        for r in rows:
            by_claim[r["claim_id"]].append({**r, "entries": entries[r["remittance_id"]]})
        return by_claim

    @staticmethod
    def _match_original(i: Item, originals: dict, aliases: dict[str, str], used: set) -> dict | None:
        """The payment a reversal takes back: the same claim and payer, not reversed yet; among them the one
        with the reversal's CLP07, else the one whose CLP04 the reversal negates, else the latest."""
        payer = payer_key(i.check, aliases)
        candidates = [r for r in originals.get(i.claim_id, []) if r["remittance_id"] not in used
                      and (r["payer_key"] in (payer, None))]
        pccn = i.claim.payer_claim_control_number
        for test in (lambda r: pccn and r["payer_claim_control_number"] == pccn,
                     lambda r: r["paid_amount"] == -i.claim.paid,
                     lambda r: True):
            found = [r for r in candidates if test(r)]
            if found:
                return found[0]
        return None

    async def _patient_shares(self, events: list) -> dict[uuid.UUID, Decimal]:
        """The events' claims' patient shares on the ledger before this batch's entries are written."""
        claim_ids = sorted({i.claim_id for i, *_ in events}, key=str)
        rows = await self.uow.conn.execute(_patient_shares, {"tenant": self.tenant, "ids": claim_ids,
                                                             "kinds": list(L.PR_KINDS)}) if claim_ids else []
        return defaultdict(lambda: ZERO, {r[0]: r[1] for r in rows})

    def _events(self, events: list, running: dict[uuid.UUID, Decimal]) -> list:
        """The (event, key) pairs of the payments just posted, in order (for one emit_many); `running`: each
        claim's patient share before this batch, carried forward event by event (it is updated; pure: no I/O,
        so it may run while the ledger is written)."""

        def pr(entries) -> Decimal:
            return sum((e.amount for e in entries if e.kind in L.PR_KINDS), ZERO)
        emitted = []  # (event, key), written to the outbox in this order by one emit_many
        for i, remittance_id, payer, outcome, reverses, entries, (share, allowed, pairs, remarks) in events:
            claim = i.claim
            running[i.claim_id] += pr(entries)
            if outcome == "reversed":
                taken = L.totals((e.kind, -e.amount) for e in entries)
                emitted.append((PaymentReversed(
                    claim_id=i.claim_id, remittance_id=remittance_id, reversed_remittance_id=reverses, payer_id=payer,
                    payer_claim_control_number=claim.payer_claim_control_number or "NONE",
                    paid_amount=taken.payer_paid, patient_responsibility=taken.patient_responsibility,
                    patient_responsibility_total=running[i.claim_id], payment_date=i.check.payment_date), i.claim_id))
            elif outcome in ("paid", "partially_paid", "denied"):
                emitted.append((PaymentPosted(
                    claim_id=i.claim_id, remittance_id=remittance_id, payer_id=payer,
                    payer_claim_control_number=claim.payer_claim_control_number or "NONE", total_charge=claim.charge,
                    allowed_amount=allowed, paid_amount=claim.paid, patient_responsibility=share,
                    adjustments=[Adjustment(group_code=g, reason_code=r, amount=a) for g, r, a in pairs], outcome=outcome,
                    payment_date=i.check.payment_date, remark_codes=remarks, claim_status_code=claim.status_code,
                    patient_responsibility_total=running[i.claim_id],
                    awaiting_payer_id=L.awaiting_payer(claim.status_code, running[i.claim_id], i.next_payer_id),
                    lines=_paid_lines(claim), payee_npi=_npi(i.check.payee_npi)), i.claim_id))
        return emitted

    async def post_provider_adjustments(self, checks: list[Check], aliases: dict[str, str],
                                        by_pcn: dict[str, uuid.UUID]) -> int:
        """PLB entries against the check, linked to a claim when the reference names one: its CLP01, else the payer's
        claim number (CLP07, which payers quote for a recoupment) when exactly one of the tenant's claims has it from
        this payer."""
        unresolved = {p.reference for c in checks for p in c.provider_adjustments
                      if p.reference and p.reference not in by_pcn}
        by_pccn: dict[tuple[str, str], set[uuid.UUID]] = defaultdict(set)
        if unresolved:
            for r in await self.uow.conn.execute(_claims_by_pccn, {"tenant": self.tenant, "refs": sorted(unresolved)}):
                by_pccn[(r.payer_key, r.payer_claim_control_number)].add(r.claim_id)
        rows = []
        for check in checks:
            payer = payer_key(check, aliases) if by_pccn else None
            for p, key in zip(check.provider_adjustments, plb_keys(self.tenant, check, aliases)):
                claim_id = by_pcn.get(p.reference) if p.reference else None
                if claim_id is None and p.reference:
                    named = by_pccn.get((payer, p.reference), set())
                    claim_id = next(iter(named)) if len(named) == 1 else None
                rows.append(self._entry_row(L.Entry("provider_adjustment", p.amount, reason_code=p.reason), claim_id,
                                            None, check, provider_id=p.provider_id, reference=p.reference,
                                            entry_key=key, note="PLB: positive withholds from the provider"))
        if rows:
            await _insert_entries.execute(self.uow.conn, rows)
        return len(rows)


def _paid_lines(claim: ClaimPay) -> list[PaidLine]:
    """The claim payment's service lines with their CAS (for denial trends by procedure); a line without a procedure
    code (none in the SVC) is left out: no trend can name it."""
    return [PaidLine(line_number=n, procedure_code=line.procedure_code, modifiers=list(line.modifiers[:4]),
                     charge=line.charge, paid=line.paid,
                     adjustments=[Adjustment(group_code=a.group, reason_code=a.reason, amount=a.amount)
                                  for a in line.adjustments if a.group in _GROUPS and 1 <= len(a.reason) <= 5])
            for n, line in enumerate(claim.lines, start=1) if line.procedure_code and len(line.procedure_code) <= 18]


_GROUPS = ("CO", "PR", "OA", "PI", "CR")


def _npi(value: str | None) -> str | None:
    return value if value and len(value) == 10 and value.isdigit() else None  # anything else is not an NPI


L_STATUS_REASON = {"1": "processed as primary", "19": "processed as primary, forwarded to another payer",
                   "2": "processed as secondary", "20": "processed as secondary, forwarded to another payer",
                   "3": "processed as tertiary", "21": "processed as tertiary, forwarded to another payer",
                   "4": "denied"}


def _items(tenant_id: str, checks: list[Check], aliases: dict[str, str]) -> list[Item]:
    return [Item(n, m, check, claim, key)
            for n, check in enumerate(checks)
            for m, (claim, key) in enumerate(zip(check.claims, payment_keys(tenant_id, check, aliases)))]


async def post_checks(uow: UnitOfWork, file_id: uuid.UUID | None, checks: list[Check],
                      medicare: PfsSchedule | None) -> list[dict]:
    poster = Poster(uow, file_id, medicare)
    aliases = await poster.aliases(checks)
    items = _items(uow.tenant_id, checks, aliases)
    references = {p.reference for c in checks for p in c.provider_adjustments if p.reference}
    by_pcn = await poster.resolve_claims(items, references)
    outcomes = await poster.post(items, aliases)
    await poster.post_provider_adjustments(checks, aliases, by_pcn)
    return outcomes


def _parse(source: str, content: str) -> list[Check]:
    if source == "json":
        return read_advice(RemittanceAdvice.model_validate_json(content))
    return read_x12_file(content)


def _totals(checks: list[Check]) -> dict:
    return {"checks": len(checks), "claims": sum(len(c.claims) for c in checks),
            "paid": str(sum((c.amount for c in checks if c.amount is not None), ZERO)) if any(
                c.amount is not None for c in checks) else str(sum((x.paid for c in checks for x in c.claims), ZERO)),
            "claims_paid": str(sum((x.paid for c in checks for x in c.claims), ZERO)),
            "provider_adjustments": str(sum((p.amount for c in checks for p in c.provider_adjustments), ZERO))}


def _file_status(outcomes: list[dict]) -> str:
    return "posted" if all(o["outcome"] in POSTED_LIKE for o in outcomes) else "partially_posted"


async def _store_file(uow: UnitOfWork, file_id: uuid.UUID, digest: str, source: str, content: str):
    """The file's row, status receiving; None when the tenant sent this content before."""
    return (await uow.conn.execute(text(
        "INSERT INTO remittance_files (id, tenant_id, sha256, source, status, trace_numbers, findings, totals, outcomes, "
        "content, received_at, received_by) VALUES (:id, :tenant, :sha, :source, 'receiving', '[]', '{}', '{}', '[]', "
        ":content, :now, :actor) ON CONFLICT ON CONSTRAINT uq_remittance_file_content DO NOTHING RETURNING id"),
        {"id": file_id, "tenant": uow.tenant_id, "sha": digest, "source": source,
         "content": PHI.seal(remittance_files, {"content": content}, tenant=uow.tenant_id)["content"],
         "now": uow.now(), "actor": uow.actor})).first()


async def ingest(uow: UnitOfWork, source: str, content: str, medicare: PfsSchedule | None) -> FileResult:
    tenant = uow.tenant_id
    digest = sha256(content.encode("utf-8"))
    file_id = uuid.uuid4()
    refused = None
    if "\x00" in content:  # PostgreSQL text cannot hold NUL: kept with U+FFFD in its place, and refused
        content, refused = content.replace("\x00", "\ufffd"), "the file contains NUL bytes; it is not an X12 text"
    # A large file is read by a worker thread while PostgreSQL stores it (its content is most of the row); a
    # duplicate's reading is then wasted, which is rare
    reading = asyncio.ensure_future(asyncio.to_thread(_parse, source, content)) \
        if refused is None and len(content) >= PARSE_AHEAD_MIN_CHARS else None
    try:
        new = await _store_file(uow, file_id, digest, source, content)
    except BaseException:
        if reading is not None:  # no thread left reading for a failed request
            await asyncio.gather(reading, return_exceptions=True)
        raise
    if new is None:
        if reading is not None:  # not needed: the thread finishes on its own (its error, if any, is dropped)
            reading.add_done_callback(lambda f: f.cancelled() or f.exception())
        first = (await uow.conn.execute(select(remittance_files.c.id, remittance_files.c.outcomes).where(
            remittance_files.c.tenant_id == tenant, remittance_files.c.sha256 == digest))).one()
        return FileResult(first.id, "duplicate", [{**o, "outcome": "duplicate", "reason": "this file was received "
                                                  "before"} for o in first.outcomes],
                          reason="this file was received before (same content): nothing is posted again")
    try:
        if refused:
            raise RejectedFile(refused)
        checks = await reading if reading is not None else _parse(source, content)
    except (RejectedFile, ValueError) as exc:
        reason = str(exc) if isinstance(exc, RejectedFile) else "the JSON advice is not valid"
        await _finish(uow, file_id, "rejected", reason=reason, findings={"errors": [reason]})
        return FileResult(file_id, "rejected", reason=reason, findings={"errors": [reason]})
    imbalances = file_imbalances(checks)
    # "issues": what the 835 reader read around, structured (interchange, transaction set, segment position,
    # kind, code, reason); "envelope_errors"/"warnings" keep the same as text, with posting's own warnings
    findings = {"envelope_errors": sorted({e for c in checks for e in c.envelope_errors}),
                "warnings": [w for c in checks for w in c.warnings] + patient_share_warnings(checks),
                "issues": [i for c in checks for i in c.issues],
                "imbalances": [i.as_json() for i in imbalances]}
    meta = {"payer_id": next((c.payer_id or c.trace_originator for c in checks), None),
            "trace_numbers": [c.trace_number for c in checks], "payment_date": checks[0].payment_date,
            "totals": _totals(checks)}
    if imbalances:
        faulty = {(i.check_index, i.claim_index) for i in imbalances if i.claim_index is not None}
        outcomes = [{"check_index": n, "claim_index": m, "patient_control_number": c.patient_control_number,
                     "status_code": c.status_code, "paid": str(c.paid), "outcome": "held",
                     "own_fault": (n, m) in faulty,
                     "reason": ("this claim payment does not balance" if (n, m) in faulty else
                                "the file does not balance") + "; nothing is posted until the file is released"}
                    for n, check in enumerate(checks) for m, c in enumerate(check.claims)]
        reason = "does not balance: " + "; ".join(
            f"{i.level} ({i.rule}) check {i.check_index}" + (f" claim {i.claim_index}" if i.claim_index is not None else "")
            + (f" line {i.line_index}" if i.line_index is not None else "") + f": difference {i.difference}"
            for i in imbalances[:20])
        await _finish(uow, file_id, "held", reason=reason, findings=findings, outcomes=outcomes, **meta)
        return FileResult(file_id, "held", outcomes, findings, reason)
    outcomes = await post_checks(uow, file_id, checks, medicare)
    status = _file_status(outcomes)
    await _finish(uow, file_id, status, findings=findings, outcomes=outcomes, **meta)
    return FileResult(file_id, status, outcomes, findings)


async def _finish(uow: UnitOfWork, file_id: uuid.UUID, status: str, **values: Any) -> None:
    if "outcomes" in values:  # one a claim: encoded by pydantic-core, a few times faster than json.dumps
        values["outcomes"] = cast(literal(to_json(values["outcomes"]).decode(), Text), JSONB)
    await uow.conn.execute(update(remittance_files).where(remittance_files.c.id == file_id)
                           .values(status=status, **values))


async def _audit(uow: UnitOfWork, subject: str, subject_id: Any, action: str, reason: str) -> None:
    await uow.conn.execute(remittance_audit.insert().values(
        tenant_id=uow.tenant_id, subject=subject, subject_id=str(subject_id), action=action, actor=uow.actor,
        reason=reason, at=uow.now()))


# ---------------------------------------------------------------- consumed events


async def _post_queued(uow: UnitOfWork, row, claim_id: uuid.UUID, medicare: PfsSchedule | None) -> dict:
    claim = claim_from_json(row.advice["claim"])
    check = _check_from_context(row.advice["check"], claim)
    poster = Poster(uow, row.file_id, medicare)
    aliases = await poster.aliases([check])
    item = Item(0, 0, check, claim, row.payment_key, claim_id)
    [outcome] = await poster.post([item], aliases, queue_unmatched=False)
    return outcome


def handlers(remittance: Remittance) -> dict[str, Handler]:
    """The consumer's handlers (event type -> handler), bound to the composition root's Remittance."""
    return {ClaimSubmitted.event_type(): remittance.on_claims_submitted,
            RemittanceReceived.event_type(): remittance.on_remittances_received}


# ---------------------------------------------------------------- use cases


def ledger_claim(submitted: ClaimSubmitted) -> uuid.UUID:
    """The claim whose ledger a submitted claim's payments post to: a secondary claim's is its primary's."""
    return submitted.primary_claim_id or submitted.claim_id


class Remittance:
    """The remittance use cases an API request runs (each opens and owns its unit of work), and the consumer
    handler that posts payments waiting for their claim. `medicare`: the Medicare fee schedule posting checks
    payments against (None: none configured)."""

    def __init__(self, units: UnitsOfWork, *, medicare: PfsSchedule | None) -> None:
        self.units, self.medicare = units, medicare

    async def on_claims_submitted(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        """Remember each claim's CLP01 (patient control number) so its 835 payment finds it, and post any
        payment that arrived before this event did (for the same tenant only)."""
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        by_key = {(d.tenant_id, d.event.patient_control_number): d for d in deliveries if d.event.patient_control_number}
        if not by_key:
            return
        await uow.conn.execute(pg_insert(claim_refs).values([
            {"tenant_id": t, "patient_control_number": pcn, "claim_id": ledger_claim(d.event),
             "payer_id": d.event.payer_id, "payer_responsibility": d.event.payer_responsibility,
             "next_payer_id": d.event.next_payer_id, "place_of_service": d.event.place_of_service}
            for (t, pcn), d in by_key.items()]).on_conflict_do_nothing())
        waiting = (await uow.conn.execute(select(unmatched_payments).where(
            unmatched_payments.c.status == "unmatched",
            tuple_(unmatched_payments.c.tenant_id, unmatched_payments.c.patient_control_number).in_(list(by_key)))
            .order_by(unmatched_payments.c.id).with_for_update())).all()
        for row in PHI.open_all(unmatched_payments, waiting):
            if "claim" not in row.advice:
                continue  # queued before revision 0004 (a RemittanceAdvice): an operator matches it
            d = by_key[(row.tenant_id, row.patient_control_number)]
            # d.uow is bound to row.tenant_id (matched on it)
            await _post_queued(d.uow, row, ledger_claim(d.event), self.medicare)
            await uow.conn.execute(update(unmatched_payments).where(unmatched_payments.c.id == row.id)
                                   .values(status="posted", claim_id=ledger_claim(d.event), resolved_at=uow.now()))

    async def post_waiting(self, batch_max: int = 200) -> int:
        """Post payments still queued unmatched although their claim is known by now. An 835 ingested while its
        claim's ClaimSubmitted was being applied leaves that: each transaction looked for the other's row before
        the other committed (the file saw no claim, the event saw no waiting payment). The background loop runs
        this every few seconds; it finds nothing otherwise. Returns how many it posted."""
        async with self.units.begin_system() as uow:
            rows = (await uow.conn.execute(
                select(unmatched_payments, claim_refs.c.claim_id.label("known_claim_id"))
                .join(claim_refs, (claim_refs.c.tenant_id == unmatched_payments.c.tenant_id)
                      & (claim_refs.c.patient_control_number == unmatched_payments.c.patient_control_number))
                .where(unmatched_payments.c.status == "unmatched", unmatched_payments.c.advice.has_key(ADVICE_MARK))
                .order_by(unmatched_payments.c.id).limit(batch_max)
                .with_for_update(of=unmatched_payments, skip_locked=True))).all()
            for row in PHI.open_all(unmatched_payments, rows):
                unit = uow.bind(Cause(tenant_id=row.tenant_id, actor="system:remittance"))
                await _post_queued(unit, row, row.known_claim_id, self.medicare)
                await uow.conn.execute(update(unmatched_payments).where(unmatched_payments.c.id == row.id)
                                       .values(status="posted", claim_id=row.known_claim_id, resolved_at=uow.now()))
            if rows:
                log.info("waiting payments posted", extra={"count": len(rows)})
            return len(rows)

    @audited.money("remittance.post_received", "remittance_file", id="content_sha256")
    async def on_remittances_received(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        """835s that submission polled from a clearinghouse connection, each ingested for the event's tenant exactly
        as an upload to POST /v1/remittances/x12 (stored verbatim, same statuses, idempotent on (tenant, SHA-256):
        a file seen before, by either way in, is a duplicate and posts nothing). Actor "clearinghouse:<name>". A
        file rejected or held for its own fault is its result (listed with its reason), not a handler failure."""
        for d in deliveries:
            event: RemittanceReceived = d.event
            actor = f"clearinghouse:{event.clearinghouse}"[:128]
            # d.uow is bound to the event's tenant; the payments it posts continue the event's correlation
            unit = d.uow.bind(Cause(tenant_id=d.tenant_id, actor=actor, event=d.envelope, traceparent=d.traceparent))
            result = await ingest(unit, "x12", event.content, self.medicare)
            log.info("835 from a clearinghouse ingested", extra={"tenant_id": d.tenant_id, "status": result.status,
                                                                  "file_id": str(result.file_id)})

    async def post_advice(self, *, tenant_id: str, actor: str, era: RemittanceAdvice) -> FileResult:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            result = await ingest(uow, "json", era.model_dump_json(), self.medicare)
            uow.audit_names(result.file_id)
            return result

    async def post_x12(self, *, tenant_id: str, actor: str, text: str) -> FileResult:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            result = await ingest(uow, "x12", text, self.medicare)
            uow.audit_names(result.file_id)
            return result

    async def release(self, *, tenant_id: str, actor: str, file_id: uuid.UUID, reason: str) -> FileResult:
        """Post a held file as it is (an operator's decision, audited)."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = await self._held(uow, file_id)
            checks = _parse(row.source, row.content)
            outcomes = await post_checks(uow, file_id, checks, self.medicare)
            status = _file_status(outcomes)
            await _finish(uow, file_id, status, outcomes=outcomes, reviewed_by=actor, review_reason=reason)
            await _audit(uow, "file", file_id, "release", reason)
            return FileResult(file_id, status, outcomes, row.findings)

    async def reject(self, *, tenant_id: str, actor: str, file_id: uuid.UUID, reason: str) -> FileResult:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = await self._held(uow, file_id)
            outcomes = [{**o, "outcome": "rejected", "reason": "the file was rejected by an operator"}
                        for o in row.outcomes]
            await _finish(uow, file_id, "rejected", outcomes=outcomes, reviewed_by=actor, review_reason=reason,
                          reason=f"rejected by an operator: {reason}")
            await _audit(uow, "file", file_id, "reject", reason)
            return FileResult(file_id, "rejected", outcomes, row.findings, reason)

    @staticmethod
    async def _held(uow: UnitOfWork, file_id: uuid.UUID):
        row = (await uow.conn.execute(select(remittance_files).where(
            remittance_files.c.tenant_id == uow.tenant_id, remittance_files.c.id == file_id).with_for_update())).first()
        row = PHI.open(remittance_files, row)
        if row is None:
            raise NotFound("no such remittance file for this tenant")
        if row.status != "held":
            raise NotHeld(f"the file is {row.status}, not held")
        return row

    async def match(self, *, tenant_id: str, actor: str, unmatched_id: int, claim_id: uuid.UUID, reason: str) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = await self._queued(uow, unmatched_id, ("unmatched",))
            known = (await uow.conn.execute(select(claim_refs.c.claim_id).where(
                claim_refs.c.tenant_id == tenant_id, claim_refs.c.claim_id == claim_id))).first()
            if known is None:
                raise NotFound("no claim with this id was submitted by this tenant")
            outcome = await _post_queued(uow, row, claim_id, self.medicare)
            if outcome["outcome"] not in POSTED_LIKE:
                raise NotUnmatched(f"the payment could not be posted: {outcome['reason']}")
            await uow.conn.execute(update(unmatched_payments).where(unmatched_payments.c.id == row.id).values(
                status="matched", claim_id=claim_id, resolved_by=actor, resolved_at=uow.now()))
            await _audit(uow, "unmatched", row.id, "match", reason)
            return {"id": row.id, "status": "matched", "claim_id": str(claim_id), "posting": outcome}

    async def return_payment(self, *, tenant_id: str, actor: str, unmatched_id: int, reason: str) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = await self._queued(uow, unmatched_id, ("unmatched", "held"))
            await uow.conn.execute(update(unmatched_payments).where(unmatched_payments.c.id == row.id).values(
                status="returned", resolved_by=actor, resolved_at=uow.now()))
            await _audit(uow, "unmatched", row.id, "return", reason)
            return {"id": row.id, "status": "returned"}

    @staticmethod
    async def _queued(uow: UnitOfWork, unmatched_id: int, statuses: tuple[str, ...]):
        row = (await uow.conn.execute(select(unmatched_payments).where(
            unmatched_payments.c.tenant_id == uow.tenant_id, unmatched_payments.c.id == unmatched_id)
            .with_for_update())).first()
        row = PHI.open(unmatched_payments, row)
        if row is None:
            raise NotFound("no such unmatched payment for this tenant")
        if row.status not in statuses:
            raise NotUnmatched(f"the payment is {row.status}")
        if "claim" not in row.advice:
            raise NotUnmatched("queued before the ledger existed; post it through a new file")
        return row


# ---------------------------------------------------------------- reads


_FILE_LIST = [c for c in remittance_files.c if c.name not in ("content", "outcomes", "findings")]


def _day(d: date) -> datetime:
    return datetime.combine(d, time.min, timezone.utc)


class RemittanceQueries:
    """What the remittance routes read: files, a file with its payments, a claim's ledger, the unmatched
    queue. Each opens a read-only connection; rows come back as JSON-ready dicts."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def files(self, *, tenant_id: str, status: str | None = None, payer: str | None = None,
                    received_from: date | None = None, received_to: date | None = None,
                    payment_date: date | None = None, received_on: date | None = None, limit: int = 50,
                    offset: int = 0) -> dict:
        """Remittance files, newest first (without their content, outcomes and findings)."""
        where = [remittance_files.c.tenant_id == tenant_id]
        if status:
            where.append(remittance_files.c.status == status)
        if payer:
            where.append(remittance_files.c.payer_id == payer)
        if received_from:
            where.append(remittance_files.c.received_at >= _day(received_from))
        if received_to:
            where.append(remittance_files.c.received_at < _day(received_to + timedelta(days=1)))
        if payment_date:
            where.append(remittance_files.c.payment_date == payment_date)
        if received_on:
            where.append(remittance_files.c.received_at >= _day(received_on))
            where.append(remittance_files.c.received_at < _day(received_on + timedelta(days=1)))
        async with self.units.read(tenant_id) as conn:
            total = (await conn.execute(select(func.count()).select_from(remittance_files).where(*where))).scalar()
            rows = (await conn.execute(select(*_FILE_LIST).where(*where).order_by(
                remittance_files.c.received_at.desc(), remittance_files.c.id).limit(limit).offset(offset))
                    ).mappings().all()
        return {"total": total, "items": [jsonable(dict(r)) for r in rows]}

    async def file(self, *, tenant_id: str, file_id: uuid.UUID) -> dict:
        """A file (without its content) and the payments posted from it; NotFound for another tenant's."""
        async with self.units.read(tenant_id) as conn:
            row = (await conn.execute(select(*[c for c in remittance_files.c if c.name != "content"]).where(
                remittance_files.c.tenant_id == tenant_id, remittance_files.c.id == file_id))).mappings().first()
            if row is None:
                raise NotFound("no such remittance file for this tenant")
            payments = (await conn.execute(select(posted_payments).where(
                posted_payments.c.tenant_id == tenant_id, posted_payments.c.file_id == file_id)
                .order_by(posted_payments.c.posted_at))).mappings().all()
        return {**jsonable(dict(row)), "payments": [jsonable(dict(p)) for p in payments]}

    async def claim_ledger(self, *, tenant_id: str, claim_id: uuid.UUID) -> dict:
        """A claim's ledger entries and totals; NotFound when the tenant has neither the claim nor entries."""
        async with self.units.read(tenant_id) as conn:
            ours = (await conn.execute(select(claim_refs.c.claim_id).where(
                claim_refs.c.tenant_id == tenant_id, claim_refs.c.claim_id == claim_id).limit(1))).first()
            entries = (await conn.execute(select(ledger_entries).where(
                ledger_entries.c.tenant_id == tenant_id, ledger_entries.c.claim_id == claim_id)
                .order_by(ledger_entries.c.id))).mappings().all()
        if ours is None and not entries:
            raise NotFound("no such claim for this tenant")
        claim_entries = [e for e in entries if e["kind"] != "provider_adjustment"]
        return {"claim_id": str(claim_id), "totals": L.totals((e["kind"], e["amount"]) for e in entries).as_json(),
                "entries": [jsonable({k: v for k, v in e.items() if k not in ("tenant_id", "entry_key")})
                            for e in entries], "entry_count": len(claim_entries)}

    async def unmatched(self, *, tenant_id: str, status: str | None = "unmatched", limit: int = 100,
                        offset: int = 0) -> dict:
        """The unmatched queue (without the queued advice), oldest first."""
        where = [unmatched_payments.c.tenant_id == tenant_id]
        if status:
            where.append(unmatched_payments.c.status == status)
        cols = [c for c in unmatched_payments.c if c.name != "advice"]
        async with self.units.read(tenant_id) as conn:
            total = (await conn.execute(select(func.count()).select_from(unmatched_payments).where(*where))).scalar()
            rows = (await conn.execute(select(*cols).where(*where).order_by(unmatched_payments.c.id)
                                       .limit(limit).offset(offset))).mappings().all()
        return {"total": total, "items": [jsonable(dict(r)) for r in rows]}


# ---------------------------------------------------------------- deposits: ERA-to-deposit reassociation
#
# Deposits come from the bank's file (BAI2 or a CSV export: rcm_remittance.domain.deposits), stored once per
# (tenant, deposit key: trace or bank reference with date and amount), so overlapping bank files add each once. The ERAs are the checks/EFTs of the tenant's remittance files, read through
# the same reader as posting (once per file, into era_payments). Each reassociation runs over all of the
# tenant's deposits and ERAs (under a per-tenant lock) and records each deposit's status.


from rcm_remittance.db import deposits as deposits_table, era_payments  # noqa: E402
from rcm_remittance.domain import deposits as D  # noqa: E402
from rcm_remittance.domain.remit import MAX_AMOUNT  # noqa: E402

ERA_STATUSES = ("posted", "partially_posted", "held")  # files whose money the payer sent (not rejected ones)
REASSOCIATION_WINDOW = timedelta(days=120)  # a deposit or ERA older than this counts only while it is still open
# The ERAs of the window: not paid by a deposit matched before the window, and paid since (less the check window),
# or naming a trace of a deposit in view, or not yet paid by any deposit (a matched deposit names its files: GIN
# index, migration 0011).
_window_eras = text(
    "SELECT e.* FROM era_payments e JOIN remittance_files f ON f.tenant_id = e.tenant_id AND f.id = e.file_id "
    "WHERE e.tenant_id = :tenant AND f.status = ANY(CAST(:statuses AS text[])) "
    "AND NOT EXISTS (SELECT 1 FROM deposits d WHERE d.tenant_id = e.tenant_id AND d.status = 'matched' "
    "AND d.deposit_date < :since AND d.matched_file_ids @> jsonb_build_array(e.file_id::text)) AND ("
    "e.payment_date IS NULL OR e.payment_date >= :since_eras OR e.trace_key = ANY(CAST(:traces AS text[])) "
    "OR NOT EXISTS (SELECT 1 FROM deposits d WHERE d.tenant_id = e.tenant_id "
    "AND d.matched_file_ids @> jsonb_build_array(e.file_id::text))) "
    "ORDER BY f.received_at, e.file_id, e.check_index")
DEPOSIT_FORMATS = ("bai2", "csv")

_lock_tenant_deposits = text("SELECT pg_advisory_xact_lock(hashtextextended('deposits:' || :tenant, 0))")
_update_deposits = text(
    "UPDATE deposits AS d SET status = u.status, matched_by = u.how, matched_file_ids = CAST(u.files AS jsonb), "
    "difference = u.diff FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]), CAST(:hows AS text[]), "
    "CAST(:files AS text[]), CAST(:diffs AS numeric[])) AS u(id, status, how, files, diff) "
    "WHERE d.tenant_id = :tenant AND d.id = u.id")
_insert_deposits = BulkInsert(deposits_table, [
    "tenant_id", "file_sha256", "source", "line", "deposit_key", "deposit_date", "amount", "trace", "trace_key",
    "bank_reference", "customer_reference", "type_code", "status", "matched_file_ids"],
    on_conflict="DO NOTHING", returning=["id"])
_insert_era_payments = BulkInsert(era_payments, [
    "tenant_id", "file_id", "check_index", "trace", "trace_key", "amount", "payment_date", "method", "payer_id"],
    on_conflict="DO NOTHING")


def read_deposit_file(content: bytes, fmt: str | None) -> tuple[str, list[D.Deposit]]:
    """(format, deposits) of an uploaded bank file; DepositFileError listing every problem (a 422)."""
    try:
        text_ = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise D.DepositFileError([{"line": 1, "reason": "the file is not UTF-8 text"}]) from None
    if "\x00" in text_:
        raise D.DepositFileError([{"line": 1, "reason": "the file contains NUL bytes; it is not a text file"}])
    if not text_.strip():
        raise D.DepositFileError([{"line": 1, "reason": "the file is empty"}])
    fmt = fmt or ("bai2" if text_.lstrip().startswith("01,") else "csv")
    found = D.parse_bai2(text_) if fmt == "bai2" else D.parse_deposit_csv(text_)
    errors = [{"line": d.line, "reason": "amount is out of range"} for d in found if abs(d.amount) > MAX_AMOUNT]
    if errors:
        raise D.DepositFileError(errors)
    return fmt, found


def _money(v: Decimal | None) -> str | None:
    return None if v is None else str(v.quantize(Decimal("0.01")))


class Deposits:
    """Bank deposits and their reassociation with the ERAs: each command opens and owns its unit of work."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def upload(self, *, tenant_id: str, actor: str, content: bytes, fmt: str | None,
                     since: date | None = None) -> dict:
        fmt, found = read_deposit_file(content, fmt)  # pure, before the transaction
        digest = sha256(content)
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await uow.conn.execute(_lock_tenant_deposits, {"tenant": tenant_id})
            stored = 0
            if found:
                rows = await _insert_deposits.execute(uow.conn, [{
                    "tenant_id": tenant_id, "file_sha256": digest, "source": fmt, "line": d.line,
                    "deposit_key": D.deposit_key(d, digest), "deposit_date": d.deposit_date, "amount": d.amount, "trace": d.trace,
                    "trace_key": D.normalise_trace(d.trace), "bank_reference": d.bank_reference,
                    "customer_reference": d.customer_reference, "type_code": d.type_code, "status": "unmatched",
                    "matched_file_ids": []} for d in found])
                stored = len(rows)
            result = await self._reassociate(uow, since)
        return {"format": fmt, "file_sha256": digest, "deposits_in_file": len(found), "stored": stored,
                "already_stored": len(found) - stored, "reassociation": result}

    async def reassociation(self, *, tenant_id: str, actor: str, since: date | None = None) -> dict:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await uow.conn.execute(_lock_tenant_deposits, {"tenant": tenant_id})
            return await self._reassociate(uow, since)

    # -------------------------------------------------------- internals

    async def _index_eras(self, uow: UnitOfWork) -> None:
        """Read the checks of every remittance file not indexed yet (its content, through the posting reader)."""
        tenant = uow.tenant_id
        pending = (await uow.conn.execute(text(
            "SELECT f.id, f.source, f.content FROM remittance_files f WHERE f.tenant_id = :tenant "
            "AND f.status = ANY(CAST(:statuses AS text[])) AND NOT EXISTS (SELECT 1 FROM era_payments e "
            "WHERE e.tenant_id = f.tenant_id AND e.file_id = f.id)"),
            {"tenant": tenant, "statuses": list(ERA_STATUSES)})).all()
        rows = []
        for f in PHI.open_all(remittance_files, pending, tenant=tenant):
            try:
                checks = _parse(f.source, f.content)
            except (RejectedFile, ValueError):
                continue  # posted before a stricter reader: shown by neither list, never guessed
            for n, c in enumerate(checks):
                amount = c.amount if c.amount is not None else sum((x.paid for x in c.claims), ZERO)
                rows.append({"tenant_id": tenant, "file_id": f.id, "check_index": n, "trace": c.trace_number,
                             "trace_key": D.normalise_trace(c.trace_number), "amount": amount,
                             "payment_date": c.payment_date, "method": c.payment_method,
                             "payer_id": c.payer_id or c.trace_originator})
        if rows:
            await _insert_era_payments.execute(uow.conn, rows)

    async def _reassociate(self, uow: UnitOfWork, since: date | None = None) -> dict:
        """Over the window from `since` (default: REASSOCIATION_WINDOW before the tenant's newest deposit) and whatever
        is still open before it: a deposit matched earlier stays matched and drops out of view, so the work grows with
        the window, not with the tenant's history."""
        tenant = uow.tenant_id
        if since is None:
            newest = await uow.conn.scalar(select(func.max(deposits_table.c.deposit_date)).where(
                deposits_table.c.tenant_id == tenant))
            since = D.days_before(newest or uow.clock.today(), REASSOCIATION_WINDOW)
        await self._index_eras(uow)
        drows = (await uow.conn.execute(select(deposits_table).where(
            deposits_table.c.tenant_id == tenant,
            (deposits_table.c.status != "matched") | (deposits_table.c.deposit_date >= since))
            .order_by(deposits_table.c.id))).all()
        erows = (await uow.conn.execute(_window_eras, {
            "tenant": tenant, "statuses": list(ERA_STATUSES), "since": since,
            "since_eras": D.days_before(since, D.CHECK_WINDOW),
            "traces": sorted({r.trace_key for r in drows if r.trace_key})})).all()
        deposits = [(r.id, D.Deposit(deposit_date=r.deposit_date, amount=r.amount, trace=r.trace,
                                     bank_reference=r.bank_reference, customer_reference=r.customer_reference,
                                     type_code=r.type_code, line=r.line)) for r in drows]
        sources = {r.id: r.source for r in drows}
        row_of = {id(d): rid for rid, d in deposits}
        eras = {f"{r.file_id}:{r.check_index}": r for r in erows}
        # an ERA that pays nothing (BPR04 NON, or a zero amount: every claim denied) expects no deposit
        expected = [D.EraPayment(era_id=k, trace=r.trace, amount=r.amount, payment_date=r.payment_date, method=r.method)
                    for k, r in eras.items() if r.amount != 0 and (r.method or "").upper() != "NON"]
        result = D.reassociate([d for _, d in deposits], expected)

        def era_json(e: D.EraPayment) -> dict:
            r = eras[e.era_id]
            return {"file_id": str(r.file_id), "check_index": r.check_index, "trace": r.trace,
                    "amount": _money(r.amount), "payment_date": r.payment_date.isoformat() if r.payment_date else None,
                    "payment_method": r.method, "payer_id": r.payer_id}

        def deposit_json(d: D.Deposit) -> dict:
            rid = row_of[id(d)]
            return {"id": rid, "source": sources[rid], "deposit_date": d.deposit_date.isoformat(),
                    "amount": _money(d.amount), "trace": d.trace, "bank_reference": d.bank_reference,
                    "customer_reference": d.customer_reference, "type_code": d.type_code, "line": d.line}

        def file_ids(es) -> list[str]:
            return list(dict.fromkeys(str(eras[e.era_id].file_id) for e in es))

        status: dict[int, tuple[str, str | None, list[str], Decimal | None]] = {
            rid: ("unmatched", None, [], None) for rid, _ in deposits}
        matched, mismatches = [], []
        for m in result.matches:
            status[row_of[id(m.deposit)]] = ("matched", m.by, file_ids(m.eras), None)
            matched.append({"deposit": deposit_json(m.deposit), "by": m.by, "file_ids": file_ids(m.eras),
                            "traces": list(dict.fromkeys(e.trace for e in m.eras)),
                            "eras": [era_json(e) for e in m.eras]})
        for x in result.amount_mismatches:
            status[row_of[id(x.deposit)]] = ("amount_mismatch", "trace", file_ids(x.eras), x.difference)
            mismatches.append({"deposit": deposit_json(x.deposit), "file_ids": file_ids(x.eras),
                               "era_amount": _money(sum((e.amount for e in x.eras), ZERO)),
                               "difference": _money(x.difference), "eras": [era_json(e) for e in x.eras]})
        if status:
            ids = list(status)
            await uow.conn.execute(_update_deposits, {
                "tenant": tenant, "ids": ids, "statuses": [status[i][0] for i in ids],
                "hows": [status[i][1] for i in ids], "files": [_json_list(status[i][2]) for i in ids],
                "diffs": [status[i][3] for i in ids]})
        return {"matched": matched, "amount_mismatches": mismatches,
                "unmatched_deposits": [deposit_json(d) for d in result.unmatched_deposits],
                "eras_without_deposit": [era_json(e) for e in result.eras_without_deposit],
                "counts": {"deposits": len(deposits), "eras": len(expected), "matched": len(matched),
                           "amount_mismatches": len(mismatches), "unmatched_deposits": len(result.unmatched_deposits),
                           "eras_without_deposit": len(result.eras_without_deposit),
                           "eras_without_payment": len(eras) - len(expected)}}


def _json_list(values: list[str]) -> str:
    return json.dumps(values)
