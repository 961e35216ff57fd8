"""Alembic env for remittance: version table in the 'remittance' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_remittance.db import metadata
from rcm_remittance.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
