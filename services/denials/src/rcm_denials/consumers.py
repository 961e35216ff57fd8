"""denials reacts to posted payments (record denials with their root cause and work queue), to reversals
(void the denial of the reversed remittance) and to payments paid below the contract (underpayment items)."""

from rcm_contracts.events import PaymentPosted, PaymentReversed, PaymentUnderpaid
from rcm_runtime.audit import audited
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_denials.domain.root_cause import classify_payment
from rcm_denials.service import Denials
from rcm_denials.trends import Trends


def handlers(denials: Denials, trends: Trends) -> dict[str, Handler]:
    @audited.money("denial.record_or_recover", "claim")  # a payment closes items as recovered
    async def on_payments_posted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        found = [classify_payment(d.event) for d in deliveries]  # once per payment, for both
        await denials.record_denials(deliveries, found)
        await trends.record_payments(deliveries, found)  # every payment: the denominator of denial rates, and patterns

    async def on_payments_reversed(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await denials.void_reversed(deliveries)
        await trends.void_reversed(deliveries)

    async def on_payments_underpaid(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await denials.record_underpayments(deliveries)

    return {PaymentPosted.event_type(): on_payments_posted, PaymentReversed.event_type(): on_payments_reversed,
            PaymentUnderpaid.event_type(): on_payments_underpaid}
