"""Alembic env for submission: version table in the 'submission' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_submission.db import metadata
from rcm_submission.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
