"""patient-billing reacts to posted and reversed payments: one balance per claim at its running patient share."""

from rcm_contracts.events import PaymentPosted, PaymentReversed
from rcm_runtime.audit import audited
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_patient_billing.service import PatientBilling


def handlers(billing: PatientBilling) -> dict[str, Handler]:
    @audited.money("balance.apply_payments", "claim")
    async def on_payments(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await billing.apply_payments(deliveries)

    # one handler object for both types: a run of mixed payments and reversals is applied in record order
    return {PaymentPosted.event_type(): on_payments, PaymentReversed.event_type(): on_payments}
