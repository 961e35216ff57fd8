"""Kafka topic names: one per producing service, plus one EHR intake topic per tenant; and the one table of which
service consumes what (CONSUMES), from which the services' subscriptions and the broker's ACLs are both derived
(rcm_runtime.kafka_acls), so they cannot drift apart."""

from __future__ import annotations

import re

# EHRs publish encounters (and appointments) to their tenant's own intake topic, `rcm.intake.encounters.<tenant>`:
# an integrator's Kafka principal may WRITE its tenant's topic only, so the broker binds the tenant to the sender,
# and the consumers take the tenant from the topic name (rcm_runtime.consumer dead-letters a record claiming
# another tenant). The shared topic of earlier releases, `rcm.intake.encounters`, is retired: nobody but the
# stack's administrator may write it and no service reads it (README, Kafka security).
RETIRED_SHARED_INTAKE = "rcm.intake.encounters"
INTAKE_PREFIX = RETIRED_SHARED_INTAKE + "."
# A tenant id as an intake topic's suffix: Kafka topic names allow [a-zA-Z0-9._-]; a tenant id with a dot
# would be ambiguous in a prefix ACL's world, so it is refused (and rcm_runtime.tenant_scope has its own rules).
_TENANT_IN_TOPIC = r"[A-Za-z0-9_-]{1,200}"
INTAKE_ENCOUNTERS = re.compile(re.escape(INTAKE_PREFIX) + _TENANT_IN_TOPIC)  # every tenant's intake topic


def intake_topic(tenant_id: str) -> str:
    if not re.fullmatch(_TENANT_IN_TOPIC, tenant_id):
        raise ValueError("a tenant id in a topic name is 1-200 of A-Z a-z 0-9 _ -")
    return INTAKE_PREFIX + tenant_id


def intake_tenant(topic: str) -> str | None:
    """The tenant an intake topic belongs to; None for any other topic."""
    return topic[len(INTAKE_PREFIX):] if INTAKE_ENCOUNTERS.fullmatch(topic) else None


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

# The fixed topics (the intake topics are made per tenant: deploy/kafka_admin.py).
ALL = [
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

# What each service consumes (a name, or a pattern matching many topics: every tenant's intake). Each service's
# app passes its row as consume_topics; the broker lets its principal read exactly these (rcm_runtime.kafka_acls).
# A service publishes its own events topic only (events_topic of its name, '-' as '_'), if it is in ALL.
Subscription = str | re.Pattern[str]
CONSUMES: dict[str, list[Subscription]] = {
    "charges": [INTAKE_ENCOUNTERS],
    "eligibility": [CHARGES, INTAKE_ENCOUNTERS],  # appointments from scheduling feeds, on the intake topics
    "coding": [ELIGIBILITY],
    "scrubber": [CODING, SUBMISSION, DENIALS],  # DENIALS: rule recommendations from denial patterns
    "submission": [SCRUBBER, REMITTANCE],
    "remittance": [SUBMISSION],
    "denials": [REMITTANCE],
    "patient-billing": [REMITTANCE, CHARGES],  # CHARGES: self-pay encounters, billed to the patient directly
    "analytics": list(ALL),
}  # the sandbox (the outside world's payer) speaks HTTP only: no Kafka principal


def produces(service: str) -> str | None:
    """The topic a service's outbox relay publishes to, if it publishes any."""
    topic = events_topic(service.replace("-", "_"))
    return topic if topic in ALL else None


# The largest record a topic takes (its max.message.bytes, set by deploy/kafka_admin.py; the broker's default
# is about 1 MB). rcm.submission.events carries whole 835 files (RemittanceReceived, up to submission's
# RCM_ERA_EVENT_MAX_BYTES of text, 8 MB by default); its producer compresses them (gzip) and sends records up to
# this size, and consumers fetch a record larger than their per-partition fetch size whole (Kafka KIP-74).
MAX_MESSAGE_BYTES = {SUBMISSION: 16 * 1024 * 1024}


def topic_config(name: str) -> dict[str, str]:
    """The topic-level settings a topic is created (and kept) with."""
    size = MAX_MESSAGE_BYTES.get(name)
    return {"max.message.bytes": str(size)} if size else {}
