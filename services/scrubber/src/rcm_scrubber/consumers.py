"""scrubber reacts to coded claims (clean ones go to submission, others to the review queue) and to
claims submission returns (an 837P that cannot be made valid, a 999/277CA rejection)."""

from rcm_contracts.events import ClaimCoded, ClaimReturned
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_scrubber.service import accept_coded, take_back


async def on_claims_coded(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    ready = [d for d in deliveries if d.event.status == "coded"]  # needs_coder: coding re-emits once fixed
    await accept_coded(uow.conn, lambda i: (lambda ev, key: ready[i].uow.emit(ev, key=key)),
                       [(d.tenant_id, d.event.claim, list(d.event.edits)) for d in ready])


async def on_claims_returned(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
    await take_back(uow.conn, [(d.tenant_id, d.event.claim_id, d.event.stage, list(d.event.findings))
                               for d in deliveries])


HANDLERS = {ClaimCoded.event_type(): on_claims_coded, ClaimReturned.event_type(): on_claims_returned}
