"""The sandbox clearinghouse + payer: answer 837P interchanges with a 999 and a 277CA, adjudicate the
accepted claims, push 835 ERAs to remittance (or, for the payers configured so, hand them to the clearinghouse,
whose outbound files the submitter polls like its 999s and 277CAs).

Two ways in, like real clearinghouses: an HTTP API (POST an 837, GET/DELETE the responses) and an
SFTP-style mailbox directory (the submitter drops <ISA13>.837 into to-clearinghouse; responses appear
in from-clearinghouse).
"""

from __future__ import annotations

import hmac
import itertools
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Numeric, bindparam, delete, func, insert, null, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.claim import Address, Claim
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork
from rcm_x12.codec import X12Error, parse_interchange

from rcm_sandbox.db import PHI, outbound_files, payer_claims, received_interchanges, sandbox_control_seq
from rcm_sandbox.domain.adjudication import ZERO, adjudicate
from rcm_sandbox.domain.checks import CheckPlan, PendingRecovery, plan_checks
from rcm_sandbox.domain.clearinghouse import CLEARINGHOUSE_ID, answer_837
from rcm_sandbox.domain.eligibility import build_271_interchange, read_270s
from rcm_sandbox.domain.replacement import REMITTED, REPROCESSED, VOIDED, settlement, status_after
from rcm_sandbox.domain.reprocessing import adjudication_from_json, adjudication_to_json, interest_owed
from rcm_sandbox.domain.secondary import adjudicate_secondary
from rcm_sandbox.domain.x12_835 import BankAccount, Payee, Payer, Payment, RemittedClaim, build_835
from rcm_sandbox.fixtures import SandboxFixtures

log = logging.getLogger("rcm.sandbox")

PAYER_ADDRESS = Address(line1="1 Sandbox Plaza", city="Hartford", state="CT", postal_code="061031234")
PAYER_BANK = BankAccount("011000015", "900000001")
PAYEE_BANK = BankAccount("021000021", "123456789")


async def receive_837(uow: UnitOfWork, fixtures: SandboxFixtures, text: str, *, name: str) -> list[tuple[str, str]]:
    """Answer one 837 interchange: (name, text) of its 999 and 277CA. A file already answered (same
    submitter and name) is answered with nothing new. Raises X12Error for text that is not X12."""
    conn, now = uow.conn, uow.now()
    control_number = await conn.scalar(sandbox_control_seq.next_value())
    answer = answer_837(text, payers=set(fixtures.payers), not_enrolled_npis=set(fixtures.not_enrolled_npis),
                        control_number=control_number, now=now)
    submitter = _submitter(text)
    first = await conn.execute(pg_insert(received_interchanges).values(
        submitter_id=submitter, name=name, accepted=answer.accepted, claim_count=len(answer.received),
        received_at=now).on_conflict_do_nothing().returning(received_interchanges.c.name))
    if first.first() is None:
        return []
    if answer.received:
        stmt = pg_insert(payer_claims).values(PHI.seal_all(payer_claims, [
            {"claim_id": r.claim.claim_id, "tenant_id": r.tenant_id, "payer_id": r.payer_id,
             "payer_claim_control_number": r.payer_claim_control_number, "interchange_control_number": name,
             "status": "received", "claim": r.claim.model_dump(mode="json"), "received_at": now}
            for r in answer.received]))
        # a replacement (7) or void (8) of a claim is adjudicated again; a plain resend is not
        await conn.execute(stmt.on_conflict_do_update(
            index_elements=[payer_claims.c.claim_id],
            set_={"claim": stmt.excluded.claim, "status": "received", "received_at": now},
            where=stmt.excluded.claim["frequency_code"].astext != "1"))
    return answer.files


def _submitter(text: str) -> str:
    return parse_interchange(text).sender_id.strip()


async def queue_responses(conn, submitter_id: str, files: list[tuple[str, str]], now: datetime) -> None:
    if files:
        await conn.execute(insert(outbound_files), PHI.seal_all(outbound_files, [
            {"submitter_id": submitter_id, "name": n, "content": c, "created_at": now} for n, c in files]))


# ---------------------------------------------------------------- payer: adjudication and 835s
def first_paid_wrongly(claim: Claim, fixtures: SandboxFixtures) -> bool:
    """A claim whose first payment the payer makes wrongly, then reprocesses: a member marked `reprocess`, paid as
    primary."""
    if claim.payer_responsibility != "P":
        return False
    benefits = fixtures.benefits_for(claim.coverage.member_id)
    return benefits is not None and benefits.reprocess


