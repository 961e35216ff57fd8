"""denials reacts to posted payments (denials with their root cause and work queue) and to payments paid below
the contract (underpayment items)."""

from rcm_contracts.events import PaymentPosted, PaymentUnderpaid
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_denials.service import Denials


def handlers(denials: Denials) -> dict[str, Handler]:
    async def on_payments_posted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await denials.record_denials(deliveries)

    async def on_payments_underpaid(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await denials.record_underpayments(deliveries)

    return {PaymentPosted.event_type(): on_payments_posted, PaymentUnderpaid.event_type(): on_payments_underpaid}
