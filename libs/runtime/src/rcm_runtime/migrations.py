"""Shared Alembic env for services: version table lives inside the service's own schema.

Migrations run as the schema's owner (RCM_MIGRATION_DATABASE_URL); after them, in the same transaction, the
runtime role (the user of RCM_DATABASE_URL) gets its privileges (rcm_runtime.row_security.grant_runtime), and a
tenant-scoped table left without row-level security stops the upgrade: every such table must be protected by a
migration (rcm_runtime.row_security.protect_tenant_tables)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from rcm_runtime import phi
from rcm_runtime.audit_chain import install_chain, uninstall_chain
from rcm_runtime.row_security import grant_runtime, protect_tenant_tables, unprotect_tenant_tables, unprotected_tables
from rcm_runtime.secret_settings import refuse_insecure
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.tls import db_connect_args


class UnprotectedTables(RuntimeError):
    """A migration created a tenant-scoped table without row-level security."""


def dead_letters_redrive_upgrade() -> None:
    """The upgrade of each service's dead-letter redrive revision (rcm_runtime.dead_letters): who redrove or resolved
    a dead letter and when, the new dead letter of a record that failed again, one OPEN dead letter per record."""
    import sqlalchemy as sa
    from alembic import op

    op.add_column('dead_letters', sa.Column('closed_by', sa.Text(), nullable=True))
    op.add_column('dead_letters', sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('dead_letters', sa.Column('redriven_to', sa.BigInteger(), nullable=True))
    op.create_foreign_key('dead_letters_redriven_to_fkey', 'dead_letters', 'dead_letters', ['redriven_to'], ['id'])
    # A record redriven and failing again gets a new open row beside its redriven one.
    op.drop_index('ix_dead_letters_source', table_name='dead_letters')
    op.create_index('ix_dead_letters_source', 'dead_letters', ['topic', 'partition', 'offset'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))


def dead_letters_redrive_downgrade() -> None:
    from alembic import op

    op.drop_index('ix_dead_letters_source', table_name='dead_letters')
    op.execute("DELETE FROM dead_letters WHERE status <> 'open'")
    op.create_index('ix_dead_letters_source', 'dead_letters', ['topic', 'partition', 'offset'], unique=True)
    op.drop_constraint('dead_letters_redriven_to_fkey', 'dead_letters', type_='foreignkey')
    op.drop_column('dead_letters', 'redriven_to')
    op.drop_column('dead_letters', 'closed_at')
    op.drop_column('dead_letters', 'closed_by')


def _messaging_phi(messaging: bool):
    from rcm_runtime.messaging import PHI as MESSAGING_PHI
    return (MESSAGING_PHI,) if messaging else ()


def seal_phi_upgrade(columns, *, messaging: bool = True) -> None:
    """The upgrade of a service's PHI revision: its stored PHI (its own columns, and, `messaging`, the payloads of its
    outbox and dead letters: the first PHI revision of a service) sealed in place, in batches (rcm_runtime.phi)."""
    from rcm_runtime.phi.existing_rows import rewrite
    for each in (*_messaging_phi(messaging), columns):
        rewrite(context.get_bind(), each, phi.sealer(), seal=True)


def seal_phi_downgrade(columns, *, messaging: bool = True) -> None:
    from rcm_runtime.phi.existing_rows import rewrite
    for each in (columns, *_messaging_phi(messaging)):
        rewrite(context.get_bind(), each, phi.sealer(), seal=False)


def seal_phi_steps(columns, *, messaging: bool = True):
    """(upgrade, downgrade) of a service's PHI revision that does nothing else:
    `upgrade, downgrade = seal_phi_steps(PHI)`; a later revision sealing more columns of a service passes them alone
    (`PHI.only(table)`) and `messaging=False` (its outbox and dead letters were sealed by the first)."""
    return (lambda: seal_phi_upgrade(columns, messaging=messaging)), \
        (lambda: seal_phi_downgrade(columns, messaging=messaging))


def audit_trail_upgrade() -> None:
    """The upgrade of each service's audit trail revision (rcm_runtime.audit): `audit_log` and `audit_chain`
    (as rcm_runtime.messaging declares them), the chain's trigger, and row-level security on both."""
    import sqlalchemy as sa
    from alembic import op
    from sqlalchemy.dialects import postgresql

    op.create_table(
        'audit_log',
        sa.Column('tenant_id', sa.Text(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('actor', sa.Text(), nullable=False),
        sa.Column('actor_kind', sa.Text(), nullable=False),
        sa.Column('roles', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
        sa.Column('category', sa.Text(), nullable=False),
        sa.Column('action', sa.Text(), nullable=False),
        sa.Column('resource_type', sa.Text(), nullable=False),
        sa.Column('resource_ids', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
        sa.Column('outcome', sa.Text(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('source', sa.Text(), nullable=False),
        sa.Column('request_id', sa.Text(), nullable=True),
        sa.Column('detail', postgresql.JSONB(), nullable=True),
        sa.Column('prev_hash', sa.LargeBinary(), nullable=False),
        sa.Column('hash', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'seq', name='audit_log_pkey'),
    )
    op.create_index('ix_audit_log_tenant_at', 'audit_log', ['tenant_id', 'at'])
    op.create_table(
        'audit_chain',
        sa.Column('tenant_id', sa.Text(), nullable=False),
        sa.Column('seq', sa.BigInteger(), nullable=False),
        sa.Column('hash', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id'),
    )
    install_chain(context.get_bind())
    protect_tenant_tables(context.get_bind())


def audit_trail_downgrade() -> None:
    from alembic import op

    uninstall_chain(context.get_bind())
    op.drop_table('audit_chain')
    op.drop_index('ix_audit_log_tenant_at', table_name='audit_log')
    op.drop_table('audit_log')


def protect_tenant_tables_upgrade() -> None:
    """The upgrade of each service's row-level security revision (and of any later one adding tenant tables)."""
    protect_tenant_tables(context.get_bind())


def protect_tenant_tables_downgrade() -> None:
    unprotect_tenant_tables(context.get_bind())


def runtime_role(settings: ServiceSettings) -> str | None:
    """The role the service runs as, when migrations run as another one (its owner); None otherwise."""
    if not settings.migration_database_url:
        return None
    runtime = make_url(settings.database_url).username
    owner = make_url(settings.migration_database_url).username
    return runtime if runtime and runtime != owner else None


def secure(connection: Connection, settings: ServiceSettings) -> None:
    role = runtime_role(settings)
    if role is not None:
        grant_runtime(connection, role)
    missing = unprotected_tables(connection)
    if missing:
        raise UnprotectedTables(f"tenant-scoped tables without row-level security: {', '.join(missing)}; add a "
                                "migration calling rcm_runtime.row_security.protect_tenant_tables")


def run_migrations(settings: ServiceSettings, target_metadata: MetaData | list[MetaData]) -> None:
    refuse_insecure(settings)  # `serve --migrate` stops here, before touching the database, as the app would
    phi.configure(settings)  # revisions that seal existing rows use the service's keyring
    schema = settings.db_schema

    def do_run(connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=schema,
            include_schemas=False,
            compare_type=True,
            include_object=lambda obj, name, type_, reflected, compare_to: not (type_ == "table" and name == "alembic_version"),
        )
        with context.begin_transaction():
            context.run_migrations()
            at_head = context.get_head_revision() == context.get_context().get_current_revision()
            if at_head and not context.is_offline_mode():  # not after a downgrade
                secure(connection, settings)

    async def run_async() -> None:
        engine = create_async_engine(
            settings.migration_database_url or settings.database_url, poolclass=pool.NullPool,
            connect_args={"server_settings": {"search_path": schema}, **db_connect_args(settings)},
        )
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(run_async())
