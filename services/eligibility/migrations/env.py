"""Alembic env for eligibility: version table in the 'eligibility' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_eligibility.db import metadata
from rcm_eligibility.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
