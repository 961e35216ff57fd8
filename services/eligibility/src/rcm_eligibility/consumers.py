"""eligibility reacts to captured encounters: verify coverage (270/271), pass the claim on or hold it."""

from rcm_contracts.events import AppointmentScheduled, EncounterCaptured
from rcm_runtime.consumer import BatchContext, Delivery

from rcm_eligibility.registration_service import check_appointments
from rcm_eligibility.service import verify_claims


def handlers(elig_of):
    """`elig_of()` gives the Eligibility dependencies once the app has started (payer client)."""

    async def on_encounters_captured(ctx: BatchContext, deliveries: list[Delivery]) -> None:
        await verify_claims(ctx.conn, elig_of(), [(d.tenant_id, d.event.claim) for d in deliveries],
                            lambda i, ev, key: ctx.emit(deliveries[i], ev, key=key))

    async def on_appointments_scheduled(ctx: BatchContext, deliveries: list[Delivery]) -> None:
        await check_appointments(ctx.conn, elig_of(), [(d.tenant_id, d.event) for d in deliveries])

    return {EncounterCaptured.event_type(): on_encounters_captured,
            AppointmentScheduled.event_type(): on_appointments_scheduled}
