"""Kafka topic names: one per producing service, plus the EHR intake topic."""

INTAKE_ENCOUNTERS = "rcm.intake.encounters"  # EHRs publish encounters here (documented in README)


def events_topic(service: str) -> str:
    return f"rcm.{service}.events"


CHARGES = events_topic("charges")
ELIGIBILITY = events_topic("eligibility")
CODING = events_topic("coding")
SCRUBBER = events_topic("scrubber")
SUBMISSION = events_topic("submission")
REMITTANCE = events_topic("remittance")
DENIALS = events_topic("denials")
PATIENT_BILLING = events_topic("patient_billing")

ALL = [
    INTAKE_ENCOUNTERS,
    CHARGES,
    ELIGIBILITY,
    CODING,
    SCRUBBER,
    SUBMISSION,
    REMITTANCE,
    DENIALS,
    PATIENT_BILLING,
]
PARTITIONS = 6
