"""charges consumes the EHR intake topic (encounters published straight to Kafka)."""

from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.consumer import BatchContext, Delivery

from datetime import timedelta

from rcm_charges.service import Intake, capture_encounters, release_due


def handlers(charge_lag: timedelta):
    async def on_encounters_submitted(ctx: BatchContext, deliveries: list[Delivery]) -> None:
        await capture_encounters(
            ctx.conn, lambda i, ev, key: ctx.emit(deliveries[i], ev, key=key),
            [Intake(d.tenant_id, d.event, "kafka") for d in deliveries], charge_lag=charge_lag)

    return {EncounterSubmitted.event_type(): on_encounters_submitted}


async def release_loop(rt, idle_s: float = 1.0) -> None:
    """Releases encounters whose charge-lag window has passed."""
    import asyncio
    import logging

    log = logging.getLogger("rcm.charges")
    while True:
        try:
            async with rt.transaction() as tx:
                n = await release_due(tx.conn, lambda tenant_id, ev, key: tx.emit(ev, tenant_id=tenant_id, key=key))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("charge-lag release failed; will retry")
            n = 0
        if n == 0:
            await asyncio.sleep(idle_s)
