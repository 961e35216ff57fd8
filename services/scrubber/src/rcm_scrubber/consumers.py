"""scrubber reacts to coded claims (clean ones go to submission, others to the review queue) and to
claims submission returns (an 837P that cannot be made valid, a 999/277CA rejection), and to denial patterns
denials recommends as rules (proposals). Other denials events are not handled (acknowledged and skipped)."""

from rcm_contracts.events import ClaimCoded, ClaimReturned, DenialRuleRecommended
from rcm_runtime.consumer import Delivery, Handler
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_scrubber.proposals import Proposals
from rcm_scrubber.service import Scrubber


def handlers(scrubber: Scrubber, proposals: Proposals) -> dict[str, Handler]:
    async def on_claims_coded(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await scrubber.accept_coded(deliveries)

    async def on_claims_returned(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await scrubber.take_back(deliveries)

    async def on_rules_recommended(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await proposals.accept(deliveries)  # a proposed custom rule, waiting for a person

    return {ClaimCoded.event_type(): on_claims_coded, ClaimReturned.event_type(): on_claims_returned,
            DenialRuleRecommended.event_type(): on_rules_recommended}
