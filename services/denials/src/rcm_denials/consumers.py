"""denials reacts to posted payments (record denials with their root cause and work queue) and to reversals
(void the denial of the reversed remittance)."""

from rcm_contracts.events import PaymentPosted, PaymentReversed
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_denials.service import Denials


def handlers(denials: Denials) -> dict[str, Handler]:
    async def on_payments_posted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await denials.record_denials(deliveries)

    async def on_payments_reversed(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await denials.void_reversed(deliveries)

    return {PaymentPosted.event_type(): on_payments_posted, PaymentReversed.event_type(): on_payments_reversed}
