"""denials reacts to posted payments: record denials with their root cause and work queue."""

import uuid

from sqlalchemy.dialects.postgresql import insert

from rcm_contracts.events import DenialRecorded, PaymentPosted
from rcm_runtime.consumer import HandlerContext

from rcm_denials.db import denials
from rcm_denials.domain.root_cause import classify


async def on_payment_posted(ctx: HandlerContext, event: PaymentPosted) -> None:
    found = classify([(a.group_code, a.reason_code, a.amount) for a in event.adjustments])
    if found is None:
        return
    denial_id = uuid.uuid4()
    row = (await ctx.conn.execute(
        insert(denials)
        .values(denial_id=denial_id, remittance_id=event.remittance_id, claim_id=event.claim_id, tenant_id=ctx.tenant_id,
                payer_id=event.payer_id, category=found.category, work_queue=found.work_queue,
                reason_codes=list(found.reason_codes), denied_amount=found.denied_amount)
        .on_conflict_do_nothing()
        .returning(denials.c.denial_id)
    )).first()
    if row is None:
        return
    ctx.emit(DenialRecorded(claim_id=event.claim_id, denial_id=denial_id, payer_id=event.payer_id,
                            reason_codes=list(found.reason_codes), category=found.category,
                            work_queue=found.work_queue, denied_amount=found.denied_amount), key=event.claim_id)


HANDLERS = {PaymentPosted.event_type(): on_payment_posted}
