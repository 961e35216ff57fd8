"""Tenant isolation in the database itself: row-level security on every tenant-scoped table, and the
privileges of the role a service runs as.

Two roles per service (deploy/postgres/service_schema.sql): `<svc>_owner` owns the schema and runs the
migrations; `<svc>`, the runtime role, holds only SELECT/INSERT/UPDATE/DELETE (not TRUNCATE, not ownership,
no BYPASSRLS), so it can neither switch row security off nor get around it.

- A table is tenant-scoped when it has a `tenant_id` column. Its policy lets a transaction see and write the
  rows of the tenants of its scope (rcm_runtime.tenant_scope), or every row in the system scope. ENABLE and
  FORCE: the policy holds for the owner too (FORCE), only a superuser is above it.
- Runtime tables: `outbox` and `dead_letters` carry a tenant, so they get the same policy (the relay and the
  ops routes read them in the system scope); a dead letter may also be INSERTed in any scope, because a record
  that does not decode has no tenant to check and recording a failure must never fail, and one without a tenant
  belongs to none (a redrive, in the scope of the tenant its record turns out to have, can still close it).
  `inbox` holds event ids and types only (no tenant, no data) and stays without a policy.
- Audit tables (named `*_audit`, and the shared audit trail's `audit_log`) are append-only for the runtime role:
  INSERT and SELECT, never UPDATE, DELETE or TRUNCATE. `audit_chain` (the trail's chain heads, moved by the
  owner's trigger only: rcm_runtime.audit_chain) it may only read.

Each service's migration turns row security on (`protect_tenant_tables`); rcm_runtime.migrations grants the
runtime role its privileges after every upgrade (`grant_runtime`) and refuses a schema with a tenant-scoped
table left unprotected (`unprotected_tables`), so a table added later cannot be forgotten.
All functions work on the connection's current schema (the service's: search_path), on a sync connection
(Alembic's `op.get_bind()`, or `AsyncConnection.run_sync`).
"""

from __future__ import annotations

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from rcm_runtime.tenant_scope import SETTING, SYSTEM

TENANT_COLUMN = "tenant_id"
POLICY = "tenant_scope"
FAILURES_POLICY = "failures_recorded"  # dead letters: written in any scope
FAILURES_TABLE = "dead_letters"
AUDIT_SUFFIX = "_audit"
AUDIT_LOG = "audit_log"  # rcm_runtime.audit: append-only like the *_audit tables
READ_ONLY_TABLES = ("audit_chain",)  # moved by the audit trail's trigger (the owner's) only
RUNTIME_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
APPEND_ONLY_PRIVILEGES = "SELECT, INSERT"

# The tenants of the scope as an array, and whether it is the system scope. Each is wrapped in a scalar
# sub-select so PostgreSQL evaluates it once per statement (an InitPlan), not once per row (the cast makes the
# array one value, not a sub-query ANY would compare row by row).
IN_SCOPE = (f"(({TENANT_COLUMN} = ANY ((SELECT string_to_array(current_setting('{SETTING}', true), ','))::text[]))"
            f" OR (SELECT current_setting('{SETTING}', true) = '{SYSTEM}'))")


_IN_SCHEMA = "relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())"


def has_row_security(table: Table) -> bool:
    """Whether the table is tenant-scoped, hence under a policy (PostgreSQL refuses COPY FROM into it)."""
    return TENANT_COLUMN in table.c


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def tenant_tables(conn: Connection) -> list[str]:
    """The current schema's tenant-scoped tables (ordinary or partitioned), by name."""
    return list(conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
        "WHERE c." + _IN_SCHEMA + " "
        "AND c.relkind IN ('r', 'p') AND a.attname = :col AND NOT a.attisdropped ORDER BY c.relname"),
        {"col": TENANT_COLUMN}).scalars())


