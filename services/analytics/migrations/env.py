"""Alembic env for analytics: version table in the 'analytics' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_analytics.db import metadata
from rcm_analytics.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
