"""patient-billing use cases: open a patient balance for each posted payment that leaves the patient
something to pay (once per remittance), with its PatientBalanceOpened event."""

from __future__ import annotations

import uuid
from typing import Sequence

from rcm_contracts.events import PatientBalanceOpened, PaymentPosted
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitsOfWork

from rcm_patient_billing.db import patient_balances
from rcm_patient_billing.domain.statement import due_date

_insert = BulkInsert(patient_balances, ["statement_id", "remittance_id", "claim_id", "tenant_id", "amount_due",
                                        "due_date"], on_conflict="(tenant_id, remittance_id) DO NOTHING",
                     returning=["statement_id"])


class PatientBilling:
    """patient-billing's use cases, built once in the composition root."""

    def __init__(self, units: UnitsOfWork) -> None:
        self.units = units

    async def open_balances(self, payments: Sequence[Delivery]) -> int:
        """Posted payments (each with its unit of work, bound to the payment's tenant; all share one
        connection): one multi-row insert for those with patient responsibility; a remittance already billed
        opens nothing new. Returns how many balances were opened."""
        rows, causes = [], {}
        for p in payments:
            ev: PaymentPosted = p.event
            if ev.patient_responsibility <= 0:
                continue
            statement_id = uuid.uuid4()
            rows.append({"statement_id": statement_id, "remittance_id": ev.remittance_id, "claim_id": ev.claim_id,
                         "tenant_id": p.uow.tenant_id, "amount_due": ev.patient_responsibility,
                         "due_date": due_date(ev.payment_date)})
            causes[statement_id] = p
        if not rows:
            return 0
        inserted = {r.statement_id for r in await _insert.execute(payments[0].uow.conn, rows)}
        for row in rows:
            if row["statement_id"] in inserted:
                p = causes[row["statement_id"]]
                p.uow.emit(PatientBalanceOpened(claim_id=p.event.claim_id, statement_id=row["statement_id"],
                                                amount_due=row["amount_due"], due_date=row["due_date"]),
                           key=p.event.claim_id)
        return len(inserted)
