"""patient-billing reacts to posted payments with patient responsibility: open a balance."""

import uuid


from rcm_contracts.events import PatientBalanceOpened, PaymentPosted
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_patient_billing.db import patient_balances
from rcm_patient_billing.domain.statement import due_date

_insert = BulkInsert(patient_balances, ["statement_id", "remittance_id", "claim_id", "tenant_id", "amount_due",
                                        "due_date"], returning=["statement_id"])


async def on_payments_posted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    rows, causes = [], {}
    for d in deliveries:
        ev = d.event
        if ev.patient_responsibility <= 0:
            continue
        statement_id = uuid.uuid4()
        rows.append({"statement_id": statement_id, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                     "tenant_id": d.tenant_id, "amount_due": ev.patient_responsibility,
                     "due_date": due_date(ev.payment_date)})
        causes[statement_id] = d
    if not rows:
        return
    inserted = {r.statement_id for r in await _insert.execute(uow.conn, rows)}
    for row in rows:
        if row["statement_id"] in inserted:
            d = causes[row["statement_id"]]
            d.uow.emit(PatientBalanceOpened(claim_id=d.event.claim_id, statement_id=row["statement_id"],
                                             amount_due=row["amount_due"], due_date=row["due_date"]),
                     key=d.event.claim_id)


HANDLERS = {PaymentPosted.event_type(): on_payments_posted}
