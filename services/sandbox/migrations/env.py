"""Alembic env for sandbox: version table in the 'sandbox' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_sandbox.db import metadata
from rcm_sandbox.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
