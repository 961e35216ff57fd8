"""row-level security on every tenant-scoped table: a transaction sees and writes the rows of its tenant scope
only (rcm_runtime.row_security, rcm_runtime.tenant_scope)

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

from alembic import op

from rcm_runtime.row_security import protect_tenant_tables, unprotect_tenant_tables

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    protect_tenant_tables(op.get_bind())


def downgrade() -> None:
    unprotect_tenant_tables(op.get_bind())
