"""scrubber reacts to coded claims: clean claims go to submission, others to the review queue."""

from datetime import datetime, timezone


from rcm_contracts.events import ClaimCoded, ClaimScrubbed
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import BatchContext, Delivery

from rcm_scrubber.db import scrubbed_claims
from rcm_scrubber.domain.edits import decision, scrub

_insert = BulkInsert(scrubbed_claims, ["claim_id", "tenant_id", "decision", "edits", "claim"])


async def on_claims_coded(ctx: BatchContext, deliveries: list[Delivery]) -> None:
    today = datetime.now(timezone.utc).date()
    rows = []
    for d in deliveries:
        if d.event.status != "coded":
            continue  # waits in the coder queue; coding re-emits once fixed
        claim = d.event.claim
        edits = scrub(claim, today=today, upstream=d.event.edits)
        outcome = decision(edits)
        rows.append({"claim_id": claim.claim_id, "tenant_id": d.tenant_id, "decision": outcome,
                     "edits": [e.model_dump(mode="json") for e in edits], "claim": claim.model_dump(mode="json")})
        ctx.emit(d, ClaimScrubbed(claim=claim, decision=outcome, edits=edits), key=claim.claim_id)
    await _insert.execute(ctx.conn, rows)


HANDLERS = {ClaimCoded.event_type(): on_claims_coded}
