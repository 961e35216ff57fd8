"""row-level security on every tenant-scoped table (rcm_runtime.row_security)

Revision ID: 0006
Revises: 0005
"""
from rcm_runtime.migrations import protect_tenant_tables_downgrade as downgrade  # noqa: F401
from rcm_runtime.migrations import protect_tenant_tables_upgrade as upgrade  # noqa: F401

revision = '0006'
down_revision = '0005'
