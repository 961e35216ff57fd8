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

# The largest record a topic takes (its max.message.bytes, set by deploy/kafka_admin.py; the broker's default
# is about 1 MB). rcm.submission.events carries whole 835 files (RemittanceReceived, up to submission's
# RCM_ERA_EVENT_MAX_BYTES of text, 8 MB by default); its producer compresses them (gzip) and sends records up to
# this size, and consumers fetch a record larger than their per-partition fetch size whole (Kafka KIP-74).
MAX_MESSAGE_BYTES = {SUBMISSION: 16 * 1024 * 1024}


def topic_config(name: str) -> dict[str, str]:
    """The topic-level settings a topic is created (and kept) with."""
    size = MAX_MESSAGE_BYTES.get(name)
    return {"max.message.bytes": str(size)} if size else {}
