"""In-process API tests: a service's app from its own `create_app(settings)`, served through httpx's ASGI
transport, against the real PostgreSQL of the local stack, in a throwaway schema of its own.

The app's lifespan runs (composition root, startup hooks); the relay and the consumer are off, so nothing is
published: tests read the outbox rows a request wrote (`outbox_events`) to see the events it emitted.

As in a deployment, the app runs as a runtime role that does not own the tables (`RUNTIME_ROLE`, granted by
rcm_runtime.row_security.grant_runtime) and every tenant-scoped table is under row-level security, so the
tests exercise the tenant scope of every unit of work. `api.engine` is the superuser's: what a test reads or
seeds through it sees every tenant.

    async with service_api(create_app, Settings, metadata) as api:
        resp = await api.client.post("/v1/...", headers=api.headers("tenant-a"), json=...)

The app trusts a token issuer of the tests' own (an in-memory key pair; its JWKS in a temporary file, read through
the same `file://` path as the local stack's issuer): `headers(tenant, user=..., roles=...)` mints a bearer token
for that tenant, subject and roles (admin by default).
"""

from __future__ import annotations

import json
import tempfile
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, AsyncIterator, Callable, Iterable

import httpx
from fastapi import FastAPI
from sqlalchemy import MetaData, make_url, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from aiokafka import ConsumerRecord

from rcm_contracts.base import Event
from rcm_contracts.envelope import Envelope, new_envelope
from rcm_runtime.api_keys import digest
from rcm_runtime.audit_chain import install_chain
from rcm_runtime.clock import Clock
from rcm_runtime.consumer import BatchApplier, decode_record
from rcm_runtime.db import make_engine
from rcm_runtime.dev_issuer import LocalIssuer
from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.messaging import PHI as MESSAGING_PHI
from rcm_runtime.messaging import outbox
from rcm_runtime.row_security import grant_runtime, protect_tenant_tables
from tests.support.fixtures import ADMIN_URL

# The app under test trusts only this issuer and these keys (never the stack's): tokens minted per request, and
# one admin API key per tenant for tests that act as a machine client.
TEST_ISSUER = LocalIssuer.generate(issuer="urn:openrcm:test-issuer")
OPS_TENANT = "platform"  # ServiceSettings.ops_tenant: where the `operator` role counts
API_KEYS = {"key-a": "tenant-a", "key-b": "tenant-b"}

# The role apps under test run as: a login (trusted over the local socket) with no rights of its own beyond
# what each test schema grants it; never the owner of a table, never BYPASSRLS.
RUNTIME_ROLE = "rcm_app_test"
RUNTIME_URL = make_url(ADMIN_URL).set(username=RUNTIME_ROLE).render_as_string(hide_password=False)
_CREATE_RUNTIME_ROLE = text(f"""
DO $$ BEGIN
  CREATE ROLE {RUNTIME_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;  -- another test process made it first
END $$""")


async def secure_test_schema(conn) -> None:
    """What migrations and rcm_runtime.migrations do to a service schema, for one made by create_all: the audit
    trail's chain trigger, row security on its tenant-scoped tables and the runtime role's privileges."""
    await conn.execute(_CREATE_RUNTIME_ROLE)
    await conn.run_sync(install_chain)
    await conn.run_sync(protect_tenant_tables)
    await conn.run_sync(grant_runtime, RUNTIME_ROLE)


@cache
def issuer_setting() -> str:
    """RCM_AUTH_ISSUERS for the test issuer: its JWKS written once per test session."""
    directory = Path(tempfile.mkdtemp(prefix="rcm-test-issuer-"))
    (directory / "jwks.json").write_text(json.dumps(TEST_ISSUER.jwks()))
    return f"{TEST_ISSUER.issuer}={(directory / 'jwks.json').as_uri()}"


def api_keys_setting() -> str:
    return ",".join(f"sha256:{digest(key)}={tenant}:admin" for key, tenant in API_KEYS.items())


def bearer(tenant: str = "tenant-a", *, user: str = "api.tester", roles: Iterable[str] = ("admin",),
           **claims: Any) -> dict[str, str]:
    """An Authorization header with a token of the test issuer (`claims` add or override claims)."""
    return {"authorization": f"Bearer {TEST_ISSUER.token(sub=user, tenant=tenant, roles=roles, **claims)}"}


