"""The tenant scope of a transaction: which tenants' rows PostgreSQL lets it see and write.

Every tenant-scoped table has a row-level security policy (rcm_runtime.row_security) keyed on the
transaction-local setting `rcm.tenants`: a comma-separated list of tenant ids, or `*` for the system scope of
the few jobs that act across tenants by design (the outbox relay, the ops routes over dead letters, background
loops that find due work of every tenant). Unset or empty, a transaction sees no tenant row at all, so a query
that forgot its tenant filter returns nothing of another tenant, and a write naming another tenant fails.

The shared runtime sets the scope, never a query: a unit of work for its tenant (`UnitsOfWork.begin`), a
consumer batch for the tenants of its records, reads through `UnitsOfWork.read`/`tenant_reads`, the system
jobs through `system_scope`/`begin_system`. It costs one statement per transaction (`set_config(..., true)`:
local to the transaction, so a pooled connection never carries one request's scope into the next).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator, Iterable

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

SETTING = "rcm.tenants"
# Not a valid tenant id (tenant_scope() refuses it), so no tenant can name itself into the system scope.
SYSTEM = "*"
_SEPARATOR = ","

_SET_SCOPE = text(f"SELECT set_config('{SETTING}', :scope, true)")


class InvalidTenant(ValueError):
    """A tenant id that cannot be put in a scope (empty, the system marker, or holding the separator): a
    programming or configuration error, never a request's input (tenants come from credentials)."""


def tenant_scope(tenants: Iterable[str]) -> str:
    """The setting's value for these tenants (sorted, without repeats). No tenant: the empty scope (sees
    nothing)."""
    out = set()
    for tenant in tenants:
        if not tenant or tenant == SYSTEM or _SEPARATOR in tenant:
            raise InvalidTenant("a tenant id must be non-empty and hold neither ',' nor be '*'")
        out.add(tenant)
    return _SEPARATOR.join(sorted(out))


async def enter_scope(conn: AsyncConnection, scope: str) -> None:
    """Set the scope of the connection's current transaction (begun by this statement if none is)."""
    await conn.execute(_SET_SCOPE, {"scope": scope})


@asynccontextmanager
async def tenant_reads(engine: AsyncEngine, tenant_id: str, *more: str) -> AsyncIterator[AsyncConnection]:
    """A connection for queries that sees the rows of these tenants only (rolled back at the end: reads
    only)."""
    scope = tenant_scope((tenant_id, *more))
    async with engine.connect() as conn:
        await enter_scope(conn, scope)
        yield conn


@asynccontextmanager
async def system_reads(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for the queries of a job that acts across tenants by design (every tenant's rows)."""
    async with engine.connect() as conn:
        await enter_scope(conn, SYSTEM)
        yield conn


@asynccontextmanager
async def system_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """`engine.begin()` in the system scope: committed at the end, rolled back on error."""
    async with engine.begin() as conn:
        await enter_scope(conn, SYSTEM)
        yield conn
