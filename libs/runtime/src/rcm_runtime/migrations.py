"""Shared Alembic env for services: version table lives inside the service's own schema."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import create_async_engine

from rcm_runtime.secret_settings import refuse_insecure
from rcm_runtime.settings import ServiceSettings


def run_migrations(settings: ServiceSettings, target_metadata: MetaData | list[MetaData]) -> None:
    refuse_insecure(settings)  # `serve --migrate` stops here, before touching the database, as the app would
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

    async def run_async() -> None:
        engine = create_async_engine(
            settings.database_url, poolclass=pool.NullPool,
            connect_args={"server_settings": {"search_path": schema}},
        )
        async with engine.connect() as conn:
            await conn.run_sync(do_run)
            await conn.commit()
        await engine.dispose()

    asyncio.run(run_async())
