"""eligibility reacts to captured encounters: verify coverage (270/271), pass the claim on or hold it."""

from rcm_contracts.events import AppointmentScheduled, EncounterCaptured
from rcm_runtime.consumer import Delivery
from rcm_runtime.unit_of_work import UnitOfWork

from rcm_eligibility.registration_service import check_appointments
from rcm_eligibility.service import Eligibility, verify_claims


def handlers(elig: Eligibility):
    """Built by the composition root once the Eligibility use cases exist (they need the payer client)."""

    async def on_encounters_captured(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await verify_claims(uow.conn, elig, [(d.tenant_id, d.event.claim) for d in deliveries],
                            lambda i, ev, key: deliveries[i].uow.emit(ev, key=key))

    async def on_appointments_scheduled(uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        await check_appointments(uow.conn, elig, [(d.tenant_id, d.event) for d in deliveries])

    return {EncounterCaptured.event_type(): on_encounters_captured,
            AppointmentScheduled.event_type(): on_appointments_scheduled}
