"""Outbox, inbox and dead-letter tables, and the audit trail's two (rcm_runtime.audit): the same in every
service's schema."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    ForeignKey,
    DateTime,
    FetchedValue,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from rcm_runtime.phi.documents import SealedColumn, SealedColumns

metadata = MetaData()

# Rows are deleted once the relay has published them: Kafka is the record of what was sent.
outbox = Table(
    "outbox",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("event_type", Text, nullable=False),
    Column("tenant_id", Text, nullable=False),
    Column("traceparent", Text),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# One row per applied event: written in the same transaction as the handler's effects.
inbox = Table(
    "inbox",
    metadata,
    Column("event_id", UUID(as_uuid=True), primary_key=True),
    Column("event_type", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Retention deletes by age (rcm_runtime.inbox); BRIN suits an append-ordered timestamp and costs
    # next to nothing on insert.
    Index("ix_inbox_received_at", "received_at", postgresql_using="brin"),
)

# Records that could not be applied, with the reason (field names and error types, never values) and the record
# itself (`payload`, kept for redrive: rcm_runtime.dead_letters). status: open | redriven (applied again; if it
# failed again, `redriven_to` is its new open row) | resolved (closed by an operator without redrive).
# `closed_by`/`closed_at`: the operator who took it out of `open`, and when.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("key", Text),
    Column("event_id", Text),
    Column("event_type", Text),
    Column("tenant_id", Text),
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary),
    Column("status", Text, nullable=False, server_default="open"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("closed_by", Text),
    Column("closed_at", DateTime(timezone=True)),
    Column("redriven_to", BigInteger, ForeignKey("dead_letters.id")),
    # One OPEN row per record: a redelivery does not add another (ON CONFLICT DO NOTHING), while a record that
    # fails again after a redrive gets a new open row beside its redriven one.
    Index("ix_dead_letters_source", "topic", "partition", "offset", unique=True,
          postgresql_where=text("status = 'open'")),
)

# PHI at rest (rcm_runtime.phi): events carry claims (patients, member ids), so an outbox row's payload is sealed
# until the relay publishes it, and a dead letter's kept record until it is redriven (a dead letter of no tenant,
# a record that did not decode, is bound to the empty tenant).
PHI = SealedColumns("messaging", (SealedColumn(outbox, "payload", kind="bytes"),
                                  SealedColumn(dead_letters, "payload", kind="bytes")))

# The audit trail (rcm_runtime.audit): who read PHI or moved money or codes, for which tenant, what, when, from
# where and with what outcome. One hash chain per tenant: `seq`, `at`, `prev_hash` and `hash` are set by a BEFORE
# INSERT trigger owned by the schema owner (whatever the application sends), each hash covering the row's content
# and the previous row's hash. The runtime role may INSERT and SELECT, never UPDATE, DELETE or TRUNCATE.
audit_log = Table(
    "audit_log",
    metadata,
    Column("tenant_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False, server_default=FetchedValue()),  # place in the tenant's chain, from 1
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("actor", Text, nullable=False),  # the token's sub, apikey:<digest prefix>, or the service
    Column("actor_kind", Text, nullable=False),  # user | api_key | service
    Column("roles", ARRAY(Text), nullable=False, server_default="{}"),
    Column("category", Text, nullable=False),  # phi_read | money | codes
    Column("action", Text, nullable=False),  # e.g. remittance.release, ledger.read
    Column("resource_type", Text, nullable=False),
    Column("resource_ids", ARRAY(Text), nullable=False, server_default="{}"),  # ids only, never PHI values
    Column("outcome", Text, nullable=False),  # allowed | denied | failed
    Column("status", Integer),  # the HTTP status (None for a consumed batch)
    Column("source", Text, nullable=False),  # client address, or topic/partition:offsets
    Column("request_id", Text),  # the request's trace id
    Column("detail", JSONB),  # non-PHI particulars (a consumed batch: its event types and counts)
    Column("prev_hash", LargeBinary, nullable=False, server_default=FetchedValue()),
    Column("hash", LargeBinary, nullable=False, server_default=FetchedValue()),
    PrimaryKeyConstraint("tenant_id", "seq", name="audit_log_pkey"),
    Index("ix_audit_log_tenant_at", "tenant_id", "at"),
)

# Each tenant's chain head: the trigger locks it (FOR UPDATE) to serialise the tenant's appends; verification
# compares it with the last row, so rows cut off the end are seen too. The runtime role may only read it.
audit_chain = Table(
    "audit_chain",
    metadata,
    Column("tenant_id", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)
