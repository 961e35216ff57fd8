"""payment plans per patient account (set by billing staff), under row-level security

Revision ID: 0009
Revises: 0008
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'payment_plans',
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('patient_account', sa.String(length=64), nullable=False),
        sa.Column('installment', sa.Numeric(12, 2), nullable=False),
        sa.Column('day_of_month', sa.Integer(), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('set_by', sa.String(), nullable=False),
        sa.Column('set_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'patient_account', name='payment_plans_pkey'),
    )
    protect_tenant_tables_upgrade()  # the new table under the tenant policy


def downgrade() -> None:
    op.drop_table('payment_plans')
