"""charges consumes the EHR intake topic (encounters published straight to Kafka)."""

from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.consumer import HandlerContext

from rcm_charges.service import capture_encounter


async def on_encounter_submitted(ctx: HandlerContext, event: EncounterSubmitted) -> None:
    await capture_encounter(ctx.conn, lambda ev, key: ctx.emit(ev, key=key), tenant_id=ctx.tenant_id,
                            submission=event, channel="kafka")


HANDLERS = {EncounterSubmitted.event_type(): on_encounter_submitted}
