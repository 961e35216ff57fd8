"""coding reacts to verified coverage: run the code edits, queue what a coder must fix."""

from sqlalchemy.dialects.postgresql import insert

from rcm_contracts.events import ClaimCoded, CoverageVerified
from rcm_runtime.consumer import HandlerContext

from rcm_coding.db import coded_claims
from rcm_coding.domain.code_checks import code_edits, coding_status


async def on_coverage_verified(ctx: HandlerContext, event: CoverageVerified) -> None:
    edits = code_edits(event.claim)
    status = coding_status(edits)
    await ctx.conn.execute(
        insert(coded_claims)
        .values(claim_id=event.claim.claim_id, tenant_id=ctx.tenant_id, status=status,
                edits=[e.model_dump(mode="json") for e in edits], claim=event.claim.model_dump(mode="json"))
        .on_conflict_do_nothing()
    )
    ctx.emit(ClaimCoded(claim=event.claim, status=status, edits=edits), key=event.claim.claim_id)


HANDLERS = {CoverageVerified.event_type(): on_coverage_verified}
