"""scrubber reacts to coded claims: clean claims go to submission, others to the review queue."""

from datetime import datetime, timezone

from sqlalchemy.dialects.postgresql import insert

from rcm_contracts.events import ClaimCoded, ClaimScrubbed
from rcm_runtime.consumer import HandlerContext

from rcm_scrubber.db import scrubbed_claims
from rcm_scrubber.domain.edits import decision, scrub


async def on_claim_coded(ctx: HandlerContext, event: ClaimCoded) -> None:
    if event.status != "coded":
        return  # waits in the coder queue; coding re-emits once fixed
    edits = scrub(event.claim, today=datetime.now(timezone.utc).date(), upstream=event.edits)
    outcome = decision(edits)
    await ctx.conn.execute(
        insert(scrubbed_claims)
        .values(claim_id=event.claim.claim_id, tenant_id=ctx.tenant_id, decision=outcome,
                edits=[e.model_dump(mode="json") for e in edits], claim=event.claim.model_dump(mode="json"))
        .on_conflict_do_nothing()
    )
    ctx.emit(ClaimScrubbed(claim=event.claim, decision=outcome, edits=edits), key=event.claim.claim_id)


HANDLERS = {ClaimCoded.event_type(): on_claim_coded}
