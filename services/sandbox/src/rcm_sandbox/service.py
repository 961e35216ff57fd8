"""The sandbox clearinghouse + payer: acknowledge interchanges, adjudicate claims, push ERAs."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from rcm_runtime.bulk import BulkInsert

from rcm_contracts.claim import Claim
from rcm_contracts.events import Adjustment
from rcm_contracts.wire import ClaimAck, ClaimRemittance, Interchange, InterchangeAck, RemittanceAdvice

from rcm_sandbox.db import payer_claims
from rcm_sandbox.domain.adjudication import adjudicate
from rcm_sandbox.fixtures import SandboxFixtures

log = logging.getLogger("rcm.sandbox")


def pccn_for(claim: Claim) -> str:
    """Payer claim control number: stable per claim, so a re-sent claim gets the same answer."""
    return "SBX" + claim.claim_id.hex[:17].upper()


_receive = BulkInsert(payer_claims, ["claim_id", "tenant_id", "payer_id", "payer_claim_control_number",
                                     "interchange_control_number", "status", "claim"])


async def receive_interchange(conn, fixtures: SandboxFixtures, interchange: Interchange) -> InterchangeAck:
    """999 + 277CA. A claim sent again (same claim id) is acknowledged again, not received twice."""
    acks, rows = [], []
    for claim in interchange.claims:
        if interchange.payer_id not in fixtures.payers:
            acks.append(ClaimAck(claim_id=claim.claim_id, accepted=False, status_code="A3:116",
                                 reason="payer not known to this clearinghouse"))
            continue
        if claim.billing_provider.npi in fixtures.not_enrolled_npis:
            # 277CA A7 (rejected for invalid information), 562 = entity's NPI; 85 = billing provider
            acks.append(ClaimAck(claim_id=claim.claim_id, accepted=False, status_code="A7:562:85",
                                 reason="billing provider NPI is not enrolled with this payer"))
            continue
        pccn = pccn_for(claim)
        rows.append({"claim_id": claim.claim_id, "tenant_id": interchange.tenant_id, "payer_id": interchange.payer_id,
                     "payer_claim_control_number": pccn,
                     "interchange_control_number": interchange.interchange_control_number,
                     "status": "received", "claim": claim.model_dump(mode="json")})
        acks.append(ClaimAck(claim_id=claim.claim_id, accepted=True, status_code="A2:20", payer_claim_control_number=pccn))
    await _receive.execute(conn, rows)
    return InterchangeAck(interchange_control_number=interchange.interchange_control_number, syntax_accepted=True, claims=acks)


def remittance_for(claim: Claim, pccn: str, fixtures: SandboxFixtures) -> ClaimRemittance:
    rules = fixtures.payers[claim.coverage.payer_id]
    benefits = fixtures.benefits_for(claim.coverage.member_id)
    adj = adjudicate(claim, benefits, rules, prior_authorization=claim.prior_authorization)
    return ClaimRemittance(
        claim_id=claim.claim_id, payer_claim_control_number=pccn, total_charge=adj.total_charge,
        allowed_amount=adj.allowed, paid_amount=adj.paid, patient_responsibility=adj.patient_responsibility,
        adjustments=[Adjustment(group_code=g, reason_code=c, amount=a) for g, c, a in adj.adjustments],
        remark_codes=list(adj.remark_codes),
    )


async def remit_once(rt, fixtures: SandboxFixtures, post_era, batch_max: int, delay_s: float) -> int:
    """Adjudicate a batch of received claims and push one ERA per (tenant, payer)."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=delay_s)
    async with rt.engine.begin() as conn:
        rows = (
            await conn.execute(
                select(payer_claims.c.claim_id, payer_claims.c.tenant_id, payer_claims.c.payer_id,
                       payer_claims.c.payer_claim_control_number, payer_claims.c.claim)
                .where(payer_claims.c.status == "received", payer_claims.c.received_at <= cutoff)
                .order_by(payer_claims.c.received_at).limit(batch_max).with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        groups = defaultdict(list)
        for r in rows:
            groups[(r.tenant_id, r.payer_id)].append(remittance_for(Claim.model_validate(r.claim), r.payer_claim_control_number, fixtures))
        today = datetime.now(timezone.utc).date()
        for (tenant_id, payer_id), remits in groups.items():
            era = RemittanceAdvice(payer_id=payer_id, payment_date=today, trace_number=f"EFT{remits[0].payer_claim_control_number[3:15]}",
                                   claims=remits)
            await post_era(tenant_id, era)  # remittance de-duplicates on payer claim control number
            await conn.execute(
                update(payer_claims).where(payer_claims.c.claim_id.in_([r.claim_id for r in remits]))
                .values(status="remitted", remitted_at=datetime.now(timezone.utc))
            )
        return len(rows)


async def remitter(rt, fixtures: SandboxFixtures, post_era, batch_max: int, delay_s: float) -> None:
    while True:
        try:
            n = await remit_once(rt, fixtures, post_era, batch_max, delay_s)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("ERA delivery failed; will retry")
            n = 0
            await asyncio.sleep(2.0)
        if n == 0:
            await asyncio.sleep(0.1)
