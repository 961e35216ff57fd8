"""denials reacts to posted payments: record denials with their root cause and work queue."""

import uuid


from rcm_contracts.events import DenialRecorded, PaymentPosted
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_denials.db import denials
from rcm_denials.domain.root_cause import classify

_insert = BulkInsert(denials, ["denial_id", "remittance_id", "claim_id", "tenant_id", "payer_id", "category",
                               "work_queue", "reason_codes", "denied_amount"], returning=["denial_id"])


async def on_payments_posted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    rows, causes = [], {}
    for d in deliveries:
        ev = d.event
        found = classify([(a.group_code, a.reason_code, a.amount) for a in ev.adjustments])
        if found is None:
            continue
        denial_id = uuid.uuid4()
        rows.append({"denial_id": denial_id, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                     "tenant_id": d.tenant_id, "payer_id": ev.payer_id, "category": found.category,
                     "work_queue": found.work_queue, "reason_codes": list(found.reason_codes),
                     "denied_amount": found.denied_amount})
        causes[denial_id] = (d, found)
    if not rows:
        return
    inserted = {r.denial_id for r in await _insert.execute(uow.conn, rows)}  # a re-posted remittance is skipped
    for row in rows:
        if row["denial_id"] in inserted:
            d, found = causes[row["denial_id"]]
            d.uow.emit(DenialRecorded(claim_id=d.event.claim_id, denial_id=row["denial_id"], payer_id=d.event.payer_id,
                                       reason_codes=list(found.reason_codes), category=found.category,
                                       work_queue=found.work_queue, denied_amount=found.denied_amount),
                     key=d.event.claim_id)


HANDLERS = {PaymentPosted.event_type(): on_payments_posted}
