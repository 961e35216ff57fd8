"""Pytest fixtures for tests that talk to the real PostgreSQL and Kafka of the local stack, and the one
`stack` fixture of the end-to-end tests (the running services). Loaded as a plugin by the root conftest.

`make test` (deploy/test.sh) starts them; run alone, these fixtures fail with a message saying so.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from rcm_runtime.db import make_engine
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.kafka_access import KafkaAccess
from tests.support.client import CA_FILE, PORTS, TENANT_A, TENANT_B, TLS, Stack, http_verify, kafka_access, url

PG_PORT = int(os.environ.get("RCM_PG_PORT", "55432"))
# Superuser over the local unix socket (trust auth) to create throwaway schemas.
ADMIN_URL = f"postgresql+asyncpg://postgres@/openrcm?host=/tmp&port={PG_PORT}"
# TCP connections to the stack's PostgreSQL take TLS as its services do (deploy/stack.sh, RCM_TLS): verified against
# the development CA, host name included. The Unix socket (ADMIN_URL) has no TLS: PostgreSQL offers none there.
DB_SSLMODE = "verify-full" if TLS else "disable"


def stack_db_settings(role: str, schema: str | None = None, **overrides) -> ServiceSettings:
    """Settings of a client connecting as one of the stack's roles over TCP (its development password is its name),
    with the stack's TLS: what deploy/stack.sh gives a service."""
    return ServiceSettings(**{"service_name": f"test-{role}", "db_schema": schema or role,
                              "database_url": f"postgresql+asyncpg://{role}:{role}@127.0.0.1:{PG_PORT}/openrcm",
                              "db_sslmode": DB_SSLMODE, "db_ca_file": str(CA_FILE) if TLS else None, **overrides})


@pytest.fixture(scope="session")
async def admin_engine() -> AsyncEngine:
    engine = create_async_engine(ADMIN_URL, pool_size=5)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"PostgreSQL of the local stack is not reachable ({type(exc).__name__}); run `make test` "
                    "or `deploy/stack.sh infra-up` first")
    yield engine
    await engine.dispose()


@pytest.fixture(scope="session")
async def kafka() -> KafkaAccess:
    """The stack's Kafka as its admin principal (a super user: creates topics, reads and writes all)."""
    from aiokafka.admin import AIOKafkaAdminClient

    try:
        access = kafka_access()
        admin = AIOKafkaAdminClient(**access.client_options(), request_timeout_ms=5000)
    except RuntimeError as exc:  # no credentials: the stack was never started here
        pytest.fail(str(exc))
    try:
        await asyncio.wait_for(admin.start(), 15)
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"Kafka of the local stack is not reachable ({type(exc).__name__}); run `make test` "
                    "or `deploy/stack.sh infra-up` first")
    finally:
        await admin.close()
    return access


@pytest.fixture
async def scratch_schema(admin_engine):
    """A throwaway schema with the messaging tables, and settings/engine bound to it."""
    from rcm_runtime.messaging import metadata

    name = f"t_{uuid.uuid4().hex[:12]}"
    async with admin_engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{name}"'))
    settings = ServiceSettings(service_name=f"test-{name}", db_schema=name, database_url=ADMIN_URL)
    engine = make_engine(settings, pool_size=5)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield settings, engine
    await engine.dispose()
    async with admin_engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))


@pytest.fixture(scope="module")
async def stack():
    """Tenant A's client of the running services, with the demo practice's provider profiles enrolled for
    tenants A and B. Fails (never skips) when a service of deploy/services.tsv is not ready."""
    not_ready = []
    async with httpx.AsyncClient(timeout=3, verify=http_verify()) as c:
        for svc in PORTS:
            try:
                (await c.get(url(svc, "/readyz"))).raise_for_status()
            except httpx.HTTPError as exc:
                not_ready.append(f"{svc} ({type(exc).__name__})")
    if not_ready:
        pytest.fail(f"services not running: {', '.join(not_ready)}; run the suite with `make test`")
    s = Stack(TENANT_A)
    await s.enroll_providers()
    b = Stack(TENANT_B)
    await b.enroll_providers()
    await b.close()
    yield s
    await s.close()


def unique_topic(prefix: str = "test") -> str:
    return f"{prefix}.{uuid.uuid4().hex[:12]}"
