"""charges consumes the EHR intake topic (encounters published straight to Kafka)."""

from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.consumer import BatchContext, Delivery

from rcm_charges.service import Intake, capture_encounters


async def on_encounters_submitted(ctx: BatchContext, deliveries: list[Delivery]) -> None:
    await capture_encounters(
        ctx.conn, lambda i, ev, key: ctx.emit(deliveries[i], ev, key=key),
        [Intake(d.tenant_id, d.event, "kafka") for d in deliveries])


HANDLERS = {EncounterSubmitted.event_type(): on_encounters_submitted}
