"""patient-billing reacts to posted payments with patient responsibility: open a balance."""

import uuid

from sqlalchemy.dialects.postgresql import insert

from rcm_contracts.events import PatientBalanceOpened, PaymentPosted
from rcm_runtime.consumer import HandlerContext

from rcm_patient_billing.db import patient_balances
from rcm_patient_billing.domain.statement import due_date


async def on_payment_posted(ctx: HandlerContext, event: PaymentPosted) -> None:
    if event.patient_responsibility <= 0:
        return
    statement_id = uuid.uuid4()
    due = due_date(event.payment_date)
    row = (await ctx.conn.execute(
        insert(patient_balances)
        .values(statement_id=statement_id, remittance_id=event.remittance_id, claim_id=event.claim_id,
                tenant_id=ctx.tenant_id, amount_due=event.patient_responsibility, due_date=due)
        .on_conflict_do_nothing()
        .returning(patient_balances.c.statement_id)
    )).first()
    if row is None:
        return
    ctx.emit(PatientBalanceOpened(claim_id=event.claim_id, statement_id=statement_id,
                                  amount_due=event.patient_responsibility, due_date=due), key=event.claim_id)


HANDLERS = {PaymentPosted.event_type(): on_payment_posted}
