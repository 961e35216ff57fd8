"""appeal packets: each tenant's editable appeal arguments (per root cause) and closing, under row-level security;
the paid amount and payer claim number of each payment fact (what the letter states)

Revision ID: 0012_appeals
Revises: 0011_trends
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision = '0012_appeals'
down_revision = '0011_trends'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('payment_facts', sa.Column('paid_amount', sa.Numeric(12, 2), nullable=True))
    op.add_column('payment_facts', sa.Column('payer_claim_number', sa.String(), nullable=True))
    op.create_table(
        'appeal_templates',
        sa.Column('tenant_id', sa.String(), primary_key=True),
        sa.Column('arguments', postgresql.JSONB(), nullable=False, server_default='{}'),
        sa.Column('closing', sa.Text(), nullable=True),
        sa.Column('updated_by', sa.String(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    protect_tenant_tables_upgrade()  # the new table under the tenant policy


def downgrade() -> None:
    op.drop_table('appeal_templates')
    op.drop_column('payment_facts', 'payer_claim_number')
    op.drop_column('payment_facts', 'paid_amount')
