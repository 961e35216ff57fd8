"""A FHIR R4 Appointment -> the AppointmentScheduled the pre-visit check takes (pure).

The patient is named by the practice's patient id (participant actor Patient: identifier value, or
the id of a relative reference "Patient/<id>"); the provider by an NPI identifier on the Practitioner
participant; CPT codes in serviceType say what is planned (prior-auth rules use them).
"""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.appointment import Appointment
from pydantic import ValidationError

from rcm_contracts.claim import Provider
from rcm_contracts.events import AppointmentScheduled

NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
CPT_SYSTEM = "http://www.ama-assn.org/go/cpt"


class AppointmentError(ValueError):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("FHIR Appointment rejected")
        self.errors = errors


def appointment_from_fhir(raw: Any, *, source_system: str) -> AppointmentScheduled:
    if not isinstance(raw, dict) or raw.get("resourceType") != "Appointment":
        raise AppointmentError([{"field": "resourceType", "reason": "must be 'Appointment'"}])
    try:
        appt = Appointment.model_validate(raw)
    except (ValidationError, KeyError) as exc:
        errors = exc.errors(include_input=False) if isinstance(exc, ValidationError) else []
        raise AppointmentError([{"field": "Appointment." + ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
                                for e in errors] or [{"field": "Appointment", "reason": "unreadable"}]) from None
    problems: list[dict[str, str]] = []
    if appt.status in ("cancelled", "noshow", "entered-in-error"):
        problems.append({"field": "Appointment.status", "reason": "a cancelled or no-show appointment needs no check"})
    if appt.start is None:
        problems.append({"field": "Appointment.start", "reason": "is required: the date of service"})
    patient_id, provider = None, None
    for i, part in enumerate(appt.participant or []):
        actor = part.actor
        if actor is None:
            continue
        ref = actor.reference or ""
        if ref.startswith("Patient/") or (actor.type == "Patient"):
            patient_id = (actor.identifier.value if actor.identifier and actor.identifier.value
                          else ref.split("/", 1)[1] if "/" in ref else None)
        elif ref.startswith("Practitioner/") or actor.type == "Practitioner":
            ident = actor.identifier
            if ident is not None and ident.system == NPI_SYSTEM and ident.value:
                provider = (ident.value, actor.display)
            else:
                problems.append({"field": f"Appointment.participant[{i}].actor.identifier",
                                 "reason": f"the practitioner needs an identifier with system {NPI_SYSTEM}"})
    if not patient_id:
        problems.append({"field": "Appointment.participant", "reason": "no Patient participant with an id"})
    if provider is None:
        problems.append({"field": "Appointment.participant", "reason": "no Practitioner participant with an NPI"})
    if problems:
        raise AppointmentError(problems)
    codes = [c.code for st in appt.serviceType or [] for c in st.coding or [] if c.system == CPT_SYSTEM and c.code]
    ident = next((i.value for i in appt.identifier or [] if i.value), None) or appt.id
    if not ident:
        raise AppointmentError([{"field": "Appointment.identifier", "reason": "an identifier or id is required"}])
    try:
        return AppointmentScheduled(source_system=source_system, source_appointment_id=ident, patient_id=patient_id,
                                    scheduled_date=appt.start.date(), provider=Provider(npi=provider[0], name=(provider[1] or None) and provider[1][:60]),
                                    procedure_codes=codes or ["99213"])
    except ValidationError as exc:
        raise AppointmentError([{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]}
                                for e in exc.errors(include_input=False)]) from None
