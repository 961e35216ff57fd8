"""A small client for the running stack: sending encounters three ways and waiting for outcomes.
Used by the demo, the end-to-end tests and the pipeline benchmark."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Awaitable, Callable, Generator, Iterable, TypeVar

import httpx

from rcm_runtime.dev_issuer import LocalIssuer
from rcm_runtime.kafka_access import ADMIN, KafkaAccess, stack_access
from rcm_runtime.kafka_acls import integrator_principal
from rcm_runtime.tls import client_context

ROOT = Path(__file__).resolve().parents[2]


def service_ports() -> dict[str, int]:
    ports = {}
    for line in (ROOT / "deploy" / "services.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _pkg, port, _schema = line.split("\t")
        ports[name] = int(port) + int(os.environ.get("RCM_PORT_OFFSET", "0"))  # deploy/stack.sh's offset
    return ports


PORTS = service_ports()
# deploy/stack.sh starts Kafka on RCM_KAFKA_PORT (default 19092), SASL_SSL: each client is a principal
KAFKA_BOOTSTRAP = f"127.0.0.1:{os.environ.get('RCM_KAFKA_PORT', '19092')}"
STACK_DIR = Path(os.environ.get("RCM_STACK_DIR") or ROOT / ".stack")


@cache
def kafka_access(principal: str = ADMIN) -> KafkaAccess:
    """A principal of the stack's Kafka (its password from the stack's files): rcm-admin reads and writes
    everything; integrator-<tenant> writes its tenant's intake topic only (rcm_runtime.kafka_acls)."""
    return stack_access(principal, bootstrap=KAFKA_BOOTSTRAP)
# deploy/stack.sh writes the development token issuer's key here on infra-up (RCM_AUTH_ISSUERS trusts its JWKS)
AUTH_DIR = Path(os.environ.get("RCM_DEV_ISSUER_DIR") or STACK_DIR / "auth")
# deploy/stack.sh serves HTTPS with certificates of its development CA unless RCM_TLS=0 (the same switch, the same
# default): the clients verify the services with that CA.
TLS = os.environ.get("RCM_TLS", "1") != "0"
SCHEME = "https" if TLS else "http"
CA_FILE = Path(os.environ.get("RCM_TLS_CA_FILE") or STACK_DIR / "tls" / "ca.pem")


@cache
def http_verify():
    """httpx's `verify` for the stack's services: the stack's CA (read once, when the first client is made)."""
    return client_context(str(CA_FILE)) if TLS else True
# Client side only: a request header naming who acts; the client's auth turns it into the token's subject and
# never sends it (the services take the actor from the token alone).
ACT_AS = "x-rcm-test-act-as"


def acting_as(subject: str) -> dict[str, str]:
    """Headers for one request made by `subject` (a person of the client's tenant), e.g. for audited changes."""
    return {ACT_AS: subject}


@cache
def stack_issuer() -> LocalIssuer:
    try:
        return LocalIssuer.load(AUTH_DIR)
    except FileNotFoundError:
        raise RuntimeError(f"no development token issuer in {AUTH_DIR}: run deploy/stack.sh infra-up") from None


@dataclass(frozen=True)
class Principal:
    """Who a client of the running stack acts as: tokens of the stack's development issuer for this tenant."""

    tenant_id: str
    subject: str = "e2e.admin"
    roles: tuple[str, ...] = ("admin",)

    def token(self, subject: str | None = None, ttl_s: float = 3600.0) -> str:
        return stack_issuer().token(sub=subject or self.subject, tenant=self.tenant_id, roles=self.roles, ttl_s=ttl_s)

    def headers(self, subject: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(subject)}"}


TENANT_A = Principal("tenant-a")
TENANT_B = Principal("tenant-b")
# A platform operator (the ops routes: dead letters, acknowledgment files), of the operations tenant
# (RCM_OPS_TENANT, "platform" by default).
OPERATOR = Principal("platform", "ops.oncall", ("operator",))


