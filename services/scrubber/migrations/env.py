"""Alembic env for scrubber: version table in the 'scrubber' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_scrubber.db import metadata
from rcm_scrubber.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
