"""eligibility use cases: verify coverage for claims (cached 271s), hold what the front desk or the
authorizations team must fix, release held claims, registrations and pre-visit checks.

`Eligibility` is the one use-case object (built once by the composition root). Every use case that needs the
payer works in three steps, so no transaction is open while the payer answers (DESIGN.md §2 rule 7):
(a) a short read (the 271 cache, inquiry control numbers), (b) the 270/271 exchange with no connection held,
(c) a short unit of work that stores the answers, the decisions and their events. Consumed events take the
same path through `PreparedHandler`s (rcm_runtime.consumer): (a)+(b) in `prepare`, (c) in the batch's
transaction.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Sequence

from sqlalchemy import func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rcm_contracts.claim import Claim, Coverage, Person, Provider, ServiceLine
from rcm_contracts.events import AppointmentScheduled, CoverageVerified, EligibilityHeld, PatientRegistrationReceived
from rcm_runtime.audit import audited
from rcm_runtime import phi
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.errors import Conflict, NotFound
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork

from rcm_eligibility import registration_service as registrations
from rcm_eligibility.db import MEMBER_ID_INDEX, PHI, coverage_checks, eligibility_cache, inquiry_control_seq, patients
from rcm_eligibility.domain.decision import (
    UNREADABLE_271,
    CoverageSnapshot,
    Decision,
    decide,
    snapshot_of,
    unreadable_snapshot,
    with_coverage_period,
)
from rcm_eligibility.domain.fhir_appointment import appointment_from_fhir
from rcm_eligibility.domain.prior_auth import AuthRuleTable
from rcm_eligibility.domain.registration import (
    CoverageRegistration, PatientRegistration, RegistrationProblem, validate_registration,
)
from rcm_x12.eligibility_270 import Dependent, EligibilityInquiry, Subscriber, build_270_batch
from rcm_x12.eligibility_271 import Unparseable271, read_271
from rcm_eligibility.payers import PayerConnection, PayerRefused
from rcm_eligibility.registration_service import PreVisitCheck, Visit

API_ACTOR = "api"  # unaudited commands


class NotHeld(Conflict):
    code = "not_held"


class ClaimChanged(Conflict):
    code = "claim_changed"


class NoMemberIdRule(NotFound):
    pass


class InvalidMemberIdRule(ValueError):
    """The pattern is not a usable regular expression (the API answers 422)."""


@dataclass(frozen=True)
class Answer:
    """The 271 snapshot for one claim and where it came from (none | cache | payer | not_sent). `cache_key`
    is set when the payer just answered: the snapshot to store in the cache under (tenant, payer, member, DOS)."""

    snapshot: CoverageSnapshot | None
    source: str
    cache_key: tuple | None = None


@dataclass(frozen=True)
class CoverageQuestion:
    """An on-demand check: who, which payer, which provider, when, what service."""

    patient: Person
    coverage: Coverage
    provider: Provider
    service_date: date
    procedure_codes: Sequence[str]
    place_of_service: str = "11"


@dataclass(frozen=True)
class CheckOutcome:
    decision: Decision
    snapshot: CoverageSnapshot | None


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


async def _ask_chunk(payer: PayerConnection, submitter_id: str, now: datetime, chunk: list[tuple[tuple, Claim]],
                     control: int, gate: asyncio.Semaphore, asked: dict, unasked: set) -> None:
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
    try:
        x270 = build_270_batch(inquiries, control_number=control, sender_id=submitter_id,
                               receiver_id=chunk[0][1].coverage.payer_id[:15], now=now)
    except ValueError:  # the payer id cannot address an interchange (e.g. an X12 delimiter in it): none is sent
        unasked.update(keys)
        return
    async with gate:
        try:
            x271 = await payer.inquire(x270)
        except PayerRefused as exc:
            for key in keys:
                asked[key] = CoverageSnapshot(active=None, rejections=[{"code": "refused", "meaning": str(exc),
                                                                        "follow_up": "check the inquiry data"}])
            return
    try:
        response = read_271(x271)
    except Unparseable271 as exc:  # not X12, no 271, nothing of 5010 (e.g. a 4010 004010X092A1 answer)
        for key in keys:
            asked[key] = unreadable_snapshot(exc.reason)
        return
    summaries, issues = list(response.summaries), response.issues
    in_answers = frozenset(w for s in summaries for w in s.warnings)
    by_trace = {s.trace_number: s for s in summaries if s.trace_number}
    for i, key in enumerate(keys):
        trace = inquiries[i].trace_number
        if trace in by_trace:
            asked[key] = snapshot_of([by_trace[trace]], issues, in_answers)
        elif len(summaries) == len(keys):
            asked[key] = snapshot_of([summaries[i]], issues, in_answers)  # no echoed trace: the payer answered in order
        else:  # payer-level rejection
            asked[key] = snapshot_of([s for s in summaries if not s.trace_number][:1], issues, in_answers)


# The cache is written optimistically, after the payer answered and without any lock held while asking:
# two replicas that miss on the same member at the same moment both ask (one spare 270, rare, since a claim's
# events land on one partition) and the later answer wins the row (ON CONFLICT DO UPDATE). Locking the cache
# row across the payer call would instead hold a transaction open for the payer's response time.
_cache_put = BulkInsert(eligibility_cache, ["tenant_id", "payer_id", "member_id", "service_date", "snapshot",
                                            "fetched_at"],
                        on_conflict="ON CONSTRAINT uq_eligibility_cache DO UPDATE SET snapshot = EXCLUDED.snapshot, "
                                    "fetched_at = EXCLUDED.fetched_at")


def member_index(tenant_id: str, member_id: str) -> str:
    """What the 271 cache stores for a member id: its blind index (rcm_runtime.phi)."""
    return phi.sealer().blind_index(member_id, tenant=tenant_id, field=MEMBER_ID_INDEX)


async def store_answers(conn: AsyncConnection, answers: Sequence[Answer | None], fetched_at: datetime) -> None:
    """Cache what the payer just answered (one statement; a member asked twice in a batch is stored once)."""
    rows = {a.cache_key: a.snapshot for a in answers if a is not None and a.cache_key is not None}
    if rows:
        await _cache_put.execute(conn, [{"tenant_id": k[0], "payer_id": k[1], "member_id": member_index(k[0], k[2]),
                                         "service_date": k[3],
                                         "snapshot": s.as_json(), "fetched_at": fetched_at} for k, s in rows.items()])


# keyed by (tenant, claim): another tenant's captured claim with the same id is its own check (and work-queue row)
_record = BulkInsert(coverage_checks, ["claim_id", "tenant_id", "payer_id", "status", "reason", "result", "work_queue",
                                       "hold_reason", "edits", "claim", "snapshot"],
                     on_conflict="(tenant_id, claim_id) DO NOTHING")


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


async def _held(conn: AsyncConnection, tenant_id: str, claim_id: uuid.UUID, *, lock: bool = False):
    stmt = select(coverage_checks).where(coverage_checks.c.tenant_id == tenant_id,
                                         coverage_checks.c.claim_id == claim_id)
    row = PHI.open(coverage_checks, (await conn.execute(stmt.with_for_update() if lock else stmt)).first())
    if row is None:
        raise NotFound("no such claim at the eligibility stage for this tenant")
    if row.status != "held":
        raise NotHeld("the claim is not held at eligibility")
    return row


def _on_demand_claim(q: CoverageQuestion) -> Claim:
    return Claim(claim_id=uuid.uuid4(), encounter_id=uuid.uuid4(), source_system="eligibility-check",
                 source_encounter_id="on-demand", service_date=q.service_date, place_of_service=q.place_of_service,
                 patient=q.patient, coverage=q.coverage, billing_provider=q.provider, diagnoses=["Z0000"],
                 lines=[ServiceLine(line_number=i, procedure_code=p, units=1, charge=0)
                        for i, p in enumerate(q.procedure_codes, start=1)], total_charge=0)


class Eligibility:
    """The eligibility use cases, with what they need besides a unit of work: the payer connection, the
    prior-auth rules, the cache policy and the clock. Each command opens and owns its unit of work."""

    def __init__(self, units: UnitsOfWork, *, payer: PayerConnection, auth_rules: AuthRuleTable, submitter_id: str,
                 cache_ttl: timedelta, concurrency: int = 8) -> None:
        self.units = units
        self.clock = units.clock
        self.payer = payer
        self.auth_rules = auth_rules
        self.submitter_id = submitter_id
        self.cache_ttl = cache_ttl
        self.concurrency = concurrency

    # -- the payer's answers: (a) short read, (b) 270/271 with no connection held -------------------------

    async def coverage_answers(self, tenant_claims: Sequence[tuple[str, Claim]], *,
                               fresh: bool = False) -> list[Answer]:
        """The 271 snapshot per claim: from the cache when fresh enough (unless `fresh`), else from the payer
        (one batch interchange per payer and up to BATCH_270 members, in parallel). Opens no transaction
        while the payer answers; the caller stores the answers (`store_answers`) in its unit of work."""
        keys = [(t, c.coverage.payer_id, c.coverage.member_id, c.service_date) if c.coverage else None
                for t, c in tenant_claims]
        wanted = list(dict.fromkeys(k for k in keys if k is not None))
        if not wanted:
            return [Answer(None, "none") for _ in keys]
        cached: dict[tuple, CoverageSnapshot] = {}
        async with self.units.read(*{tenant for tenant, *_ in wanted}) as conn:
            if not fresh:
                indexed = {(t, p, member_index(t, m), d): (t, p, m, d) for t, p, m, d in wanted}
                rows = await conn.execute(select(eligibility_cache).where(
                    tuple_(eligibility_cache.c.tenant_id, eligibility_cache.c.payer_id, eligibility_cache.c.member_id,
                           eligibility_cache.c.service_date).in_(list(indexed)),
                    eligibility_cache.c.fetched_at >= self.clock.now() - self.cache_ttl))
                cached = {indexed[(r.tenant_id, r.payer_id, r.member_id, r.service_date)]:
                          CoverageSnapshot.from_json(r.snapshot) for r in rows}
            misses = {k: c for k, (_, c) in zip(keys, tenant_claims) if k is not None and k not in cached}
            # One batch interchange per payer (up to BATCH_270 inquiries); each 270 has its own trace number
            # and its 271 is matched back on the echoed TRN02.
            by_payer: dict[str, list[tuple[tuple, Claim]]] = {}
            for key, claim in misses.items():
                by_payer.setdefault(claim.coverage.payer_id, []).append((key, claim))
            chunks = [group[i:i + BATCH_270] for group in by_payer.values() for i in range(0, len(group), BATCH_270)]
            controls = list((await conn.execute(select(inquiry_control_seq.next_value()).select_from(
                func.generate_series(1, len(chunks))))).scalars()) if chunks else []
        asked: dict[tuple, CoverageSnapshot] = {}
        unasked: set[tuple] = set()
        if chunks:  # no connection held from here on
            gate = asyncio.Semaphore(self.concurrency)
            now = self.clock.now()
            await asyncio.gather(*(_ask_chunk(self.payer, self.submitter_id, now, chunk, control, gate, asked, unasked)
                                   for chunk, control in zip(chunks, controls)))
        out = []
        for k in keys:
            if k is None:
                out.append(Answer(None, "none"))
            elif k in cached:
                out.append(Answer(cached[k], "cache"))
            elif k in unasked:
                out.append(Answer(None, "not_sent"))
            else:  # an answer that could not be read is not cached: the next check asks again
                unread = any(r.get("code") == UNREADABLE_271 for r in asked[k].rejections)
                out.append(Answer(asked[k], "payer", cache_key=None if unread else k))
        return out

    def _decide(self, claim: Claim, answer: Answer, now: datetime) -> Decision:
        return decide(claim, answer.snapshot, source=answer.source, now=now, auth_rules=self.auth_rules)

    # -- consumed events (PreparedHandlers: prepare outside the batch transaction, then apply in it) --------

    async def ask_for_captured_claims(self, deliveries: list[Delivery]) -> list[Answer]:
        return await self.coverage_answers([(d.tenant_id, d.event.claim) for d in deliveries])

    async def verify_captured_claims(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        """Each captured claim, with its prepared Answer: CoverageVerified, or EligibilityHeld (one cache write
        and one coverage_checks insert for the whole run)."""
        now = uow.now()
        await store_answers(uow.conn, [d.prepared for d in deliveries], now)
        rows = []
        for d in deliveries:
            claim, answer = d.event.claim, d.prepared
            decision = self._decide(claim, answer, now)
            rows.append(check_row(d.tenant_id, claim, decision, answer.snapshot))
            d.uow.emit(outcome_event(claim, decision, answer.snapshot), key=claim.claim_id)
        await _record.execute(uow.conn, PHI.seal_all(coverage_checks, rows))

    async def ask_for_appointments(self, deliveries: list[Delivery]) -> list[tuple[Visit, Answer | None]]:
        return await self._visits([(d.tenant_id, d.event) for d in deliveries])

    async def record_scheduled_appointments(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await self._record_visits(uow, [(d.tenant_id, d.event) for d in deliveries], [d.prepared for d in deliveries])

    async def _visits(self, items: list[tuple[str, AppointmentScheduled]]) -> list[tuple[Visit, Answer | None]]:
        if not items:
            return []
        async with self.units.read(*{tenant for tenant, _ in items}) as conn:
            visits = await registrations.visits_for(conn, items)
        answers = iter(await self.coverage_answers([(t, v.claim) for (t, _), v in zip(items, visits)
                                                    if v.claim is not None]))
        return [(v, next(answers) if v.claim is not None else None) for v in visits]

    async def _record_visits(self, uow: UnitOfWork, items: list[tuple[str, AppointmentScheduled]],
                             prepared: list[tuple[Visit, Answer | None]]) -> list[PreVisitCheck]:
        now = uow.now()
        await store_answers(uow.conn, [a for _, a in prepared], now)
        decisions = [self._decide(v.claim, a, now) if v.claim is not None else None for v, a in prepared]
        return await registrations.record_pre_visit_checks(uow.conn, items, [v for v, _ in prepared], decisions)

    # -- commands -----------------------------------------------------------------------------------------

    async def check(self, tenant_id: str, questions: Sequence[CoverageQuestion]) -> list[CheckOutcome]:
        """On-demand checks (front-desk tools): the payer's answer (cached per member, payer and date of
        service) and the decision the pipeline would take."""
        claims = [_on_demand_claim(q) for q in questions]
        answers = await self.coverage_answers([(tenant_id, c) for c in claims])
        if any(a.cache_key is not None for a in answers):
            async with self.units.begin(tenant_id=tenant_id, actor=API_ACTOR) as uow:
                await store_answers(uow.conn, answers, uow.now())
        now = self.clock.now()
        return [CheckOutcome(self._decide(c, a, now), a.snapshot) for c, a in zip(claims, answers)]

    async def schedule(self, tenant_id: str, appointment: AppointmentScheduled) -> PreVisitCheck:
        """A scheduled visit: registration rules and the payer's 271 before the date of service."""
        items = [(tenant_id, appointment)]
        prepared = await self._visits(items)
        async with self.units.begin(tenant_id=tenant_id, actor=API_ACTOR) as uow:
            [check] = await self._record_visits(uow, items, prepared)
        return check

    async def schedule_fhir(self, tenant_id: str, raw: Any, *, source_system: str) -> PreVisitCheck:
        """A FHIR R4 Appointment; raises AppointmentError (field-level errors) when it cannot be checked."""
        return await self.schedule(tenant_id, appointment_from_fhir(raw, source_system=source_system))

    async def appointments(self, tenant_id: str, *, work_queue: str | None = None, on: date | None = None,
                           limit: int = 200) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await registrations.list_appointments(conn, tenant_id, work_queue=work_queue, on=on, limit=limit)

    async def validate_registration(self, tenant_id: str, patient: PatientRegistration,
                                    coverages: list[CoverageRegistration]) -> list[RegistrationProblem]:
        async with self.units.read(tenant_id) as conn:
            rules = await registrations.rules_of(conn, tenant_id)
        return validate_registration(patient, coverages, today=self.clock.today(), rules=rules)

    @audited.phi_change("patient.register_feed", "patient")
    async def on_registrations_received(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        """Consumer handler: registrations an HL7 interface sent charges (ADT^A04/A08 over MLLP), stored as
        PUT /patients/{id} stores them; one with errors is refused (dead-lettered with its fields and codes)."""
        for d in deliveries:
            event: PatientRegistrationReceived = d.event
            await registrations.register_from_feed(d.uow.conn, tenant_id=d.tenant_id, event=event,
                                                   today=self.clock.today())

    async def register(self, tenant_id: str, patient_id: str, patient: PatientRegistration,
                       coverages: list[CoverageRegistration]) -> list[RegistrationProblem]:
        """Store the registration unless it has errors; warnings are stored with it and returned."""
        async with self.units.begin(tenant_id=tenant_id, actor=API_ACTOR) as uow:
            uow.audit_names(PHI.blind_index(patients, "patient_id", patient_id, tenant=tenant_id))
            return await registrations.register(uow.conn, tenant_id=tenant_id, patient_id=patient_id, patient=patient,
                                                coverages=coverages, today=self.clock.today())

    async def set_member_id_rule(self, tenant_id: str, actor: str, payer_id: str, *, pattern: str,
                                 description: str | None) -> None:
        try:
            registrations.check_member_id_rule(payer_id, pattern)
        except ValueError as exc:
            raise InvalidMemberIdRule(str(exc)) from None
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            await registrations.put_member_id_rule(uow.conn, tenant_id=tenant_id, payer_id=payer_id, pattern=pattern,
                                                   description=description, actor=actor)

    async def remove_member_id_rule(self, tenant_id: str, actor: str, payer_id: str) -> None:
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            if not await registrations.delete_member_id_rule(uow.conn, tenant_id=tenant_id, payer_id=payer_id):
                raise NoMemberIdRule("no member-id rule for this payer")

    async def member_id_rules(self, tenant_id: str) -> list[dict]:
        async with self.units.read(tenant_id) as conn:
            return await registrations.list_member_id_rules(conn, tenant_id)

    async def record_authorization(self, tenant_id: str, actor: str, claim_id: uuid.UUID,
                                   authorization_number: str) -> Decision:
        """The authorizations team obtained the payer's authorization: attach it and release the claim. No
        payer call: the claim's stored 271 snapshot decides again."""
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = await _held(uow.conn, tenant_id, claim_id, lock=True)
            claim = Claim.model_validate({**row.claim, "prior_authorization": authorization_number})
            return await self._redecide(uow, claim, Answer(CoverageSnapshot.from_json(row.snapshot), "cache"))

    async def recheck(self, tenant_id: str, actor: str, claim_id: uuid.UUID, member_id: str | None = None) -> Decision:
        """The front desk corrected the coverage (or the payer updated it): ask the payer again, then apply
        the answer. The held row is read, the payer asked with no transaction open, and the answer applied
        under a row lock only if the row is still held and unchanged (optimistic: two desks rechecking the
        same claim at once each ask; the later one gets 409 rather than overwriting the first)."""
        async with self.units.read(tenant_id) as conn:
            seen = await _held(conn, tenant_id, claim_id)
        claim = Claim.model_validate(seen.claim)
        if member_id:
            claim = claim.model_copy(update={"coverage": claim.coverage.model_copy(update={"member_id": member_id})})
        [answer] = await self.coverage_answers([(tenant_id, claim)], fresh=True)
        async with self.units.begin(tenant_id=tenant_id, actor=actor) as uow:
            row = await _held(uow.conn, tenant_id, claim_id, lock=True)
            if row.claim != seen.claim or row.result != seen.result:  # another recheck applied meanwhile
                raise ClaimChanged("the claim changed while the payer was asked; look at it again and retry")
            await store_answers(uow.conn, [answer], uow.now())
            return await self._redecide(uow, claim, answer)

    async def _redecide(self, uow: UnitOfWork, claim: Claim, answer: Answer) -> Decision:
        decision = self._decide(claim, answer, uow.now())
        values = check_row(uow.tenant_id, claim, decision, answer.snapshot)
        del values["claim_id"], values["tenant_id"]
        await uow.conn.execute(update(coverage_checks).where(coverage_checks.c.tenant_id == uow.tenant_id,
                                                             coverage_checks.c.claim_id == claim.claim_id)
                               .values(**PHI.seal(coverage_checks, values, tenant=uow.tenant_id)))
        uow.emit(outcome_event(claim, decision, answer.snapshot), key=claim.claim_id)
        return decision
