"""charges consumes the EHR intake topic (encounters published straight to Kafka): event type -> use case."""

from rcm_contracts.events import EncounterSubmitted
from rcm_runtime.consumer import Handler

from rcm_charges.service import Charges


def handlers(charges: Charges) -> dict[str, Handler]:
    return {EncounterSubmitted.event_type(): charges.on_encounters_submitted}
