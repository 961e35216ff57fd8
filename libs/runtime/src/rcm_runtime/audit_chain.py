"""The audit trail's hash chain, in the database: one chain per tenant in each service schema's `audit_log`
(rcm_runtime.messaging), linked by a BEFORE INSERT trigger the application cannot get around.

- `audit_log_chain()` (the trigger, SECURITY DEFINER: it runs as the schema owner who created it) locks the
  tenant's head in `audit_chain` (SELECT ... FOR UPDATE: concurrent appends of one tenant queue there, other
  tenants do not wait), and sets the row's `seq` (head + 1), `at` (the database's clock), `prev_hash` (the head's
  hash) and `hash`, overwriting whatever the INSERT sent, then moves the head. The lock is held to the end of the
  transaction, so the application appends its rows last (just before commit).
- `hash = sha256(prev_hash || canonical text of the row)`, the text being `audit_log_digest()`'s JSON array of
  every other column (the time as integer microseconds since the epoch, so no session time zone changes it).
  The first row of a tenant follows `GENESIS` (32 zero bytes).
- Verification (`verify`) recomputes every row's hash in SQL with the same function and checks each row follows
  the one before (seq + 1, prev_hash = its hash) and the head names the last row: it reports the first sequence
  that breaks. A superuser rewriting a row shows up there; one rewriting the chain from a row to the head does
  not, unless the head's hash was kept elsewhere (the verify answer gives it, for auditors to note).

The runtime role may INSERT and SELECT `audit_log` and only SELECT `audit_chain` (rcm_runtime.row_security).
All functions work on the current schema of a sync connection (Alembic's bind, or AsyncConnection.run_sync).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

GENESIS = bytes(32)

# The canonical content of a row: every column but the two hashes, in a fixed order.
_DIGEST = """
CREATE OR REPLACE FUNCTION audit_log_digest(prev bytea, r audit_log) RETURNS bytea
LANGUAGE sql STABLE AS $$
  SELECT sha256(prev || convert_to(jsonb_build_array(
    r.tenant_id, r.seq, (extract(epoch FROM r.at) * 1000000)::bigint, r.actor, r.actor_kind, r.roles, r.category,
    r.action, r.resource_type, r.resource_ids, r.outcome, r.status, r.source, r.request_id, r.detail)::text, 'UTF8'))
$$"""

_TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_log_chain() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$
DECLARE
  head_seq bigint;
  head_hash bytea;
BEGIN
  SELECT seq, hash INTO head_seq, head_hash FROM audit_chain WHERE tenant_id = NEW.tenant_id FOR UPDATE;
  IF NOT FOUND THEN
    INSERT INTO audit_chain (tenant_id, seq, hash) VALUES (NEW.tenant_id, 0, '\\x{genesis}'::bytea)
      ON CONFLICT (tenant_id) DO NOTHING;
    SELECT seq, hash INTO head_seq, head_hash FROM audit_chain WHERE tenant_id = NEW.tenant_id FOR UPDATE;
  END IF;
  NEW.seq := head_seq + 1;
  NEW.at := clock_timestamp();
  NEW.prev_hash := head_hash;
  NEW.hash := audit_log_digest(head_hash, NEW);
  UPDATE audit_chain SET seq = NEW.seq, hash = NEW.hash WHERE tenant_id = NEW.tenant_id;
  RETURN NEW;
END $$"""


def install_chain(conn: Connection) -> None:
    """Create (or replace) the digest function, the trigger function and the trigger on `audit_log` of the
    current schema. Run by its owner (a migration), never by the runtime role."""
    schema = conn.execute(text("SELECT quote_ident(current_schema())")).scalar_one()
    conn.execute(text(_DIGEST))
    conn.execute(text(_TRIGGER_FUNCTION.format(schema=schema, genesis=GENESIS.hex())))
    conn.execute(text("REVOKE ALL ON FUNCTION audit_log_chain() FROM PUBLIC"))
    conn.execute(text("DROP TRIGGER IF EXISTS audit_log_chain ON audit_log"))
    conn.execute(text("CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log "
                      "FOR EACH ROW EXECUTE FUNCTION audit_log_chain()"))


def uninstall_chain(conn: Connection) -> None:
    conn.execute(text("DROP TRIGGER IF EXISTS audit_log_chain ON audit_log"))
    conn.execute(text("DROP FUNCTION IF EXISTS audit_log_chain()"))
    conn.execute(text("DROP FUNCTION IF EXISTS audit_log_digest(bytea, audit_log)"))


@dataclass(frozen=True)
class Verdict:
    intact: bool
    rows: int  # rows of the tenant's chain read
    head_seq: int  # what the head says: the chain's length
    head_hash: str | None  # hex; keep it elsewhere to detect a rewrite of the whole tail
    first_broken_seq: int | None = None
    reason: str | None = None

    def as_json(self) -> dict:
        return {"intact": self.intact, "rows": self.rows, "head": {"seq": self.head_seq, "hash": self.head_hash},
                "first_broken_seq": self.first_broken_seq, "reason": self.reason}


# One pass over the tenant's rows in chain order: each recomputed hash, and the row before it.
_WALK = text("""
SELECT seq, reason FROM (
  SELECT seq,
         CASE WHEN seq <> coalesce(lag(seq) OVER w, 0) + 1 THEN 'a row is missing before it'
              WHEN prev_hash <> coalesce(lag(hash) OVER w, :genesis) THEN 'it does not follow the row before it'
              WHEN hash <> audit_log_digest(prev_hash, a) THEN 'its content does not match its hash'
         END AS reason
    FROM audit_log a WHERE tenant_id = :tenant WINDOW w AS (ORDER BY seq)) walked
 WHERE reason IS NOT NULL ORDER BY seq LIMIT 1""")
_LAST = text("SELECT count(*), max(seq), (SELECT hash FROM audit_log WHERE tenant_id = :tenant ORDER BY seq DESC "
             "LIMIT 1) FROM audit_log WHERE tenant_id = :tenant")
_HEAD = text("SELECT seq, hash FROM audit_chain WHERE tenant_id = :tenant")


async def verify(conn: AsyncConnection, tenant_id: str) -> Verdict:
    """Walk the tenant's chain (in a connection scoped to that tenant): intact, or the first broken sequence."""
    head = (await conn.execute(_HEAD, {"tenant": tenant_id})).first()
    head_seq, head_hash = (head.seq, bytes(head.hash)) if head else (0, GENESIS)
    count, last_seq, last_hash = (await conn.execute(_LAST, {"tenant": tenant_id})).one()
    hex_head = head_hash.hex() if head else None
    broken = (await conn.execute(_WALK, {"tenant": tenant_id, "genesis": GENESIS})).first()
    if broken is not None:
        return Verdict(False, count, head_seq, hex_head, broken.seq, broken.reason)
    if (last_seq or 0) != head_seq or (last_hash is not None and bytes(last_hash) != head_hash):
        # the walk is sound but stops short of the head: rows were cut off the end (or the head was moved)
        return Verdict(False, count, head_seq, hex_head, (last_seq or 0) + 1,
                       "the chain ends before its head: rows are missing at the end")
    return Verdict(True, count, head_seq, hex_head)
