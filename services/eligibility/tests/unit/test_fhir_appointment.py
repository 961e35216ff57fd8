from datetime import date

import pytest

from rcm_eligibility.domain.fhir_appointment import AppointmentError, appointment_from_fhir

APPT = {
    "resourceType": "Appointment", "id": "a1", "status": "booked",
    "identifier": [{"system": "urn:sched", "value": "APPT-9"}],
    "start": "2026-09-15T09:00:00-04:00", "end": "2026-09-15T09:20:00-04:00",
    "serviceType": [{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "72148"}]}],
    "participant": [
        {"actor": {"reference": "Patient/MRN-77", "display": "Pat Example"}, "status": "accepted"},
        {"actor": {"type": "Practitioner", "identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"},
                   "display": "Dr Demo"}, "status": "accepted"},
    ],
}


def test_appointment_maps_to_the_pre_visit_check():
    event = appointment_from_fhir(APPT, source_system="ehr")
    assert (event.source_appointment_id, event.patient_id, event.scheduled_date) == ("APPT-9", "MRN-77", date(2026, 9, 15))
    assert event.provider.npi == "1234567893" and event.procedure_codes == ["72148"]


def test_missing_npi_and_start_are_named():
    bad = {**APPT, "start": None, "participant": [APPT["participant"][0], {"actor": {"type": "Practitioner"}, "status": "accepted"}]}
    with pytest.raises(AppointmentError) as caught:
        appointment_from_fhir(bad, source_system="ehr")
    fields = {e["field"] for e in caught.value.errors}
    assert "Appointment.start" in fields and "Appointment.participant[1].actor.identifier" in fields
    assert "Pat Example" not in str(caught.value.errors)


def test_invalid_resource_is_rejected_with_field_reasons():
    with pytest.raises(AppointmentError) as caught:
        appointment_from_fhir({**APPT, "status": 42}, source_system="ehr")
    assert caught.value.errors[0]["field"].startswith("Appointment")
    with pytest.raises(AppointmentError):
        appointment_from_fhir({"resourceType": "Patient"}, source_system="ehr")
