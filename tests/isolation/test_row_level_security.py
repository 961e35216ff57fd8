"""Tenant isolation below the API, for every service: its real migrations run as its owner role into a schema
made by deploy/postgres/service_schema.sql, then the checks run as its runtime role through the runtime's own
units of work (rcm_runtime.unit_of_work), on rows of two tenants seeded in every tenant-scoped table.

- every table with a tenant_id column has row-level security enabled AND forced, with a policy;
- the runtime role owns nothing, cannot bypass row security and is no member of the owner;
- a query with no tenant filter, in a unit of work of tenant A, returns none of tenant B's rows; an INSERT of a
  tenant-B row or an UPDATE moving a row to tenant B fails; without a scope a transaction sees nothing;
- audit tables (the `*_audit` tables and the shared `audit_log`) take INSERT and SELECT from the runtime role, never
  UPDATE, DELETE or TRUNCATE; the audit chain heads (`audit_chain`) only SELECT.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from rcm_runtime.db import make_engine
from rcm_runtime.failures import sqlstate_of
from rcm_runtime.row_security import READ_ONLY_TABLES, is_append_only
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.unit_of_work import UnitsOfWork
from tests.support.fixtures import ADMIN_URL, PG_PORT

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SERVICES = [line.split()[:4] for line in (ROOT / "deploy/services.tsv").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
A, B = "tenant-a", "tenant-b"
INSUFFICIENT_PRIVILEGE = "42501"  # also "new row violates row-level security policy"
AUDITED = {"charges", "coding", "scrubber", "submission", "remittance"}  # the services keeping *_audit tables


def _url(role: str) -> str:
    return make_url(ADMIN_URL).set(username=role).render_as_string(hide_password=False)


def _psql(*args: str) -> None:
    subprocess.run(["psql", "-h", "/tmp", "-p", str(PG_PORT), "-U", "postgres", "-d", "openrcm", "-v",
                    "ON_ERROR_STOP=1", "-q", *args], check=True, capture_output=True, text=True,
                   env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})


def _migrate(name: str, schema: str, *, to: str = "head", as_owner: bool = True, command: str = "upgrade") -> None:
    """The service's Alembic migrations as `rcm_runtime.serve --migrate` runs them in the stack: as the owner role
    (or, `as_owner=False`, as the runtime role alone, the layout before the two roles); `command="downgrade"` back
    to `to`."""
    env = {**os.environ, "RCM_SERVICE_NAME": name, "RCM_DB_SCHEMA": schema, "RCM_DATABASE_URL": _url(schema)}
    env.pop("RCM_MIGRATION_DATABASE_URL", None)
    if as_owner:
        env["RCM_MIGRATION_DATABASE_URL"] = _url(f"{schema}_owner")
    run = ("from alembic import command; from alembic.config import Config; "
           f"command.{command}(Config('alembic.ini'), {to!r})")
    done = subprocess.run([sys.executable, "-c", run], cwd=ROOT / "services" / name, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


async def _drop(admin_engine: AsyncEngine, schema: str) -> None:
    async with admin_engine.begin() as conn:
        await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        for role in (schema, f"{schema}_owner"):
            if (await conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})).first():
                await conn.execute(text(f'DROP OWNED BY "{role}"'))
                await conn.execute(text(f'DROP ROLE "{role}"'))


@pytest.fixture(scope="module", params=SERVICES, ids=[s[0] for s in SERVICES])
async def service(request, admin_engine: AsyncEngine):
    """(name, schema, runtime units of work) of one service, migrated into a throwaway schema whose runtime and
    owner roles service_schema.sql made; rows of tenants A and B seeded in each tenant-scoped table."""
    name = request.param[0]
    schema = f"t_rls_{uuid.uuid4().hex[:10]}"
    _psql("-v", f"svc={schema}", "-f", str(ROOT / "deploy/postgres/service_schema.sql"))
    engine = None
    try:
        _migrate(name, schema)
        async with admin_engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL search_path = "{schema}"'))
            await conn.execute(text("SET LOCAL session_replication_role = replica"))  # seeds skip foreign keys
            for table in await tenant_tables(conn, schema):
                for tenant in (A, B):
                    await conn.execute(*await seed_row(conn, schema, table, tenant))
        engine = make_engine(ServiceSettings(service_name=name, db_schema=schema, database_url=_url(schema)),
                             pool_size=2)
        yield name, schema, UnitsOfWork(engine, service=name, topic="test.events")
    finally:
        if engine is not None:
            await engine.dispose()
        await _drop(admin_engine, schema)


async def tenant_tables(conn, schema: str) -> list[str]:
    return list((await conn.execute(text(
        "SELECT table_name FROM information_schema.columns c JOIN information_schema.tables t USING "
        "(table_schema, table_name) WHERE table_schema = :s AND column_name = 'tenant_id' "
        "AND t.table_type = 'BASE TABLE' ORDER BY 1"), {"s": schema})).scalars())


async def seed_row(conn, schema: str, table: str, tenant: str) -> tuple:
    """(INSERT statement, parameters) for one row of `tenant` in `table`: a distinct made-up value of the column's
    type for every NOT NULL column without a default, NULL elsewhere. Values travel as text and are cast by
    PostgreSQL, so any column type works."""
    cols = (await conn.execute(text(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, t.typcategory::text AS typcategory, "
        "t.typtype::text AS typtype, a.atttypid, "
        "a.attnotnull, (a.atthasdef OR a.attidentity <> '') AS has_default "
        "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
        "WHERE a.attrelid = (quote_ident(:s) || '.' || quote_ident(:t))::regclass AND a.attnum > 0 "
        "AND NOT a.attisdropped ORDER BY a.attnum"), {"s": schema, "t": table})).all()
    names, values, params = [], [], {}
    for i, c in enumerate(cols):
        if c.attname != "tenant_id" and (c.has_default or not c.attnotnull):
            continue
        value = tenant if c.attname == "tenant_id" else await _made_up(conn, c)
        names.append(f'"{c.attname}"')
        values.append(f"CAST(CAST(:v{i} AS text) AS {c.type})")
        params[f"v{i}"] = value
    sql = f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({", ".join(values)})'
    return text(sql), params


async def _made_up(conn, c) -> str:
    n = uuid.uuid4().int
    if c.typtype == "e":  # an enum: its first label
        return (await conn.execute(text("SELECT enumlabel FROM pg_enum WHERE enumtypid = :t ORDER BY enumsortorder "
                                        "LIMIT 1"), {"t": c.atttypid})).scalar_one()
    if c.typcategory == "A":
        return "{}"
    if c.type == "uuid":
        return str(uuid.uuid4())
    if c.typcategory == "N":
        return str(n % 1000)
    if c.typcategory == "D":
        return "2026-01-02 03:04:05+00"
    if c.typcategory == "B":
        return "false"
    if c.type in ("json", "jsonb"):
        return "{}"
    if c.type == "bytea":
        return "x"
    return f"v{n % 10**9}"  # text, varchar(n) (short enough for any length here), char


async def test_every_tenant_scoped_table_is_under_forced_row_security_with_a_policy(service, admin_engine):
    _, schema, _ = service
    async with admin_engine.connect() as conn:
        tables = await tenant_tables(conn, schema)
        rows = (await conn.execute(text(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity, "
            "(SELECT count(*) FROM pg_policies p WHERE p.schemaname = :s AND p.tablename = c.relname) AS policies "
            "FROM pg_class c WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = :s) "
            "AND c.relname = ANY(:t)"), {"s": schema, "t": tables})).all()
    assert {"outbox", "dead_letters"} <= set(tables) and len(tables) > 2
    unprotected = [r.relname for r in rows if not (r.relrowsecurity and r.relforcerowsecurity and r.policies)]
    assert len(rows) == len(tables) and unprotected == []


async def test_the_runtime_role_owns_nothing_and_cannot_bypass_row_security(service, admin_engine):
    _, schema, _ = service
    async with admin_engine.connect() as conn:
        role = (await conn.execute(text("SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = :r"),
                                   {"r": schema})).one()
        owned = (await conn.execute(text(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = :r)"),
            {"r": schema})).scalar()
        schema_owner = (await conn.execute(text("SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :s"),
                                           {"s": schema})).scalar()
        member = (await conn.execute(text("SELECT pg_has_role(:r, :o, 'MEMBER')"),
                                     {"r": schema, "o": f"{schema}_owner"})).scalar()
    assert tuple(role) == (False, False, False)
    assert owned == 0 and schema_owner == f"{schema}_owner" and member is False


async def test_a_query_without_a_tenant_filter_sees_only_the_units_tenant(service, admin_engine):
    _, schema, units = service
    async with admin_engine.connect() as conn:
        tables = await tenant_tables(conn, schema)
    for table in tables:
        forgot_the_filter = text(f'SELECT DISTINCT tenant_id FROM "{table}"')
        async with units.read(A) as conn:  # a read of tenant A
            assert set((await conn.execute(forgot_the_filter)).scalars()) == {A}, table
        async with units.begin(tenant_id=A, actor="test") as uow:  # a command of tenant A
            assert set((await uow.conn.execute(forgot_the_filter)).scalars()) == {A}, table
        async with units.engine.connect() as conn:  # no scope at all: nothing
            assert list((await conn.execute(forgot_the_filter)).scalars()) == [], table
        async with units.read_system() as conn:  # the system scope of cross-tenant jobs: everyone
            assert set((await conn.execute(forgot_the_filter)).scalars()) == {A, B}, table


async def test_a_unit_of_work_cannot_write_another_tenants_rows(service, admin_engine):
    _, schema, units = service
    async with admin_engine.connect() as conn:
        tables = await tenant_tables(conn, schema)
        rows_of_b = {t: await seed_row(conn, schema, t, B) for t in tables}
    for table in tables:
        if table == "dead_letters":
            continue  # a failure record is written in any scope (an undecodable record has no tenant)
        with pytest.raises(DBAPIError) as insert:
            async with units.begin(tenant_id=A, actor="test") as uow:
                await uow.conn.execute(*rows_of_b[table])
        assert sqlstate_of(insert.value) == INSUFFICIENT_PRIVILEGE, table
        if is_append_only(table) or table in READ_ONLY_TABLES:
            continue  # no UPDATE at all: below
        async with units.begin(tenant_id=A, actor="test") as uow:
            touched = await uow.conn.execute(text(f'UPDATE "{table}" SET tenant_id = tenant_id'))
        assert touched.rowcount == 1, table  # tenant A's seeded row, not B's
        with pytest.raises(DBAPIError) as move:
            async with units.begin(tenant_id=A, actor="test") as uow:
                await uow.conn.execute(text(f'UPDATE "{table}" SET tenant_id = :b'), {"b": B})
        assert sqlstate_of(move.value) == INSUFFICIENT_PRIVILEGE, table
    async with admin_engine.connect() as conn:
        left = {t: sorted((await conn.execute(text(f'SELECT tenant_id FROM "{schema}"."{t}"'))).scalars())
                for t in tables if t != "dead_letters"}
    assert all(v == [A, B] for v in left.values()), left


async def test_audit_tables_are_append_only_for_the_runtime_role(service, admin_engine):
    name, schema, units = service
    async with admin_engine.connect() as conn:
        audits = list((await conn.execute(text(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND (table_name LIKE "
            "'%\\_audit' OR table_name = 'audit_log')"), {"s": schema})).scalars())
        rights = {(t, p): (await conn.execute(text("SELECT has_table_privilege(:r, :t, :p)"),
                                              {"r": schema, "t": f'"{schema}"."{t}"', "p": p})).scalar()
                  for t in (*audits, *READ_ONLY_TABLES) for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")}
    assert (set(audits) - {"audit_log"} != set()) == (name in AUDITED) and "audit_log" in audits
    assert rights == {(t, p): p == "SELECT" or (p == "INSERT" and t in audits) for t in (*audits, *READ_ONLY_TABLES)
                      for p in ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE")}
    for table in (*audits, *READ_ONLY_TABLES):
        for statement in (f'DELETE FROM "{table}"', f'UPDATE "{table}" SET tenant_id = tenant_id',
                          f'TRUNCATE "{table}"'):
            with pytest.raises(DBAPIError) as denied:
                async with units.begin(tenant_id=A, actor="test") as uow:
                    await uow.conn.execute(text(statement))
            assert sqlstate_of(denied.value) == INSUFFICIENT_PRIVILEGE, statement



async def test_a_database_from_before_the_two_roles_is_handed_to_the_owner_and_kept(admin_engine):
    """The shared stack's database today: the runtime role owns the schema and its tables (old
    service_schema.sql, migrations run as that role). service_schema.sql hands everything to the owner role; the
    next migration run (as the owner) adds row security and grants the runtime role its rights back; the rows
    written before are all there, each visible to its own tenant only."""
    schema = f"t_rls_{uuid.uuid4().hex[:10]}"
    try:
        async with admin_engine.begin() as conn:  # the old layout, as the old service_schema.sql made it
            await conn.execute(text(f'CREATE ROLE "{schema}" LOGIN'))
            await conn.execute(text(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{schema}"'))
        _migrate("charges", schema, to="0007", as_owner=False)  # charges before its row-level security revision
        async with admin_engine.begin() as conn:
            await conn.execute(text(f'SET LOCAL ROLE "{schema}"'))
            await conn.execute(text(f'INSERT INTO "{schema}".tenant_settings (tenant_id, updated_by, updated_at) '
                                    "VALUES ('tenant-a', 'desk', now()), ('tenant-b', 'desk', now())"))
        _psql("-v", f"svc={schema}", "-f", str(ROOT / "deploy/postgres/service_schema.sql"))
        _migrate("charges", schema)
        async with admin_engine.connect() as conn:
            owners = set((await conn.execute(text(
                "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relnamespace = "
                "(SELECT oid FROM pg_namespace WHERE nspname = :s)"), {"s": schema})).scalars())
            schema_owner = (await conn.execute(text(
                "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :s"), {"s": schema})).scalar()
        assert owners == {f"{schema}_owner"} and schema_owner == f"{schema}_owner"
        engine = make_engine(ServiceSettings(service_name="charges", db_schema=schema, database_url=_url(schema)),
                             pool_size=1)
        units = UnitsOfWork(engine, service="charges", topic="test.events")
        try:
            for tenant in (A, B):
                async with units.read(tenant) as conn:
                    assert list((await conn.execute(text("SELECT tenant_id FROM tenant_settings"))).scalars()) == [tenant]
        finally:
            await engine.dispose()
    finally:
        await _drop(admin_engine, schema)
