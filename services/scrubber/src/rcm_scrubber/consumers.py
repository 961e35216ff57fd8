"""scrubber reacts to coded claims (clean ones go to submission, others to the review queue), to claims
submission returns (an 837P that cannot be made valid, a 999/277CA rejection), to denial patterns denials
recommends as rules (proposals) and to claims denial work sends again (a corrected claim, a rebill). Other denials
events are not handled (acknowledged and skipped)."""

from rcm_contracts.events import ClaimCoded, ClaimResubmissionRequested, ClaimReturned, DenialRuleRecommended
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

    async def on_resubmissions_requested(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await scrubber.resubmit(deliveries)  # a corrected claim or a rebill, scrubbed and sent on when clean

    return {ClaimCoded.event_type(): on_claims_coded, ClaimReturned.event_type(): on_claims_returned,
            DenialRuleRecommended.event_type(): on_rules_recommended,
            ClaimResubmissionRequested.event_type(): on_resubmissions_requested}
