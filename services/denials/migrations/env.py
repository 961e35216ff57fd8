"""Alembic env for denials: version table in the 'denials' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_denials.db import metadata
from rcm_denials.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
