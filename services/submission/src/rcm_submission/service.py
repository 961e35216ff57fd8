"""submission use cases: queue clean claims; dispatch queued claims per tenant and payer."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timezone

from sqlalchemy import bindparam, select, update

from rcm_contracts.claim import Claim
from rcm_contracts.events import ClaimAcknowledged, ClaimScrubbed, ClaimSubmitted
from rcm_contracts.wire import Interchange
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import BatchContext, Delivery

from rcm_submission.clearinghouse import ClearinghouseAdapter, ClearinghouseUnavailable
from rcm_submission.db import interchange_control_seq, submissions

log = logging.getLogger("rcm.submission")


_queue = BulkInsert(submissions, ["claim_id", "tenant_id", "payer_id", "status", "claim"])


async def on_claims_scrubbed(ctx: BatchContext, deliveries: list[Delivery]) -> None:
    rows = [
        {"claim_id": d.event.claim.claim_id, "tenant_id": d.tenant_id, "payer_id": d.event.claim.coverage.payer_id,
         "status": "queued", "claim": d.event.claim.model_dump(mode="json")}
        for d in deliveries if d.event.decision == "clean" and d.event.claim.coverage is not None
    ]
    await _queue.execute(ctx.conn, rows)


HANDLERS = {ClaimScrubbed.event_type(): on_claims_scrubbed}


_record_ack = (
    update(submissions)
    .where(submissions.c.claim_id == bindparam("b_claim_id"))
    .values(status=bindparam("b_status"), clearinghouse=bindparam("b_clearinghouse"),
            interchange_control_number=bindparam("b_icn"), submitted_at=bindparam("b_submitted_at"),
            payer_claim_control_number=bindparam("b_pccn"), ack_status_code=bindparam("b_code"),
            ack_reason=bindparam("b_reason"), first_pass_accepted=bindparam("b_first_pass"))
)


async def dispatch_once(rt, adapter: ClearinghouseAdapter, batch_max: int = 500) -> int:
    """Send one batch of queued claims. Row locks (SKIP LOCKED) let several replicas dispatch.

    The HTTP call happens inside the transaction: if the commit is lost the claims are re-sent, and the
    clearinghouse recognises them by claim id (idempotent), so nothing is billed twice.
    """
    async with rt.transaction() as tx:
        rows = (
            await tx.conn.execute(
                select(submissions.c.claim_id, submissions.c.tenant_id, submissions.c.payer_id, submissions.c.claim)
                .where(submissions.c.status == "queued")
                .order_by(submissions.c.queued_at)
                .limit(batch_max)
                .with_for_update(skip_locked=True)
            )
        ).all()
        if not rows:
            return 0
        groups: dict[tuple[str, str], list] = defaultdict(list)
        for r in rows:
            groups[(r.tenant_id, r.payer_id)].append(r)
        now = datetime.now(timezone.utc)
        for (tenant_id, payer_id), group in groups.items():
            icn = f"{await tx.conn.scalar(interchange_control_seq.next_value()):09d}"
            claims = [Claim.model_validate(r.claim) for r in group]
            ack = await adapter.submit(Interchange(tenant_id=tenant_id, interchange_control_number=icn,
                                                   payer_id=payer_id, claims=claims))
            acks = {a.claim_id: a for a in ack.claims}
            updates = []
            for claim in claims:
                a = acks.get(claim.claim_id)
                accepted = bool(ack.syntax_accepted and a and a.accepted)
                status_code = a.status_code if a else ("999-R" if not ack.syntax_accepted else "missing")
                reason = a.reason if a else ("interchange rejected (999)" if not ack.syntax_accepted else "no claim acknowledgment")
                pccn = a.payer_claim_control_number if a else None
                updates.append({"b_claim_id": claim.claim_id, "b_status": "accepted" if accepted else "rejected",
                                "b_clearinghouse": adapter.name, "b_icn": icn, "b_submitted_at": now, "b_pccn": pccn,
                                "b_code": status_code, "b_reason": reason, "b_first_pass": accepted})
                tx.emit(ClaimSubmitted(claim_id=claim.claim_id, payer_id=payer_id, clearinghouse=adapter.name,
                                       interchange_control_number=icn, total_charge=claim.total_charge,
                                       submitted_at=now), tenant_id=tenant_id, key=claim.claim_id)
                tx.emit(ClaimAcknowledged(claim_id=claim.claim_id, accepted=accepted, status_code=status_code,
                                          payer_claim_control_number=pccn, reason=reason),
                        tenant_id=tenant_id, key=claim.claim_id)
            await tx.conn.execute(_record_ack, updates)
        return len(rows)


async def dispatcher(rt, adapter_factory, idle_s: float = 0.1) -> None:
    adapter = adapter_factory(rt)
    while True:
        try:
            n = await dispatch_once(rt, adapter)
        except ClearinghouseUnavailable as exc:
            log.warning("clearinghouse unavailable; claims stay queued", extra={"reason": str(exc)})
            n = 0
            await asyncio.sleep(2.0)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("dispatch failed; claims stay queued")
            n = 0
            await asyncio.sleep(2.0)
        if n == 0:
            await asyncio.sleep(idle_s)
