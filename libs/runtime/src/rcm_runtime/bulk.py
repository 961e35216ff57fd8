"""Multi-row inserts: one statement per batch, and PostgreSQL COPY when a batch is large.

Below `copy_min_rows` rows: INSERT ... SELECT FROM unnest(arrays) ON CONFLICT ... RETURNING: one statement,
one round trip and one cached plan for a whole batch of rows.

Why not `postgresql.insert(...).on_conflict_do_nothing()`: SQLAlchemy 2.0 marks the PostgreSQL insert
construct uncacheable, so every call recompiled it (a profile showed this as the consumers' largest
CPU cost), and executemany cannot RETURN which rows were new.

From `copy_min_rows` rows: binary COPY through the unit of work's own asyncpg connection, inside its open
transaction (the rows commit or roll back with everything else). asyncpg encodes array parameters element by
element with Python type checks; COPY streams the rows, which halves the client's and the server's time
for tens of thousands of rows (a posted 835: ~7 ledger entries a claim). Without ON CONFLICT and RETURNING
the rows go straight into the table; with either, they are copied into a temporary staging table and moved
by one INSERT ... SELECT with the same ON CONFLICT and RETURNING, so both paths answer the same. A tenant-scoped
table (row-level security: rcm_runtime.row_security) always takes the staging path: PostgreSQL refuses COPY FROM
into it, and the INSERT ... SELECT is checked against its policy like any insert.
"""

from __future__ import annotations

import json
import zlib
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any, Sequence

from asyncpg.exceptions import ExclusionViolationError, UniqueViolationError
from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

from rcm_runtime.row_security import has_row_security

_PG = postgresql.dialect()
COPY_MIN_ROWS = 1000  # below this many rows one INSERT ... unnest costs less than COPY's extra round trips


class JsonText(str):
    """A value for a JSON column that is already JSON text (e.g. the same small list encoded once for many
    rows): written as it is instead of being encoded again. A plain str is a JSON string value."""

    __slots__ = ()


def _pg_type(column) -> str:
    name = column.type.compile(dialect=_PG)
    return "text" if isinstance(column.type, (JSON, JSONB)) else name


async def driver_connection(conn: AsyncConnection):
    """The asyncpg connection under `conn` (which has begun a transaction), inside that transaction: SQLAlchemy
    begins the database transaction lazily, at its first statement, so a COPY sent first would run outside it."""
    raw = (await conn.get_raw_connection()).driver_connection
    if not raw.is_in_transaction():
        await conn.execute(text("SELECT 1"))
    return raw