def remitted(claim: Claim, pccn: str, fixtures: SandboxFixtures, *, first_payment: bool = True) -> RemittedClaim:
    """The payer's payment of a claim: as secondary when the claim says the payer is not first (SBR01 S/T);
    a member marked `reprocess` is first paid from the payer's superseded rates (the mistake a later cycle
    corrects); a member paid late gets interest with the first payment (a correction carries none)."""
    rules = fixtures.payers[claim.coverage.payer_id]
    benefits = fixtures.benefits_for(claim.coverage.member_id)
    if claim.payer_responsibility != "P":
        adjudication = adjudicate_secondary(claim, benefits, rules)
    else:
        mistaken = first_payment and first_paid_wrongly(claim, fixtures)
        adjudication = adjudicate(claim, benefits, rules.as_first_paid() if mistaken else rules,
                                  prior_authorization=claim.prior_authorization)
    interest = ZERO
    if first_payment and benefits is not None:
        interest = interest_owed(adjudication.paid, rules.interest_rate, benefits.paid_late_days)
    return RemittedClaim(claim, adjudication, pccn, interest=interest)


def era_for(plan: CheckPlan, *, payer_id: str, fixtures: SandboxFixtures, control_number: int, now: datetime) -> str:
    billing = plan.claims[0].claim.billing_provider
    total = plan.total
    method = "ACH" if total > 0 else "NON"
    payment = Payment(method, now.date(), f"EFT{control_number:09d}",
                      payer_bank=PAYER_BANK if method == "ACH" else None,
                      payee_bank=PAYEE_BANK if method == "ACH" else None)
    rules = fixtures.payers.get(payer_id)
    return build_835(plan.claims, payer=Payer(f"Sandbox Payer {payer_id}", payer_id, rules.tax_id if rules else
                                              "060000001", PAYER_ADDRESS, "8005550199"),
                     payee=Payee(billing.name or "BILLING PROVIDER", billing.npi, billing.tax_id),
                     payment=payment, control_number=control_number, sender_id=payer_id[:15],
                     receiver_id=CLEARINGHOUSE_ID, now=now, provider_adjustments=plan.adjustments)


UNDELIVERABLE_RETRY = timedelta(seconds=30)


class CannotDeliver(RuntimeError):
    """The payer has no remittance URL, or no API key for the tenant, to push an ERA with (a deployment
    mistake); the claims stay received and the remitter retries."""


class RemittancePush:
    """How the payer delivers an 835: POST it to remittance's X12 intake as the tenant it is for."""

    def __init__(self, http, base_url: str | None, tenant_keys: dict[str, str]) -> None:
        self.http = http
        self.base_url = base_url
        self.tenant_keys = tenant_keys  # tenant -> API key

    async def __call__(self, tenant_id: str, era: str, payer_id: str) -> None:
        if self.base_url is None:
            raise CannotDeliver("no URL configured for service 'remittance' (RCM_SERVICE_URLS)")
        key = self.tenant_keys.get(tenant_id)
        if key is None:
            raise CannotDeliver("no API key for tenant")
        resp = await self.http.post(f"{self.base_url}/v1/remittances/x12", content=era.encode("utf-8"),
                                    headers={"content-type": "application/edi-x12", "x-api-key": key})
        resp.raise_for_status()


EraSink = Callable[[str, str, str], Awaitable[None]]  # (tenant_id, 835 text, payer_id)


class ClearinghouseEras:
    """How a payer that pays through the clearinghouse delivers an 835: into the submitter's outbound files, which
    submission polls (GET /v1/x12/outbound) as it does the 999s and 277CAs, as <ISA13>.835. Like the push, in a
    unit of its own before the remitter's commits: a failure after it leaves the claims to adjudicate again, and
    the second 835 posts nothing twice (remittance's payment keys)."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def __call__(self, tenant_id: str, era: str, payer_id: str) -> None:
        # the submitter's id is the tenant's (submission's ISA06 = the tenant id, 15 characters at most)
        async with self.units.begin_system() as uow:
            await queue_responses(uow.conn, tenant_id[:15], [(f"{parse_interchange(era).control_number}.835", era)],
                                  uow.now())


class EraRoute:
    """Each payer's ERAs go one way: the payers listed pay through the clearinghouse, the others push."""

    def __init__(self, push: EraSink, clearinghouse: EraSink, via_clearinghouse: frozenset[str]) -> None:
        self.push, self.clearinghouse, self.via_clearinghouse = push, clearinghouse, via_clearinghouse

    async def __call__(self, tenant_id: str, era: str, payer_id: str) -> None:
        sink = self.clearinghouse if payer_id in self.via_clearinghouse else self.push
        await sink(tenant_id, era, payer_id)


