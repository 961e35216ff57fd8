"""patient-billing reacts to posted payments with patient responsibility: open a balance."""

from rcm_contracts.events import PaymentPosted
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_patient_billing.service import PatientBilling


def handlers(billing: PatientBilling) -> dict[str, Handler]:
    async def on_payments_posted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await billing.open_balances(deliveries)

    return {PaymentPosted.event_type(): on_payments_posted}
