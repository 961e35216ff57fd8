"""The sandbox clearinghouse + payer: answer 837P interchanges with a 999 and a 277CA, adjudicate the
accepted claims, push 835 ERAs to remittance.

Two ways in, like real clearinghouses: an HTTP API (POST an 837, GET/DELETE the responses) and an
SFTP-style mailbox directory (the submitter drops <ISA13>.837 into to-clearinghouse; responses appear
in from-clearinghouse).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from rcm_contracts.claim import Address, Claim
from rcm_runtime.polling import poll_forever
from rcm_x12.codec import X12Error, parse_interchange

from rcm_sandbox.db import outbound_files, payer_claims, received_interchanges, sandbox_control_seq
from rcm_sandbox.domain.adjudication import adjudicate
from rcm_sandbox.domain.clearinghouse import CLEARINGHOUSE_ID, answer_837
from rcm_sandbox.domain.x12_835 import BankAccount, Payee, Payer, Payment, RemittedClaim, build_835
from rcm_sandbox.fixtures import SandboxFixtures

log = logging.getLogger("rcm.sandbox")

PAYER_ADDRESS = Address(line1="1 Sandbox Plaza", city="Hartford", state="CT", postal_code="061031234")
PAYER_BANK = BankAccount("011000015", "900000001")
PAYEE_BANK = BankAccount("021000021", "123456789")


async def receive_837(conn, fixtures: SandboxFixtures, text: str, *, name: str) -> list[tuple[str, str]]:
    """Answer one 837 interchange: (name, text) of its 999 and 277CA. A file already answered (same
    submitter and name) is answered with nothing new. Raises X12Error for text that is not X12."""
    now = datetime.now(timezone.utc)
    control_number = await conn.scalar(sandbox_control_seq.next_value())
    answer = answer_837(text, payers=set(fixtures.payers), not_enrolled_npis=set(fixtures.not_enrolled_npis),
                        control_number=control_number, now=now)
    submitter = _submitter(text)
    first = await conn.execute(pg_insert(received_interchanges).values(
        submitter_id=submitter, name=name, accepted=answer.accepted, claim_count=len(answer.received))
        .on_conflict_do_nothing().returning(received_interchanges.c.name))
    if first.first() is None:
        return []
    if answer.received:
        stmt = pg_insert(payer_claims).values([
            {"claim_id": r.claim.claim_id, "tenant_id": r.tenant_id, "payer_id": r.payer_id,
             "payer_claim_control_number": r.payer_claim_control_number, "interchange_control_number": name,
             "status": "received", "claim": r.claim.model_dump(mode="json")} for r in answer.received])
        # a replacement (7) or void (8) of a claim is adjudicated again; a plain resend is not
        await conn.execute(stmt.on_conflict_do_update(
            index_elements=[payer_claims.c.claim_id],
            set_={"claim": stmt.excluded.claim, "status": "received", "received_at": now},
            where=stmt.excluded.claim["frequency_code"].astext != "1"))
    return answer.files


def _submitter(text: str) -> str:
    return parse_interchange(text).sender_id.strip()


async def queue_responses(conn, submitter_id: str, files: list[tuple[str, str]]) -> None:
    if files:
        await conn.execute(insert(outbound_files), [{"submitter_id": submitter_id, "name": n, "content": c}
                                                     for n, c in files])


# ---------------------------------------------------------------- file drop (SFTP-style mailbox)
async def mailbox_once(rt, fixtures: SandboxFixtures, root: Path) -> int:
    """Answer the 837s waiting in <root>/to-clearinghouse; responses go to <root>/from-clearinghouse."""
    inbox, outbox, archive = root / "to-clearinghouse", root / "from-clearinghouse", root / "clearinghouse-archive"
    for d in (inbox, outbox, archive):
        d.mkdir(parents=True, exist_ok=True)
    handled = 0
    for path in sorted(p for p in inbox.iterdir() if p.is_file() and not p.name.startswith(".")):
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            async with rt.engine.begin() as conn:
                files = await receive_837(conn, fixtures, text, name=path.name)
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


async def mailbox(rt, fixtures: SandboxFixtures, root: str) -> None:
    await poll_forever(lambda: mailbox_once(rt, fixtures, Path(root)), idle_s=0.2, log=log, what="mailbox pass",
                       failure_wait_s=2.0)


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


async def remit_once(rt, fixtures: SandboxFixtures, post_era, batch_max: int, delay_s: float) -> int:
    """Adjudicate a batch of received claims; one 835 per (tenant, payer, billing provider)."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=delay_s)
    async with rt.engine.begin() as conn:
        rows = (await conn.execute(
            select(payer_claims.c.claim_id, payer_claims.c.tenant_id, payer_claims.c.payer_id,
                   payer_claims.c.payer_claim_control_number, payer_claims.c.claim)
            .where(payer_claims.c.status == "received", payer_claims.c.received_at <= cutoff)
            .order_by(payer_claims.c.received_at).limit(batch_max).with_for_update(skip_locked=True))).all()
        if not rows:
            return 0
        groups = defaultdict(list)
        for r in rows:
            claim = Claim.model_validate(r.claim)
            groups[(r.tenant_id, r.payer_id, claim.billing_provider.npi)].append(
                remitted(claim, r.payer_claim_control_number, fixtures))
        now = datetime.now(timezone.utc)
        for (tenant_id, payer_id, _), remits in groups.items():
            control_number = await conn.scalar(sandbox_control_seq.next_value())
            await post_era(tenant_id, era_for(remits, payer_id=payer_id, control_number=control_number, now=now))
            await conn.execute(update(payer_claims).where(
                payer_claims.c.claim_id.in_([r.claim.claim_id for r in remits]))
                .values(status="remitted", remitted_at=now))
        return len(rows)


async def remitter(rt, fixtures: SandboxFixtures, post_era, batch_max: int, delay_s: float) -> None:
    await poll_forever(lambda: remit_once(rt, fixtures, post_era, batch_max, delay_s), idle_s=0.1, log=log,
                       what="ERA delivery", failure_wait_s=2.0)