@dataclass
class BearerAuth(httpx.Auth):
    """Adds the principal's token to every request (one per subject, renewed before it expires), unless the
    request carries credentials of its own (a test sending a foreign or a bad one)."""

    principal: Principal
    ttl_s: float = 3600.0
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        subject = request.headers.pop(ACT_AS, None) or self.principal.subject
        if "authorization" not in request.headers and "x-api-key" not in request.headers:
            token, expires = self._tokens.get(subject, ("", 0.0))
            if time.monotonic() > expires:
                token = self.principal.token(subject, self.ttl_s)
                self._tokens[subject] = (token, time.monotonic() + self.ttl_s / 2)
            request.headers["authorization"] = f"Bearer {token}"
        yield request


T = TypeVar("T")


async def eventually(read: Callable[[], Awaitable[T]], until: Callable[[T], bool], what: str,
                     timeout_s: float = 30.0, poll_s: float = 0.25) -> T:
    """Read until `until(value)` holds; fails after `timeout_s` naming `what` and the last value read."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = await read()
        if until(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout_s:.0f}s; last read {value!r}")
        await asyncio.sleep(poll_s)


def url(service: str, path: str = "") -> str:
    return f"{SCHEME}://127.0.0.1:{PORTS[service]}{path}"


class Stack:
    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self.tenant_id = principal.tenant_id
        self.http = httpx.AsyncClient(timeout=60, auth=BearerAuth(principal), limits=httpx.Limits(max_connections=32),
                                      verify=http_verify())
        self._producers: dict[str, Any] = {}  # principal -> its producer

    async def close(self) -> None:
        await self.http.aclose()
        for producer in self._producers.values():
            await producer.stop()

    async def enroll_providers(self) -> None:
        """The demo practice's provider profiles (tax id, ZIP+4 address, taxonomy) for this tenant."""
        from tests.support.encounters import PROVIDER_PROFILES

        for profile in PROVIDER_PROFILES:
            r = await self.http.put(url("charges", f"/v1/provider-profiles/{profile['npi']}"), json=profile,
                                    headers=acting_as("enrollment"))
            r.raise_for_status()

    async def post_json(self, body: dict[str, Any]) -> httpx.Response:
        return await self.http.post(url("charges", "/v1/encounters"), json=body)

    async def post_fhir(self, bundle: dict[str, Any], source_system: str) -> httpx.Response:
        return await self.http.post(url("charges", "/v1/encounters/fhir"), json=bundle,
                                    params={"source_system": source_system})

    async def publish_intake(self, records: Iterable[tuple[bytes, bytes, list]]) -> int:
        """Records on this tenant's intake topic, sent as an EHR would: as the tenant's integrator principal."""
        from rcm_contracts import topics

        return await self.publish(topics.intake_topic(self.tenant_id), records,
                                  principal=integrator_principal(self.tenant_id))

    async def publish(self, topic: str, records: Iterable[tuple[bytes, bytes, list]], *,
                      principal: str = ADMIN) -> int:
        """(key, value, headers) records on a topic of the stack's Kafka, acknowledged by the broker."""
        from aiokafka import AIOKafkaProducer

        if principal not in self._producers:
            producer = AIOKafkaProducer(**kafka_access(principal).client_options(), enable_idempotence=True,
                                        linger_ms=10)
            await producer.start()
            self._producers[principal] = producer
        producer = self._producers[principal]
        futures = [await producer.send(topic, key=k, value=v, headers=h) for k, v, h in records]
        await asyncio.gather(*futures)
        return len(futures)

    async def get(self, service: str, path: str, **params) -> Any:
        resp = await self.http.get(url(service, path), params=params)
        resp.raise_for_status()
        return resp.json()

    async def claims(self, source_system: str) -> list[dict[str, Any]]:
        items, offset = [], 0
        while True:
            page = await self.get("analytics", "/v1/claims", source_system=source_system, limit=5000, offset=offset)
            items += page["items"]
            if page["count"] < 5000:
                return items
            offset += 5000

    async def wait_settled(self, source_system: str, expected: int, timeout_s: float, on_progress=None,
                           poll_s: float = 1.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            p = await self.get("analytics", "/v1/pipeline", source_system=source_system)
            if on_progress:
                on_progress(p)
            settled = p["claims"] - p["in_flight"]
            if p["claims"] >= expected and settled >= expected:
                return p
            if time.monotonic() > deadline:
                raise TimeoutError(f"{settled}/{expected} claims settled after {timeout_s}s: {p}")
            await asyncio.sleep(poll_s)