@dataclass
class ServiceApi:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    schema: str
    settings: Any

    @staticmethod
    def headers(tenant: str = "tenant-a", *, user: str = "api.tester", roles: Iterable[str] = ("admin",),
                **extra: str) -> dict[str, str]:
        """Headers acting as `user` of `tenant` with `roles` (the audit rows' actor is `user`), plus `extra`."""
        return {**bearer(tenant, user=user, roles=roles), **extra}

    @staticmethod
    def operator_headers(user: str = "olga.ops") -> dict[str, str]:
        """A platform operator's token (role operator of the operations tenant): the ops routes."""
        return bearer(OPS_TENANT, user=user, roles=("operator",))

    async def outbox_events(self, event_type_suffix: str | None = None) -> list[dict]:
        """The events written to the outbox so far (decoded envelopes), oldest first."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(outbox.c.event_type, outbox.c.tenant_id, outbox.c.payload)
                                       .order_by(outbox.c.seq))).all()
        events = [json.loads(r.payload) for r in MESSAGING_PHI.open_all(outbox, rows)]  # sealed at rest
        if event_type_suffix:
            events = [e for e in events if e["type"].rsplit(".", 2)[-2] == event_type_suffix]
        return events

    async def consume(self, *events: tuple[Event, str, uuid.UUID | str] | Envelope,
                      topic: str = "test.events") -> BatchApplier:
        """Apply consumed events (event, tenant_id, key) through the app's own handlers, exactly as its consumer
        loop would (one batch: inbox, effects and outbox rows in one transaction). Returns the applier, whose
        counters say what was applied, de-duplicated or dead-lettered. An `Envelope` (from `new_envelope`) is
        delivered as it is: pass the same one again to redeliver an event, or set its id and time."""
        rt = self.app.state.runtime
        applier = BatchApplier(rt.engine, rt.handlers, self.settings.service_name, rt.out_topic, clock=rt.clock)
        items = []
        for offset, item in enumerate(events):
            if isinstance(item, Envelope):
                env, key = item, item.partitionkey
            else:
                event, tenant_id, key = item
                env = new_envelope(event, service="test", tenant_id=tenant_id, key=str(key))
            record = ConsumerRecord(topic=topic, partition=0, offset=offset, timestamp=0, timestamp_type=0,
                                    key=str(key).encode(), value=env.to_bytes(), checksum=None,
                                    serialized_key_size=0, serialized_value_size=0, headers=())
            items.append(decode_record(record))
        await applier.apply_with_fallback(items, max_retries=1, backoff_s=0)
        return applier

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as conn:
            return (await conn.execute(text(sql), params)).scalar()


def copy_always(monkeypatch, *modules) -> int:
    """Every BulkInsert of `modules` (and the runtime's outbox and inbox) writes by COPY whatever its batch
    size, so a test's few rows take the path a large file takes (rcm_runtime.bulk). Returns how many."""
    import rcm_runtime.consumer
    import rcm_runtime.outbox
    from rcm_runtime.bulk import BulkInsert

    found = [v for m in (*modules, rcm_runtime.outbox, rcm_runtime.consumer) for v in vars(m).values()
             if isinstance(v, BulkInsert)]
    for bulk in found:
        monkeypatch.setattr(bulk, "copy_min_rows", 1)
    return len(found)


@asynccontextmanager
async def service_api(create_app: Callable[..., FastAPI], settings_cls: type, metadata: MetaData | Iterable[MetaData],
                      *, clock: Clock | None = None, **settings_overrides: Any) -> AsyncIterator[ServiceApi]:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    metadatas = [metadata] if isinstance(metadata, MetaData) else list(metadata)
    # development: the throwaway schema is reached without a password over the local socket (fixtures.py)
    settings = settings_cls(**{"env": "development", "db_schema": schema, "database_url": RUNTIME_URL,
                               "relay_enabled": False, "consumer_enabled": False, "db_pool_size": 2,
                               "auth_issuers": issuer_setting(), "api_keys": api_keys_setting(),
                               **settings_overrides})
    admin = make_engine(settings.model_copy(update={"database_url": ADMIN_URL}), pool_size=1)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        async with admin.begin() as conn:
            for md in (messaging_metadata, *metadatas):
                await conn.run_sync(md.create_all)
            await secure_test_schema(conn)
        app = create_app(settings, clock=clock)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
            async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
                yield ServiceApi(app, client, admin, schema, settings)
    finally:
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
