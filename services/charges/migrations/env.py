"""Alembic env for charges: version table in the 'charges' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_charges.db import metadata
from rcm_charges.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
