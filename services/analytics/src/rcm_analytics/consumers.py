"""analytics consumes every service's events into claim status rows and timelines."""

from rcm_contracts import topics
from rcm_contracts.events import ALL_EVENTS, DenialRuleRecommended, EncounterSubmitted, RemittanceReceived
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_analytics.service import Analytics

TOPICS = topics.CONSUMES["analytics"]  # every service's events topic (not the intake topics)


def handlers(analytics: Analytics) -> dict[str, Handler]:
    async def on_events(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await analytics.record_events(deliveries)

    # one handler object for every type: the consumer hands it a whole run of mixed events at once. Not a claim's
    # step: a whole 835 file handed to remittance (keyed by tenant; its payments come as PaymentPosted), nor a denial
    # pattern's rule recommendation (keyed by the recommendation: it is about many claims, none of them by id)
    return {model.event_type(): on_events for model in ALL_EVENTS
            if model not in (EncounterSubmitted, RemittanceReceived, DenialRuleRecommended)}
