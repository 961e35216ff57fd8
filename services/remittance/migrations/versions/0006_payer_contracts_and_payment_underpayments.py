"""payer contracts (fee table and/or Medicare percentage, tolerance) per tenant and payer, and the
underpayment finding of each posted payment paid incorrectly

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    now = sa.text('now()')
    op.create_table(
        'payer_contracts',
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('payer_id', sa.String(), nullable=False),
        sa.Column('fee_table', sa.Text(), nullable=True),
        sa.Column('fee_table_rows', sa.Integer(), server_default='0', nullable=False),
        sa.Column('medicare_percent', sa.Numeric(7, 3), nullable=True),
        sa.Column('medicare_mac', sa.String(), nullable=True),
        sa.Column('medicare_locality', sa.String(), nullable=True),
        sa.Column('tolerance_absolute', sa.Numeric(12, 2), nullable=True),
        sa.Column('tolerance_percent', sa.Numeric(7, 3), nullable=True),
        sa.Column('version', sa.Integer(), server_default='1', nullable=False),
        sa.Column('updated_by', sa.String(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'payer_id'),
    )
    op.create_table(
        'payment_underpayments',
        sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('remittance_id', sa.Uuid(), nullable=False),
        sa.Column('claim_id', sa.Uuid(), nullable=False),
        sa.Column('file_id', sa.Uuid(), nullable=True),
        sa.Column('payer_id', sa.String(), nullable=False),
        sa.Column('contract_version', sa.Integer(), nullable=False),
        sa.Column('expected_allowed', sa.Numeric(12, 2), nullable=False),
        sa.Column('actual_allowed', sa.Numeric(12, 2), nullable=False),
        sa.Column('difference', sa.Numeric(12, 2), nullable=False),
        sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column('found_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('tenant_id', 'remittance_id', name='uq_payment_underpayment'),
    )
    op.create_index('ix_payment_underpayments_tenant_claim', 'payment_underpayments', ['tenant_id', 'claim_id'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_payment_underpayments_tenant_claim', table_name='payment_underpayments')
    op.drop_table('payment_underpayments')
    op.drop_table('payer_contracts')
