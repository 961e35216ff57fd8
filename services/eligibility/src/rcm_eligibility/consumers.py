"""eligibility reacts to captured encounters: verify coverage (270/271), pass the claim on or hold it."""

from rcm_contracts.events import EncounterCaptured
from rcm_runtime.consumer import BatchContext, Delivery

from rcm_eligibility.service import Eligibility, verify_claims


def handlers(elig_of):
    """`elig_of()` gives the Eligibility dependencies once the app has started (payer client)."""

    async def on_encounters_captured(ctx: BatchContext, deliveries: list[Delivery]) -> None:
        await verify_claims(ctx.conn, elig_of(), [(d.tenant_id, d.event.claim) for d in deliveries],
                            lambda i, ev, key: ctx.emit(deliveries[i], ev, key=key))

    return {EncounterCaptured.event_type(): on_encounters_captured}
