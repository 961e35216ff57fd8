"""eligibility reacts to captured encounters (verify coverage with a 270/271, pass the claim on or hold it) and
to scheduled appointments (pre-visit checks). Both need the payer's answer, so both are PreparedHandlers: the
payer is asked before the batch transaction opens, and the answers are applied inside it."""

from rcm_contracts.events import AppointmentScheduled, EncounterCaptured, PatientRegistrationReceived
from rcm_runtime.consumer import Handler, PreparedHandler

from rcm_eligibility.service import Eligibility


def handlers(elig: Eligibility) -> dict[str, Handler]:
    """Built by the composition root once the Eligibility use cases exist (they need the payer client)."""
    return {EncounterCaptured.event_type(): PreparedHandler(elig.ask_for_captured_claims, elig.verify_captured_claims),
            AppointmentScheduled.event_type(): PreparedHandler(elig.ask_for_appointments,
                                                               elig.record_scheduled_appointments),
            # registrations from charges' HL7 v2 interface (ADT^A04/A08 over MLLP)
            PatientRegistrationReceived.event_type(): elig.on_registrations_received}
