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
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.claim import Address, Claim
from rcm_runtime.unit_of_work import UnitOfWork, UnitsOfWork
from rcm_x12.codec import X12Error, parse_interchange

from rcm_sandbox.db import outbound_files, payer_claims, received_interchanges, sandbox_control_seq
from rcm_sandbox.domain.adjudication import adjudicate
from rcm_sandbox.domain.clearinghouse import CLEARINGHOUSE_ID, answer_837
from rcm_sandbox.domain.eligibility import build_271_interchange, read_270s
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
        stmt = pg_insert(payer_claims).values([
            {"claim_id": r.claim.claim_id, "tenant_id": r.tenant_id, "payer_id": r.payer_id,
             "payer_claim_control_number": r.payer_claim_control_number, "interchange_control_number": name,
             "status": "received", "claim": r.claim.model_dump(mode="json"), "received_at": now}
            for r in answer.received])
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
        await conn.execute(insert(outbound_files), [{"submitter_id": submitter_id, "name": n, "content": c,
                                                     "created_at": now} for n, c in files])


# ---------------------------------------------------------------- payer: adjudication and 835s
def remitted(claim: Claim, pccn: str, fixtures: SandboxFixtures) -> RemittedClaim:
    rules = fixtures.payers[claim.coverage.payer_id]
    benefits = fixtures.benefits_for(claim.coverage.member_id)
    return RemittedClaim(claim, adjudicate(claim, benefits, rules, prior_authorization=claim.prior_authorization), pccn)


def era_for(remits: list[RemittedClaim], *, payer_id: str, control_number: int, now: datetime) -> str:
    billing = remits[0].claim.billing_provider
    total = sum((r.adjudication.paid for r in remits), start=type(remits[0].adjudication.paid)(0))
    method = "ACH" if total > 0 else "NON"
    payment = Payment(method, now.date(), f"EFT{control_number:09d}",
                      payer_bank=PAYER_BANK if method == "ACH" else None,
                      payee_bank=PAYEE_BANK if method == "ACH" else None)
    return build_835(remits, payer=Payer(f"Sandbox Payer {payer_id}", payer_id, "060000001", PAYER_ADDRESS,
                                         "8005550199"),
                     payee=Payee(billing.name or "BILLING PROVIDER", billing.npi, billing.tax_id),
                     payment=payment, control_number=control_number, sender_id=payer_id[:15],
                     receiver_id=CLEARINGHOUSE_ID, now=now)


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
        async with self.units.read() as conn:
            rows = (await conn.execute(select(outbound_files).order_by(outbound_files.c.id).limit(limit))).mappings().all()
        return [{"id": r["id"], "name": r["name"], "content": r["content"]} for r in rows]

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
        """Adjudicate a batch of claims received at least the adjudication delay ago; one 835 per (tenant,
        payer, billing provider). The sandbox plays the payer: the ERA is delivered inside its own
        transaction, so a delivery that fails leaves the claims to adjudicate again."""
        now = self.clock.now()
        async with self.units.begin_system() as uow:
            conn = uow.conn
            rows = (await conn.execute(
                select(payer_claims.c.claim_id, payer_claims.c.tenant_id, payer_claims.c.payer_id,
                       payer_claims.c.payer_claim_control_number, payer_claims.c.claim)
                .where(payer_claims.c.status == "received", payer_claims.c.received_at <= now - self.adjudication_delay)
                .order_by(payer_claims.c.received_at).limit(self.remit_batch_max)
                .with_for_update(skip_locked=True))).all()
            if not rows:
                return 0
            groups = defaultdict(list)
            for r in rows:
                claim = Claim.model_validate(r.claim)
                groups[(r.tenant_id, r.payer_id, claim.billing_provider.npi)].append(
                    remitted(claim, r.payer_claim_control_number, self.fixtures))
            for (tenant_id, payer_id, _), remits in groups.items():
                control_number = await conn.scalar(sandbox_control_seq.next_value())
                await self.deliver_era(tenant_id, era_for(remits, payer_id=payer_id, control_number=control_number,
                                                          now=now), payer_id)
                await conn.execute(update(payer_claims).where(
                    payer_claims.c.tenant_id == tenant_id, payer_claims.c.claim_id.in_([r.claim.claim_id for r in remits]))
                    .values(status="remitted", remitted_at=now))
            return len(rows)
