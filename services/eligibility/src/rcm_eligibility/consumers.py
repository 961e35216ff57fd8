"""eligibility reacts to captured encounters: verify coverage, pass the claim on."""

from datetime import datetime, timezone


from rcm_contracts.events import CoverageVerified, EncounterCaptured
from rcm_runtime.bulk import BulkInsert
from rcm_runtime.consumer import BatchContext, Delivery

from rcm_eligibility.db import coverage_checks
from rcm_eligibility.domain.coverage import determine_coverage

_insert = BulkInsert(coverage_checks, ["claim_id", "tenant_id", "payer_id", "status", "reason", "result"])


async def on_encounters_captured(ctx: BatchContext, deliveries: list[Delivery]) -> None:
    now = datetime.now(timezone.utc)
    rows = []
    for d in deliveries:
        claim = d.event.claim
        result = determine_coverage(claim, now=now)
        rows.append({"claim_id": claim.claim_id, "tenant_id": d.tenant_id, "payer_id": result.payer_id,
                     "status": result.status, "reason": result.reason, "result": result.model_dump(mode="json")})
        ctx.emit(d, CoverageVerified(claim=claim, eligibility=result), key=claim.claim_id)
    await _insert.execute(ctx.conn, rows)


HANDLERS = {EncounterCaptured.event_type(): on_encounters_captured}
