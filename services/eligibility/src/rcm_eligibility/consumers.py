"""eligibility reacts to captured encounters: verify coverage, pass the claim on."""

from datetime import datetime, timezone

from sqlalchemy.dialects.postgresql import insert

from rcm_contracts.events import CoverageVerified, EncounterCaptured
from rcm_runtime.consumer import HandlerContext

from rcm_eligibility.db import coverage_checks
from rcm_eligibility.domain.coverage import determine_coverage


async def on_encounter_captured(ctx: HandlerContext, event: EncounterCaptured) -> None:
    result = determine_coverage(event.claim, now=datetime.now(timezone.utc))
    await ctx.conn.execute(
        insert(coverage_checks)
        .values(claim_id=event.claim.claim_id, tenant_id=ctx.tenant_id, payer_id=result.payer_id,
                status=result.status, reason=result.reason, result=result.model_dump(mode="json"))
        .on_conflict_do_nothing()
    )
    ctx.emit(CoverageVerified(claim=event.claim, eligibility=result), key=event.claim.claim_id)


HANDLERS = {EncounterCaptured.event_type(): on_encounter_captured}