@dataclass
class BulkInsert:
    """`on_conflict` is the SQL after ON CONFLICT, e.g. "DO NOTHING" or "(claim_id) DO UPDATE SET ...".
    `copy_min_rows`: batches of at least this many rows are written with COPY (None: never).
    `conflicts_rare` (a DO NOTHING insert RETURNING only copied columns, whose conflicts are exceptional, e.g.
    a concurrent request posting the same payment): a large batch is COPYed straight into the table (a table
    under row-level security: staged and moved without RETURNING) under a savepoint, and only when that meets a
    unique row is it rolled back to the savepoint and written through the staging table with RETURNING, so the
    answer is the same either way."""

    table: Table
    columns: Sequence[str]
    on_conflict: str | None = "DO NOTHING"
    returning: Sequence[str] = ()
    copy_min_rows: int | None = COPY_MIN_ROWS
    conflicts_rare: bool = False
    _stmt: TextClause | None = field(default=None, init=False, repr=False)
    _json_cols: frozenset[str] = field(default=frozenset(), init=False, repr=False)
    _defaults: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _stage: str = field(default="", init=False, repr=False)
    _stage_sql: tuple[TextClause, TextClause, TextClause] | None = field(default=None, init=False, repr=False)
    _row_security: bool = field(default=False, init=False, repr=False)

    def __post_init__(self) -> None:
        # Python-side scalar defaults (e.g. status="open") are SQLAlchemy's job in insert(); here we
        # fill them in ourselves, or the row would get NULL.
        self._defaults = {c.name: c.default.arg for c in self.table.columns
                          if c.name not in self.columns and c.default is not None and c.default.is_scalar}
        self.columns = [*self.columns, *self._defaults]
        self._row_security = has_row_security(self.table)
        self._json_cols = frozenset(name for name in self.columns
                                    if isinstance(self.table.c[name].type, (JSON, JSONB)))
        if self.conflicts_rare and not ((self.on_conflict or "").upper().endswith("DO NOTHING")
                                        and set(self.returning) <= set(self.columns)):
            raise ValueError("conflicts_rare needs ON CONFLICT ... DO NOTHING and RETURNING only copied columns")

    def statement(self) -> TextClause:
        if self._stmt is None:
            cols = [self.table.c[name] for name in self.columns]
            q = _PG.identifier_preparer.quote  # "offset", "partition" are keywords
            arrays = ", ".join(f"CAST(:{c.name} AS {_pg_type(c)}[])" for c in cols)
            select_list = ", ".join(f"CAST(u.{q(c.name)} AS jsonb)" if c.name in self._json_cols else f"u.{q(c.name)}"
                                    for c in cols)
            names = ", ".join(q(c.name) for c in cols)
            table = q(self.table.name)
            sql = f"INSERT INTO {table} AS {table} ({names}) SELECT {select_list} FROM unnest({arrays}) AS u({names})"
            self._stmt = text(sql + self._tail()).bindparams(*[bindparam(c) for c in self.columns])
        return self._stmt

    def _tail(self) -> str:
        sql = f" ON CONFLICT {self.on_conflict}" if self.on_conflict else ""
        if self.returning:
            sql += " RETURNING " + ", ".join(self.returning)
        return sql

    def _column_values(self, rows: Sequence[dict[str, Any]]) -> dict[str, list]:
        """Each column's values, in row order (JSON columns as JSON text)."""
        values = {}
        for name in self.columns:
            if name in self._defaults:
                default = self._defaults[name]
                column = [r.get(name, default) for r in rows]
            else:
                column = [r[name] for r in rows]
            if name in self._json_cols:
                column = [v if v is None or type(v) is JsonText else json.dumps(v, default=str) for v in column]
            values[name] = column
        return values

    async def execute(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[Row]:
        if not rows:
            return []
        values = self._column_values(rows)
        if self._copies(conn, rows):
            return await self._copy(conn, list(zip(*values.values())))
        result = await conn.execute(self.statement(), values)
        return list(result) if self.returning else []

    async def execute_records(self, conn: AsyncConnection, records: Sequence[tuple]) -> list[Row]:
        """Rows as tuples in `columns` order (Python-side defaults included, JSON columns as JSON text or
        None): no dict per row, for the largest batches. Same answer as `execute`."""
        if not records:
            return []
        if self._copies(conn, records):
            return await self._copy(conn, records)
        result = await conn.execute(self.statement(), {name: [r[n] for r in records]
                                                       for n, name in enumerate(self.columns)})
        return list(result) if self.returning else []

    def _copies(self, conn: AsyncConnection, rows: Sequence) -> bool:
        # only inside a transaction (a unit of work's): the COPY, the staging table and the move must commit
        # together, and a staging table is emptied at each commit
        return self.copy_min_rows is not None and len(rows) >= self.copy_min_rows and conn.in_transaction()

    async def _copy(self, conn: AsyncConnection, records: Sequence[tuple]) -> list[Row]:
        driver = await driver_connection(conn)
        # PostgreSQL refuses COPY FROM into a table under row-level security: such a table is always staged.
        if not self._row_security and not self.on_conflict and not self.returning:
            await driver.copy_records_to_table(self.table.name, records=records, columns=list(self.columns))
            return []
        create, move, move_quietly = self._staging()
        if self.conflicts_rare:
            # Every row going in is the usual case: answered from the records themselves, with no rows sent back.
            # When some met a unique row, back to the savepoint, and the staging path below sorts them out.
            await driver.execute("SAVEPOINT rcm_bulk_copy")
            try:
                if self._row_security:
                    await conn.execute(create)
                    await self._stage_records(driver, records)
                    all_in = (await conn.execute(move_quietly)).rowcount == len(records)
                else:
                    await driver.copy_records_to_table(self.table.name, records=records, columns=list(self.columns))
                    all_in = True
            except (UniqueViolationError, ExclusionViolationError):
                all_in = False
            if all_in:
                await driver.execute("RELEASE SAVEPOINT rcm_bulk_copy")
                return self._copied(records)
            await driver.execute("ROLLBACK TO SAVEPOINT rcm_bulk_copy")
        # A temporary table per connection and batch shape, emptied by the move itself (DELETE ... RETURNING)
        # and at commit (ON COMMIT DELETE ROWS), so the next batch, in this transaction or another, starts empty.
        await conn.execute(create)
        await self._stage_records(driver, records)
        result = await conn.execute(move)
        return list(result) if self.returning else []

    async def _stage_records(self, driver, records: Sequence[tuple]) -> None:
        await driver.copy_records_to_table(self._stage, records=[(n, *r) for n, r in enumerate(records)],
                                           columns=["bulk_row", *self.columns], schema_name="pg_temp")

    def _copied(self, records: Sequence[tuple]) -> list:
        """What RETURNING answers when every row went in: the returned columns of each record."""
        if not self.returning:
            return []
        at = [list(self.columns).index(name) for name in self.returning]
        returned = namedtuple("Returned", self.returning)
        return [returned(*(r[i] for i in at)) for r in records]

    def _staging(self) -> tuple[TextClause, TextClause, TextClause]:
        """(create the staging table, move its rows in answering RETURNING, move them in answering nothing)."""
        if self._stage_sql is None:
            q = _PG.identifier_preparer.quote
            names = ", ".join(q(c) for c in self.columns)
            shape = zlib.crc32(f"{self.table.name}({names})|{self._tail()}".encode())
            self._stage = f"bulk_{self.table.name}_{shape:08x}"[:63]
            stage, table = q(self._stage), q(self.table.name)
            create = (f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                      f"SELECT 0::bigint AS bulk_row, {names} FROM {table} WITH NO DATA")
            # ORDER BY the copied position: rows meet ON CONFLICT in the batch's order, as with unnest
            move = (f"WITH staged AS (DELETE FROM pg_temp.{stage} RETURNING *) INSERT INTO {table} AS {table} "
                    f"({names}) SELECT {names} FROM staged ORDER BY bulk_row")
            on_conflict = f" ON CONFLICT {self.on_conflict}" if self.on_conflict else ""
            self._stage_sql = (text(create), text(move + self._tail()), text(move + on_conflict))
        return self._stage_sql