def protect_tenant_tables(conn: Connection) -> list[str]:
    """ENABLE and FORCE row-level security with the tenant policy on every tenant-scoped table of the current
    schema (idempotent: a policy is replaced). Returns the tables."""
    tables = tenant_tables(conn)
    for name in tables:
        t = _q(name)
        conn.execute(text(f"ALTER TABLE {t} ENABLE ROW LEVEL SECURITY"))
        conn.execute(text(f"ALTER TABLE {t} FORCE ROW LEVEL SECURITY"))
        conn.execute(text(f"DROP POLICY IF EXISTS {POLICY} ON {t}"))
        visible = f"({IN_SCOPE} OR {TENANT_COLUMN} IS NULL)" if name == FAILURES_TABLE else IN_SCOPE
        conn.execute(text(f"CREATE POLICY {POLICY} ON {t} USING {visible} WITH CHECK {visible}"))
        if name == FAILURES_TABLE:
            conn.execute(text(f"DROP POLICY IF EXISTS {FAILURES_POLICY} ON {t}"))
            conn.execute(text(f"CREATE POLICY {FAILURES_POLICY} ON {t} FOR INSERT WITH CHECK (true)"))
    return tables


def unprotect_tenant_tables(conn: Connection) -> None:
    """The downgrade of protect_tenant_tables."""
    for name in tenant_tables(conn):
        t = _q(name)
        conn.execute(text(f"DROP POLICY IF EXISTS {POLICY} ON {t}"))
        conn.execute(text(f"DROP POLICY IF EXISTS {FAILURES_POLICY} ON {t}"))
        conn.execute(text(f"ALTER TABLE {t} NO FORCE ROW LEVEL SECURITY"))
        conn.execute(text(f"ALTER TABLE {t} DISABLE ROW LEVEL SECURITY"))


def unprotected_tables(conn: Connection) -> list[str]:
    """Tenant-scoped tables of the current schema without row security enabled, forced and the tenant policy."""
    protected = set(conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.schemaname = current_schema() "
        "AND p.tablename = c.relname AND p.policyname = :policy "
        "WHERE c." + _IN_SCHEMA + " AND c.relrowsecurity AND c.relforcerowsecurity"),
        {"policy": POLICY}).scalars())
    return [t for t in tenant_tables(conn) if t not in protected]


def is_append_only(table: str) -> bool:
    return table.endswith(AUDIT_SUFFIX) or table == AUDIT_LOG


def audit_tables(conn: Connection) -> list[str]:
    """The current schema's append-only tables."""
    return list(conn.execute(text(
        "SELECT relname FROM pg_class WHERE " + _IN_SCHEMA + " "
        "AND relkind IN ('r', 'p') AND (relname LIKE :pattern OR relname = :log) ORDER BY relname"),
        {"pattern": "%" + AUDIT_SUFFIX, "log": AUDIT_LOG}).scalars())


def grant_runtime(conn: Connection, role: str) -> None:
    """The runtime role's privileges on the current schema, as they must be now and for tables the owner
    creates later (default privileges): data rights on every table, append-only on audit tables, read-only on
    the audit chain heads and Alembic's version table. Run by the owner (or a superuser); idempotent."""
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    s, r = _q(schema), _q(role)
    conn.execute(text(f"GRANT USAGE ON SCHEMA {s} TO {r}"))
    conn.execute(text(f"GRANT {RUNTIME_PRIVILEGES} ON ALL TABLES IN SCHEMA {s} TO {r}"))
    conn.execute(text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}"))
    conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {RUNTIME_PRIVILEGES} ON TABLES TO {r}"))
    conn.execute(text(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {r}"))
    for name in audit_tables(conn):
        conn.execute(text(f"REVOKE ALL ON {_q(name)} FROM {r}"))
        conn.execute(text(f"GRANT {APPEND_ONLY_PRIVILEGES} ON {_q(name)} TO {r}"))
    for name in READ_ONLY_TABLES:
        if conn.execute(text("SELECT to_regclass(:t) IS NOT NULL"), {"t": name}).scalar():
            conn.execute(text(f"REVOKE ALL ON {_q(name)} FROM {r}"))
            conn.execute(text(f"GRANT SELECT ON {_q(name)} TO {r}"))
    if conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL")).scalar():
        conn.execute(text(f"REVOKE ALL ON alembic_version FROM {r}"))
        conn.execute(text(f"GRANT SELECT ON alembic_version TO {r}"))
