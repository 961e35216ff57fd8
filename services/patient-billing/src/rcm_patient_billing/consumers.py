"""patient-billing reacts to posted and reversed payments (one balance per claim at its running patient share) and
to self-pay encounters from charges (one balance per claim at its itemized charges)."""

from rcm_contracts.events import PaymentPosted, PaymentReversed, SelfPayEncounterCaptured
from rcm_runtime.audit import audited
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_patient_billing.service import PatientBilling


def handlers(billing: PatientBilling) -> dict[str, Handler]:
    @audited.money("balance.apply_payments", "claim")
    async def on_payments(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await billing.apply_payments(deliveries)

    @audited.money("balance.open_self_pay", "claim")
    async def on_self_pay(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await billing.open_self_pay_balances(deliveries)

    # one handler object for both payment types: a run of mixed payments and reversals is applied in record order.
    # The other charges events (EncounterCaptured, EncounterHeld) are not patient-billing's: the consumer skips them.
    return {PaymentPosted.event_type(): on_payments, PaymentReversed.event_type(): on_payments,
            SelfPayEncounterCaptured.event_type(): on_self_pay}
