"""Multi-row INSERT ... SELECT FROM unnest(arrays) ON CONFLICT ... RETURNING: one statement, one round
trip and one cached plan for a whole batch of rows.

Why not `postgresql.insert(...).on_conflict_do_nothing()`: SQLAlchemy 2.0 marks the PostgreSQL insert
construct uncacheable, so every call recompiled it (a profile showed this as the consumers' largest
CPU cost), and executemany cannot RETURN which rows were new.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from sqlalchemy import Table, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSON, JSONB
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import TextClause

_PG = postgresql.dialect()


def _pg_type(column) -> str:
    name = column.type.compile(dialect=_PG)
    return "text" if isinstance(column.type, (JSON, JSONB)) else name


@dataclass
class BulkInsert:
    """`on_conflict` is the SQL after ON CONFLICT, e.g. "DO NOTHING" or "(claim_id) DO UPDATE SET ..."."""

    table: Table
    columns: Sequence[str]
    on_conflict: str | None = "DO NOTHING"
    returning: Sequence[str] = ()
    _stmt: TextClause | None = field(default=None, init=False, repr=False)
    _json_cols: frozenset[str] = field(default=frozenset(), init=False, repr=False)
    _defaults: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        # Python-side scalar defaults (e.g. status="open") are SQLAlchemy's job in insert(); here we
        # fill them in ourselves, or the row would get NULL.
        self._defaults = {c.name: c.default.arg for c in self.table.columns
                          if c.name not in self.columns and c.default is not None and c.default.is_scalar}
        self.columns = [*self.columns, *self._defaults]

    def statement(self) -> TextClause:
        if self._stmt is None:
            cols = [self.table.c[name] for name in self.columns]
            self._json_cols = frozenset(c.name for c in cols if isinstance(c.type, (JSON, JSONB)))
            q = _PG.identifier_preparer.quote  # "offset", "partition" are keywords
            arrays = ", ".join(f"CAST(:{c.name} AS {_pg_type(c)}[])" for c in cols)
            select_list = ", ".join(f"CAST(u.{q(c.name)} AS jsonb)" if c.name in self._json_cols else f"u.{q(c.name)}"
                                    for c in cols)
            names = ", ".join(q(c.name) for c in cols)
            table = q(self.table.name)
            sql = f"INSERT INTO {table} AS {table} ({names}) SELECT {select_list} FROM unnest({arrays}) AS u({names})"
            if self.on_conflict:
                sql += f" ON CONFLICT {self.on_conflict}"
            if self.returning:
                sql += " RETURNING " + ", ".join(self.returning)
            self._stmt = text(sql).bindparams(*[bindparam(c) for c in self.columns])
        return self._stmt

    async def execute(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> list[Row]:
        if not rows:
            return []
        stmt = self.statement()
        params = {}
        for name in self.columns:
            if name in self._defaults:
                params[name] = [r.get(name, self._defaults[name]) for r in rows]
            elif name in self._json_cols:
                params[name] = [None if r[name] is None else json.dumps(r[name], default=str) for r in rows]
            else:
                params[name] = [r[name] for r in rows]
        result = await conn.execute(stmt, params)
        return list(result) if self.returning else []
