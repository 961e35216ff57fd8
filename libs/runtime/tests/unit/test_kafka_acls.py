"""The Kafka principals' ACLs come from the one table of what each service consumes and produces
(rcm_contracts.topics), intake topics are per tenant, and every client is built from a KafkaAccess."""

from __future__ import annotations

import re

import pytest

from rcm_contracts import topics
from rcm_runtime.consumer import subscription_pattern
from rcm_runtime.kafka_access import KafkaAccess
from rcm_runtime.kafka_acls import Acl, integrator_acls, service_acls
from rcm_runtime.secret_settings import problems
from rcm_runtime.settings import ServiceSettings
from tests.support.client import PORTS


def test_every_kafka_service_of_the_stack_has_a_row_and_reads_exactly_what_it_consumes():
    assert set(topics.CONSUMES) == set(PORTS) - {"sandbox"}  # the sandbox speaks HTTP only
    for service, consumed in topics.CONSUMES.items():
        acls = service_acls(service)
        reads = {(a.name, a.prefixed) for a in acls if a.operation == "read" and a.resource == "topic"}
        assert reads == {(t, False) if isinstance(t, str) else (topics.INTAKE_PREFIX, True) for t in consumed}
        writes = [a.name for a in acls if a.operation == "write"]
        assert writes == ([topics.produces(service)] if topics.produces(service) else [])
        assert {a.principal for a in acls} <= {f"svc-{service}"}
        groups = [a.name for a in acls if a.resource == "group"]
        assert groups == ([ServiceSettings(service_name=service, db_schema="x").group_id] if consumed else [])


def test_each_event_topic_has_one_writer_and_the_intake_topics_none_among_services():
    writers = {t: [s for s in topics.CONSUMES if topics.produces(s) == t] for t in topics.ALL}
    assert all(len(w) == 1 for w in writers.values()), writers
    assert not any(a.name.startswith(topics.INTAKE_PREFIX) and a.operation == "write"
                   for s in topics.CONSUMES for a in service_acls(s))


def test_an_integrator_may_write_its_own_tenants_intake_topic_only():
    assert integrator_acls("tenant-a") == [Acl("integrator-tenant-a", "topic", "rcm.intake.encounters.tenant-a",
                                               "write")]
    with pytest.raises(ValueError):
        integrator_acls("tenant.b")  # would read as another topic's name


def test_intake_topics_carry_their_tenant_and_the_retired_shared_topic_none():
    assert topics.intake_tenant(topics.intake_topic("tenant-a")) == "tenant-a"
    assert topics.intake_tenant(topics.RETIRED_SHARED_INTAKE) is None
    assert topics.intake_tenant("rcm.intake.encounters.a.b") is None
    assert topics.intake_tenant(topics.CHARGES) is None
    pattern = re.compile(subscription_pattern(topics.CONSUMES["eligibility"]))
    assert pattern.match(topics.CHARGES) and pattern.match(topics.intake_topic("new-tenant"))
    assert not pattern.match(topics.RETIRED_SHARED_INTAKE) and not pattern.match(topics.CHARGES + "x")
    assert subscription_pattern(topics.CONSUMES["coding"]) is None  # names only: subscribed by name


def test_client_options_for_sasl_ssl_and_plaintext():
    access = KafkaAccess("127.0.0.1:1", "SASL_SSL", username="svc-charges", password="p4ss")
    options = access.client_options()
    assert options["sasl_mechanism"] == "SCRAM-SHA-512" and options["sasl_plain_username"] == "svc-charges"
    assert options["ssl_context"].check_hostname and "p4ss" not in repr(access)
    assert "ssl_context" not in KafkaAccess("127.0.0.1:1").client_options()
    with pytest.raises(ValueError):
        KafkaAccess("127.0.0.1:1", "SASL_SSL", username="svc-charges").client_options()


def test_a_development_kafka_password_is_refused_outside_development():
    base = {"service_name": "charges", "db_schema": "charges", "env": "production"}
    assert "RCM_KAFKA_PASSWORD is a development default" in problems(ServiceSettings(**base, kafka_password="dev-x"))
    assert not [p for p in problems(ServiceSettings(**base, kafka_password="Zq8v3XkLm2")) if "KAFKA" in p]
