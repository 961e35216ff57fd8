"""Alembic env for coding: version table in the 'coding' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_coding.db import metadata
from rcm_coding.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
