"""deposits (BAI2/CSV bank deposits, once per tenant, file and line) and era_payments (each remittance file's
checks: TRN02, BPR02, method, date) for ERA-to-deposit reassociation

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('deposits',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(), nullable=False),
    sa.Column('file_sha256', sa.String(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('deposit_date', sa.Date(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('trace', sa.String(), nullable=True),
    sa.Column('trace_key', sa.String(), nullable=True),
    sa.Column('bank_reference', sa.String(), nullable=True),
    sa.Column('customer_reference', sa.String(), nullable=True),
    sa.Column('type_code', sa.String(), nullable=True),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('matched_by', sa.String(), nullable=True),
    sa.Column('matched_file_ids', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('difference', sa.Numeric(precision=12, scale=2), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'file_sha256', 'line', name='uq_deposit_file_line')
    )
    op.create_index('ix_deposits_tenant_status', 'deposits', ['tenant_id', 'status'], unique=False)
    op.create_table('era_payments',
    sa.Column('tenant_id', sa.String(), nullable=False),
    sa.Column('file_id', sa.Uuid(), nullable=False),
    sa.Column('check_index', sa.Integer(), nullable=False),
    sa.Column('trace', sa.String(), nullable=False),
    sa.Column('trace_key', sa.String(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('payment_date', sa.Date(), nullable=True),
    sa.Column('method', sa.String(), nullable=True),
    sa.Column('payer_id', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('tenant_id', 'file_id', 'check_index')
    )


def downgrade() -> None:
    op.drop_table('era_payments')
    op.drop_index('ix_deposits_tenant_status', table_name='deposits')
    op.drop_table('deposits')
