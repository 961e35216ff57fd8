"""Alembic env for patient-billing: version table in the 'patient_billing' schema (see rcm_runtime.migrations)."""

from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.migrations import run_migrations

from rcm_patient_billing.db import metadata
from rcm_patient_billing.settings import Settings

run_migrations(Settings(), [messaging_metadata, metadata])
