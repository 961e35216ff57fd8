"""patient accounts on balances (linked by staff) and the patients' own payments, under row-level security

Revision ID: 0008
Revises: 0007
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('patient_balances', sa.Column('patient_account', sa.String(length=64), nullable=True))
    op.add_column('patient_balances', sa.Column('account_linked_by', sa.String(), nullable=True))
    op.create_index('ix_patient_balances_tenant_account', 'patient_balances', ['tenant_id', 'patient_account'])
    op.create_table(
        'patient_payments',
        sa.Column('payment_id', sa.Uuid(), primary_key=True),
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('patient_account', sa.String(), nullable=False),
        sa.Column('statement_id', sa.Uuid(), nullable=False),
        sa.Column('amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('reference', sa.String(), nullable=False),
        sa.Column('paid_by', sa.String(), nullable=False),
        sa.Column('paid_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint('tenant_id', 'patient_account', 'reference', name='uq_patient_payments_reference'),
    )
    op.create_index('ix_patient_payments_tenant_id', 'patient_payments', ['tenant_id'])
    op.create_index('ix_patient_payments_statement_id', 'patient_payments', ['statement_id'])
    protect_tenant_tables_upgrade()  # the new table under the tenant policy


def downgrade() -> None:
    op.drop_table('patient_payments')
    op.drop_index('ix_patient_balances_tenant_account', table_name='patient_balances')
    op.drop_column('patient_balances', 'account_linked_by')
    op.drop_column('patient_balances', 'patient_account')
