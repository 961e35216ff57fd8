"""charges consumes the EHR intake topic (encounters published straight to Kafka)."""

import logging
from datetime import timedelta

from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork
from rcm_runtime.polling import poll_forever

from rcm_charges.service import Intake, capture_encounters, release_due


def handlers(charge_lag: timedelta):
    async def on_encounters_submitted(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await capture_encounters(
            uow.conn, lambda i, ev, key: deliveries[i].uow.emit(ev, key=key),
            [Intake(d.tenant_id, d.event, "kafka") for d in deliveries], charge_lag=charge_lag)

    return {EncounterSubmitted.event_type(): on_encounters_submitted}


async def release_loop(rt, idle_s: float = 1.0) -> None:
    """Releases encounters whose charge-lag window has passed."""
    async def release_once() -> int:
        async with rt.transaction() as tx:
            return await release_due(tx.conn, lambda tenant_id, ev, key: tx.emit(ev, tenant_id=tenant_id, key=key))

    await poll_forever(release_once, idle_s=idle_s, log=logging.getLogger("rcm.charges"), what="charge-lag release")
