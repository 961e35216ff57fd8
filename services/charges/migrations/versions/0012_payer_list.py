"""the tenant's payer list: payers it bills and the names and ids EHRs send for them (aliases), under row-level
security

Revision ID: 0012_payers
Revises: 0011_mllp
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision = '0012_payers'
down_revision = '0011_mllp'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'payers',
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('payer_id', sa.String(), nullable=False),
        sa.Column('name', sa.String(), nullable=False),
        sa.Column('aliases', postgresql.JSONB(), nullable=False, server_default='[]'),
        sa.Column('updated_by', sa.String(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'payer_id'),
    )
    protect_tenant_tables_upgrade()  # the new table under the tenant policy


def downgrade() -> None:
    op.drop_table('payers')