# ---------------------------------------------------------------- the use cases
class Sandbox:
    """The sandbox clearinghouse and payer, built once in the composition root with its fixtures (payer
    rules, member benefits). Each command opens and owns its unit of work; time (the 999/277CA/835 dates,
    the adjudication delay) comes from the injected clock."""

    def __init__(self, units: UnitsOfWork, fixtures: SandboxFixtures, *, clearinghouse_key: str, deliver_era: EraSink,
                 adjudication_delay: timedelta, remit_batch_max: int = 500, file_drop_root: str | Path | None = None) -> None:
        self.units = units
        self.clock = units.clock
        self.fixtures = fixtures
        self._clearinghouse_key = clearinghouse_key
        self.deliver_era = deliver_era
        self.adjudication_delay = adjudication_delay
        self.remit_batch_max = remit_batch_max
        self.file_drop_root = Path(file_drop_root) if file_drop_root else None
        self._eligibility_control_numbers = itertools.count(1)
        # tenant -> when to try again: a tenant the payer cannot deliver ERAs to (no key, no URL) sits out the
        # next cycles, so its claims do not hold up every other tenant's payments (the cycle is one transaction)
        self._undeliverable: dict[str, datetime] = {}

    def is_submitter(self, key: str | None) -> bool:
        return bool(key) and hmac.compare_digest(key, self._clearinghouse_key)

    # -------------------------------------------------------- clearinghouse over HTTP
    async def receive_interchange(self, text: str, *, name: str) -> list[str]:
        """Answer an 837 handed in over HTTP; its 999 and 277CA wait in the outbound files. Returns their
        names (none for a file already answered). Raises X12Error for text that is not X12."""
        async with self.units.begin_system() as uow:
            files = await receive_837(uow, self.fixtures, text, name=name)
            await queue_responses(uow.conn, _submitter(text), files, uow.now())
        return [n for n, _ in files]

    async def outbound(self, limit: int = 50) -> list[dict]:
        async with self.units.read_system() as conn:  # the clearinghouse's mailbox, every submitter's files
            rows = (await conn.execute(select(outbound_files).order_by(outbound_files.c.id).limit(limit))).mappings().all()
        return [{"id": r["id"], "name": r["name"], "content": r["content"]} for r in PHI.open_all(outbound_files, rows)]

    async def picked_up(self, file_id: int) -> None:
        async with self.units.begin_system() as uow:
            await uow.conn.execute(delete(outbound_files).where(outbound_files.c.id == file_id))

    # -------------------------------------------------------- payer: real-time eligibility
    def eligibility(self, text: str) -> str:
        """The 271 interchange answering every 270 of `text` (raises Bad270)."""
        answers = []
        for inquiry in read_270s(text):
            payer_id = inquiry.payer[8] if len(inquiry.payer) > 8 else ""
            answers.append((inquiry, self.fixtures.payers.get(payer_id),
                            self.fixtures.benefits_for(inquiry.member_id) if inquiry.member_id else None))
        return build_271_interchange(answers, control_number=next(self._eligibility_control_numbers),
                                     now=self.clock.now())

    # -------------------------------------------------------- file drop (SFTP-style mailbox)
    async def mailbox_once(self) -> int:
        """Answer the 837s waiting in <root>/to-clearinghouse; responses go to <root>/from-clearinghouse."""
        root = self.file_drop_root
        if root is None:
            return 0
        inbox, outbox, archive = root / "to-clearinghouse", root / "from-clearinghouse", root / "clearinghouse-archive"
        for d in (inbox, outbox, archive):
            d.mkdir(parents=True, exist_ok=True)
        handled = 0
        for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
            text = path.read_text(encoding="utf-8", errors="replace")
            try:
                async with self.units.begin_system() as uow:
                    files = await receive_837(uow, self.fixtures, text, name=path.name)
            except X12Error:
                files = []
                log.warning("file in the mailbox is not X12; archived unanswered")
            for name, content in files:
                tmp = outbox / f".{name}.tmp"
                tmp.write_text(content, encoding="utf-8")
                os.replace(tmp, outbox / name)
            os.replace(path, archive / path.name)
            handled += 1
        return handled

    # -------------------------------------------------------- payer: adjudication and 835s
    async def remit_once(self) -> int:
        """One remit cycle: adjudicate a batch of claims received at least the adjudication delay ago, reverse
        and correct the payments found wrong since an earlier cycle, and recover overpayments parked in earlier
        checks; one 835 per (tenant, payer, billing provider). The sandbox plays the payer: the ERAs are
        delivered inside its own transaction, so a delivery that fails leaves everything to do again.
        Returns the number of claim payments (reversals and corrections included) sent."""
        now = self.clock.now()
        sitting_out = sorted(t for t, until in self._undeliverable.items() if until > now)
        deliverable = payer_claims.c.tenant_id.not_in(sitting_out) if sitting_out else true()
        async with self.units.begin_system() as uow:
            conn = uow.conn
            rows = (await conn.execute(
                select(payer_claims.c.claim_id, payer_claims.c.tenant_id, payer_claims.c.payer_id,
                       payer_claims.c.payer_claim_control_number, payer_claims.c.claim, payer_claims.c.adjudication,
                       payer_claims.c.remitted_claim)
                .where(payer_claims.c.status == "received", payer_claims.c.received_at <= now - self.adjudication_delay,
                       deliverable)
                .order_by(payer_claims.c.received_at).limit(self.remit_batch_max)
                .with_for_update(skip_locked=True))).all()
            # a payment found wrong in an earlier cycle: never in the check that made it
            redo = (await conn.execute(
                select(payer_claims.c.claim_id, payer_claims.c.tenant_id, payer_claims.c.payer_id,
                       payer_claims.c.payer_claim_control_number, payer_claims.c.claim, payer_claims.c.adjudication)
                .where(payer_claims.c.reprocess_at.is_not(None), payer_claims.c.reprocess_at <= now,
                       payer_claims.c.remitted_at < now, payer_claims.c.status == "remitted", deliverable)
                .order_by(payer_claims.c.reprocess_at).limit(self.remit_batch_max)
                .with_for_update(skip_locked=True))).all()
            if not rows and not redo:
                return 0
            payments, reprocessed, unpaid_voids = [], [], []
            statuses: dict = {}  # payer claim -> its status once its reversal goes out (replaced, voided)
            for r in PHI.open_all(payer_claims, rows):
                claim = Claim.model_validate(r.claim)
                key = (r.tenant_id, r.payer_id, claim.billing_provider.npi)
                how = settlement(claim.frequency_code, remitted_before=r.adjudication is not None)
                original = None
                if how in ("replace", "void"):
                    original = _standing_payment(r)
                    if original is None:  # nothing the reversal can echo: the claim is settled anew
                        how = "pay" if how == "replace" else "void_unpaid"
                if how == "pay":
                    payments.append((key, remitted(claim, r.payer_claim_control_number, self.fixtures)))
                elif how == "void_unpaid":
                    unpaid_voids.append(claim.claim_id)
                else:
                    # the replacement's payment is not a first payment: no interest, no mistaken rates
                    anew = (remitted(claim, r.payer_claim_control_number, self.fixtures, first_payment=False)
                            if how == "replace" else None)
                    reprocessed.append((key, original, anew))
                    statuses[claim.claim_id] = status_after(how)
            for r in PHI.open_all(payer_claims, redo):
                claim = Claim.model_validate(r.claim)
                original = RemittedClaim(claim, adjudication_from_json(r.adjudication), r.payer_claim_control_number)
                reprocessed.append(((r.tenant_id, r.payer_id, claim.billing_provider.npi), original,
                                    remitted(claim, r.payer_claim_control_number, self.fixtures, first_payment=False)))
            keys = {key for key, *_ in payments + reprocessed}
            pending = await self._pending_recoveries(conn, keys, now)
            plans = plan_checks(payments, reprocessed, pending)
            for plan in plans:
                tenant_id, payer_id, _ = plan.key
                control_number = await conn.scalar(sandbox_control_seq.next_value())
                try:
                    await self.deliver_era(tenant_id, era_for(plan, payer_id=payer_id, fixtures=self.fixtures,
                                                              control_number=control_number, now=now), payer_id)
                except CannotDeliver:
                    self._undeliverable[tenant_id] = now + UNDELIVERABLE_RETRY
                    raise
            await self._record(conn, payments, plans, statuses, unpaid_voids, now)
            return sum(len(p.claims) for p in plans)

    async def _pending_recoveries(self, conn, keys: set, now: datetime) -> list[tuple[tuple, PendingRecovery]]:
        """Overpayments parked in an earlier check, for the providers this cycle pays."""
        if not keys:
            return []
        found = (await conn.execute(
            select(payer_claims.c.claim_id, payer_claims.c.tenant_id, payer_claims.c.payer_id,
                   payer_claims.c.claim["billing_provider"]["npi"].astext.label("npi"), payer_claims.c.recoupment_due)
            .where(payer_claims.c.recoupment_due.is_not(None), payer_claims.c.remitted_at < now,
                   payer_claims.c.tenant_id.in_(sorted({k[0] for k in keys})))
            .order_by(payer_claims.c.remitted_at).with_for_update(skip_locked=True))).all()
        return [((r.tenant_id, r.payer_id, r.npi), PendingRecovery(r.claim_id, r.recoupment_due))
                for r in found if (r.tenant_id, r.payer_id, r.npi) in keys]

    async def _record(self, conn, payments: list, plans: list[CheckPlan], statuses: dict, unpaid_voids: list,
                      now: datetime) -> None:
        """What the payer remembers: claims paid (every payment kept, with the claim it was made for, where a later
        reprocessing or replacement will reverse it), payments reprocessed, replaced and voided, overpayments
        parked and recovered. `statuses`: the claims settled as a replacement or void (the others reversed here
        are reprocessed)."""
        if payments:
            await conn.execute(update(payer_claims).where(payer_claims.c.claim_id == bindparam("cid")).values(
                status=REMITTED, remitted_at=now, adjudication=bindparam("adj"), remitted_claim=bindparam("paid_for"),
                reprocess_at=bindparam("redo_at")),
                [{"cid": r.claim.claim_id, "adj": adjudication_to_json(r.adjudication),
                  "paid_for": _sealed_claim(r.claim, tenant_id),
                  "redo_at": now + self.adjudication_delay if first_paid_wrongly(r.claim, self.fixtures) else None}
                 for (tenant_id, *_), r in payments])
        # what a correction or void leaves with the provider adds to what may still be due from an earlier one
        due = func.nullif(func.coalesce(payer_claims.c.recoupment_due, 0) + bindparam("due", type_=Numeric(12, 2)), 0)
        overpaid = {cid: amount for plan in plans for cid, amount in plan.overpaid.items()}
        corrected = [(plan.key[0], c) for plan in plans for c in plan.reprocessed]  # the others wait for the next cycle
        if corrected:
            await conn.execute(update(payer_claims).where(payer_claims.c.claim_id == bindparam("cid")).values(
                status=bindparam("status"), reprocess_at=None, remitted_at=now, adjudication=bindparam("adj"),
                remitted_claim=bindparam("paid_for"), recoupment_due=due),
                [{"cid": c.claim.claim_id, "status": statuses.get(c.claim.claim_id, REPROCESSED),
                  "adj": adjudication_to_json(c.adjudication), "paid_for": _sealed_claim(c.claim, tenant_id),
                  "due": overpaid.get(c.claim.claim_id, ZERO)} for tenant_id, c in corrected])
        voided = [c for plan in plans for c in plan.voided]
        if voided:  # no payment stands: a later replacement is a first payment again (SQL NULL, not JSON null)
            await conn.execute(update(payer_claims).where(payer_claims.c.claim_id == bindparam("cid")).values(
                status=VOIDED, reprocess_at=None, remitted_at=now, adjudication=null(), remitted_claim=null(),
                recoupment_due=due),
                [{"cid": c.claim.claim_id, "due": overpaid.get(c.claim.claim_id, ZERO)} for c in voided])
        if unpaid_voids:  # nothing was paid, nothing to answer
            await conn.execute(update(payer_claims).where(payer_claims.c.claim_id.in_(unpaid_voids))
                               .values(status=VOIDED, reprocess_at=None))
        recovered = {cid: amount for plan in plans for cid, amount in plan.recovered.items()}
        if recovered:
            # what the check could not take stays due for a later one
            await conn.execute(update(payer_claims).where(payer_claims.c.claim_id == bindparam("cid")).values(
                recoupment_due=func.nullif(payer_claims.c.recoupment_due - bindparam("taken"), 0),
                recouped_at=now), [{"cid": cid, "taken": amount} for cid, amount in recovered.items()])


def _standing_payment(row) -> RemittedClaim | None:
    """The payment a replacement or void reverses, with the claim it was made for (for a row remitted before that
    claim was kept, the claim as last received, when it still has the lines paid; else None)."""
    paid_for = Claim.model_validate(row.remitted_claim or row.claim)
    try:
        return RemittedClaim(paid_for, adjudication_from_json(row.adjudication), row.payer_claim_control_number)
    except ValueError:
        log.warning("a replacement or void names lines its standing payment cannot be echoed with; settled anew")
        return None


def _sealed_claim(claim: Claim, tenant_id: str) -> dict:
    return PHI.seal(payer_claims, {"remitted_claim": claim.model_dump(mode="json")}, tenant=tenant_id)["remitted_claim"]
