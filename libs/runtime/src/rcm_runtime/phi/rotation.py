"""Online key rotation: every value sealed under another key id than the active one is re-encrypted to the active
key, a small batch per transaction (rows locked with SKIP LOCKED, so writers are never waited on for long and a
row a request holds is taken in a later pass). Readers open every key id of the keyring meanwhile: no downtime.
A key is retired (taken out of the keys file) only when no value under it remains in any service's tables."""

from __future__ import annotations

import asyncio
import json
from typing import Callable

from sqlalchemy import and_, bindparam, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from rcm_runtime.phi.documents import SEALED_KEY, SealedColumn, SealedColumns
from rcm_runtime.phi.keyring import KeyringError, read_document
from rcm_runtime.phi.sealing import PREFIX, Sealer
from rcm_runtime.tenant_scope import system_reads, system_transaction


def _sealed_expr(col: SealedColumn):
    c = col.table.c[col.column]
    if col.kind == "bytes":
        return func.encode(func.substring(c, 1, 64), literal("escape"))  # the header is ASCII
    return c if col.kind in ("text", "identifier") else c[SEALED_KEY].astext


def _stale(col: SealedColumn, active: str):
    expr = _sealed_expr(col)
    return and_(expr.like(PREFIX + "%"), ~expr.like(f"{PREFIX}{active}.%"))


async def rotate_column(engine: AsyncEngine, columns: SealedColumns, col: SealedColumn, sealer: Sealer, *,
                        batch: int = 200, pause_s: float = 0.0) -> int:
    """Re-encrypts `col`'s stale values; returns how many."""
    table = col.table
    pk = list(table.primary_key.columns)
    pick = (select(*pk, table.c[col.tenant_column], table.c[col.column])
            .where(_stale(col, sealer.active_key_id)).limit(batch).with_for_update(skip_locked=True))
    put = (update(table).where(and_(*(c == bindparam(f"pk_{c.name}") for c in pk)))
           .values({col.column: bindparam("sealed_value")}))
    done = 0
    while True:
        async with system_transaction(engine) as conn:
            rows = (await conn.execute(pick)).all()
            if not rows:
                return done
            params = []
            for row in rows:
                m = row._mapping
                stored = m[col.column]
                fresh = sealer.reseal(col.sealed_value(stored), tenant=m[col.tenant_column],
                                      field=col.field(columns.service))
                params.append({**{f"pk_{c.name}": m[c.name] for c in pk},
                               "sealed_value": col.with_sealed_value(stored, fresh)})
            await conn.execute(put, params)
        done += len(rows)
        if pause_s:
            await asyncio.sleep(pause_s)  # leave the database to the services between batches


async def rotate(engine: AsyncEngine, columns: SealedColumns, sealer: Sealer, *, batch: int = 200,
                 pause_s: float = 0.0, log: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Every PHI column of one service to the active key: re-encrypted values per `table.column`."""
    out = {}
    for col in columns.columns:
        n = await rotate_column(engine, columns, col, sealer, batch=batch, pause_s=pause_s)
        out[f"{col.table.name}.{col.column}"] = n
        log(f"{columns.service} {col.table.name}.{col.column}: {n} values re-encrypted under {sealer.active_key_id}")
    return out


async def key_use(engine: AsyncEngine, columns: SealedColumns) -> dict[str, int]:
    """How many sealed values each key id holds, over the service's PHI columns."""
    counts: dict[str, int] = {}
    async with system_reads(engine) as conn:
        for col in columns.columns:
            kid = func.split_part(_sealed_expr(col), literal("."), 2)
            rows = (await conn.execute(select(kid, func.count()).where(_sealed_expr(col).like(PREFIX + "%"))
                                       .group_by(kid))).all()
            for key_id, n in rows:
                counts[key_id] = counts.get(key_id, 0) + n
    return counts


class KeyInUse(KeyringError):
    """A key cannot be retired while values sealed under it remain."""


def retire(keys_file: str, key_id: str, uses: dict[str, int]) -> None:
    """Takes `key_id` out of the keys file, refused while `uses` (key_use over every service sharing the keyring)
    counts values under it, and for the active key."""
    doc = read_document(keys_file)
    if key_id not in doc["keys"]:
        raise KeyringError(f"key {key_id!r} is not in the keys file")
    if key_id == doc["active"]:
        raise KeyInUse(f"key {key_id!r} is the active key: make another active first")
    if uses.get(key_id):
        raise KeyInUse(f"key {key_id!r} still seals {uses[key_id]} values: run rotate first")
    del doc["keys"][key_id]
    with open(keys_file, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
