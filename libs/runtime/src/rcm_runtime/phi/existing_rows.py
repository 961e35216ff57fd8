"""Sealing the rows a service stored before its PHI columns were sealed (and opening them again on downgrade): the
step each service's PHI revision calls (`rcm_runtime.migrations.seal_phi_upgrade`). Walks each table in primary-key
order, a batch at a time, so a table of tens of thousands of rows is never held in memory at once; the values are
replaced in place, so no plaintext column remains (PostgreSQL keeps the old row versions until VACUUM reclaims
them: run `VACUUM` on the tables after the upgrade)."""

from __future__ import annotations

from typing import Callable

from sqlalchemy import and_, bindparam, select, text, tuple_, update
from sqlalchemy.engine import Connection

from rcm_runtime.phi.documents import SealedColumns
from rcm_runtime.phi.sealing import Sealer
from rcm_runtime.tenant_scope import SETTING, SYSTEM

BATCH = 1000


def rewrite(conn: Connection, columns: SealedColumns, sealer: Sealer, *, seal: bool, batch: int = BATCH,
            log: Callable[[str], None] = lambda _: None) -> dict[str, int]:
    """Seals (seal=True) or opens every stored value of the service's PHI columns; returns the rows per table."""
    # row-level security holds for the owner too (FORCE): the system scope sees every tenant's rows
    conn.execute(text(f"SELECT set_config('{SETTING}', '{SYSTEM}', true)"))
    out = {}
    for table in dict.fromkeys(c.table for c in columns.columns):
        cols = columns.of(table)
        names = [c.column for c in cols]
        # sealing fills the blind indexes too (the revision adding them left them empty)
        written = names + [c.index for c in cols if seal and c.index is not None]
        pk = list(table.primary_key.columns)
        tenant = cols[0].tenant_column
        put = (update(table).where(and_(*(c == bindparam(f"pk_{c.name}") for c in pk)))
               .values({n: bindparam(f"v_{n}") for n in written}))
        last, done = None, 0
        while True:
            q = select(*pk, table.c[tenant], *(table.c[n] for n in names)).order_by(*pk).limit(batch)
            if last is not None:
                q = q.where(tuple_(*pk) > tuple_(*last))
            rows = conn.execute(q).all()
            if not rows:
                break
            params = []
            for row in rows:
                m = row._mapping
                change = columns.seal(table, dict(m), sealer=sealer) if seal else \
                    columns.open(table, m, sealer=sealer)
                params.append({**{f"pk_{c.name}": m[c.name] for c in pk}, **{f"v_{n}": change[n] for n in written}})
            conn.execute(put, params)
            last = tuple(rows[-1]._mapping[c.name] for c in pk)
            done += len(rows)
        out[table.name] = done
        log(f"{columns.service}.{table.name}: {done} rows {'sealed' if seal else 'opened'}")
    return out
