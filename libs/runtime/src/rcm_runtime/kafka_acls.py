"""Kafka principals and their least-privilege ACLs, derived from one table (rcm_contracts.topics.CONSUMES and
`produces`), and the two admin requests aiokafka lacks: AlterUserScramCredentials (make or change a SCRAM
principal) and CreateAcls with many bindings at once.

Principals (SCRAM-SHA-512 user names):
    rcm-broker, rcm-admin       super users (the broker itself; the stack's tooling and the tests)
    svc-<service>               one per service: READ what it consumes and its consumer group, WRITE its own
                                events topic (WRITE also covers its idempotent producer: KIP-679)
    integrator-<tenant>         one per tenant's EHR integration: WRITE its tenant's intake topic only
Everything else is denied (allow.everyone.if.no.acl.found=false)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Literal

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest_v1
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import (CompactArray, CompactBytes, CompactString, Int8, Int16, Int32, Schema,
                                     TaggedFields)

from rcm_contracts import topics
from rcm_runtime.kafka_access import ADMIN, consumer_group

BROKER = "rcm-broker"  # deploy/kafka/server.properties.template names it too
SUPER_USERS = (BROKER, ADMIN)


def service_principal(service: str) -> str:
    return f"svc-{service}"


def integrator_principal(tenant_id: str) -> str:
    topics.intake_topic(tenant_id)  # the same rules for the tenant id as its topic's
    return f"integrator-{tenant_id}"


@dataclass(frozen=True)
class Acl:
    """ALLOW `operation` on a resource to one principal, from any host."""
    principal: str
    resource: Literal["topic", "group"]
    name: str
    operation: Literal["read", "write"]
    prefixed: bool = False  # the name is a prefix (every tenant's intake topic, those made later included)


# A subscription pattern, as the topic-name prefix the broker can match (its prefixed ACLs)
PATTERN_PREFIXES = {topics.INTAKE_ENCOUNTERS.pattern: topics.INTAKE_PREFIX}


def service_acls(service: str) -> list[Acl]:
    principal = service_principal(service)
    acls = []
    for sub in topics.CONSUMES[service]:
        if isinstance(sub, str):
            acls.append(Acl(principal, "topic", sub, "read"))
        else:
            acls.append(Acl(principal, "topic", PATTERN_PREFIXES[sub.pattern], "read", prefixed=True))
    if topics.CONSUMES[service]:
        acls.append(Acl(principal, "group", consumer_group(service), "read"))
    if (out := topics.produces(service)) is not None:
        acls.append(Acl(principal, "topic", out, "write"))
    return acls


def integrator_acls(tenant_id: str) -> list[Acl]:
    return [Acl(integrator_principal(tenant_id), "topic", topics.intake_topic(tenant_id), "write")]


# ---------------------------------------------------------------- wire (Kafka protocol codes)
_RESOURCE = {"topic": 2, "group": 3}
_PATTERN = {False: 3, True: 4}  # LITERAL, PREFIXED
_OPERATION = {"read": 3, "write": 4}
_ALLOW = 3
SCRAM_SHA_512 = 2  # ScramMechanism
SCRAM_ITERATIONS = 8192  # Kafka takes 4096..16384


class _CreateAcls(Request[CreateAclsRequest_v1]):
    API_KEY = 30

    def __init__(self, acls: list[Acl]) -> None:
        self.acls = acls

    def build(self, request_struct_class: type[CreateAclsRequest_v1]) -> CreateAclsRequest_v1:
        return request_struct_class([(_RESOURCE[a.resource], a.name, _PATTERN[a.prefixed], f"User:{a.principal}", "*",
                                      _OPERATION[a.operation], _ALLOW) for a in self.acls])


class AlterUserScramCredentialsResponse_v0(Response):
    API_KEY = 51
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", CompactArray(("user", CompactString("utf-8")), ("error_code", Int16),
                                 ("error_message", CompactString("utf-8")), ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class AlterUserScramCredentialsRequest_v0(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY = 51
    API_VERSION = 0
    RESPONSE_TYPE = AlterUserScramCredentialsResponse_v0
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        ("upsertions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("iterations", Int32),
                                    ("salt", CompactBytes), ("salted_password", CompactBytes),
                                    ("tags", TaggedFields))),
        ("tags", TaggedFields),
    )


class _UpsertScram(Request[AlterUserScramCredentialsRequest_v0]):
    API_KEY = 51

    def __init__(self, credentials: dict[str, str]) -> None:
        self.credentials = credentials

    def build(self, request_struct_class):
        upserts = []
        for name, password in self.credentials.items():
            salt = os.urandom(32)  # the broker keeps only keys derived from the salted password (RFC 5802)
            salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, SCRAM_ITERATIONS)
            upserts.append((name, SCRAM_SHA_512, SCRAM_ITERATIONS, salt, salted, {}))
        return request_struct_class([], upserts, {})


class KafkaAdminError(RuntimeError):
    pass


async def upsert_scram_users(admin: AIOKafkaAdminClient, credentials: dict[str, str]) -> None:
    """Make these SCRAM-SHA-512 principals, or give them these passwords."""
    if not credentials:
        return
    response = await admin._send_request(_UpsertScram(credentials))  # noqa: SLF001 - aiokafka has no public API
    failed = [f"{user}: error {code} {message or ''}".strip() for user, code, message, _ in response.results if code]
    if failed:
        raise KafkaAdminError("SCRAM credentials not stored: " + "; ".join(failed))


async def create_acls(admin: AIOKafkaAdminClient, acls: list[Acl]) -> None:
    """Add the ACLs (an ACL that exists already is left as it is)."""
    if not acls:
        return
    response = await admin._send_request(_CreateAcls(acls))  # noqa: SLF001
    failed = [f"{acl.principal} {acl.operation} {acl.resource} {acl.name}: error {code} {message or ''}".strip()
              for acl, (code, message) in zip(acls, response.creation_responses) if code]
    if failed:
        raise KafkaAdminError("ACLs not created: " + "; ".join(failed))
