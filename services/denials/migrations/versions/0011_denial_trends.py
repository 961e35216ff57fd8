"""denial trends: facts of every posted payment, denied lines, rule recommendations and the tenant's pattern
threshold, under row-level security

Revision ID: 0011_trends
Revises: 0010_work
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision = '0011_trends'
down_revision = '0010_work'
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.func.now()
    op.create_table(
        'payment_facts',
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('remittance_id', sa.Uuid(), nullable=False),
        sa.Column('claim_id', sa.Uuid(), nullable=False),
        sa.Column('payer_id', sa.String(), nullable=False),
        sa.Column('provider_npi', sa.String(), nullable=True),
        sa.Column('remittance_date', sa.Date(), nullable=False),
        sa.Column('billed_amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('denied_amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('denied', sa.Boolean(), nullable=False),
        sa.Column('root_cause', sa.String(), nullable=True),
        sa.Column('reason_codes', postgresql.JSONB(), nullable=False),
        sa.Column('carc_amounts', postgresql.JSONB(), nullable=False),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'remittance_id'),
    )
    op.create_table(
        'denied_lines',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('remittance_id', sa.Uuid(), nullable=False),
        sa.Column('claim_id', sa.Uuid(), nullable=False),
        sa.Column('payer_id', sa.String(), nullable=False),
        sa.Column('procedure_code', sa.String(), nullable=False),
        sa.Column('carc', sa.String(), nullable=False),
        sa.Column('amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('remittance_date', sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_denied_lines_pattern', 'denied_lines',
                    ['tenant_id', 'payer_id', 'procedure_code', 'carc', 'remittance_date'])
    op.create_table(
        'rule_recommendations',
        sa.Column('recommendation_id', sa.Uuid(), nullable=False),
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('payer_id', sa.String(), nullable=False),
        sa.Column('procedure_code', sa.String(), nullable=False),
        sa.Column('carc', sa.String(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('threshold', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.Date(), nullable=False),
        sa.Column('window_end', sa.Date(), nullable=False),
        sa.Column('denied_amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint('recommendation_id'),
        sa.UniqueConstraint('tenant_id', 'payer_id', 'procedure_code', 'carc', 'window_end',
                            name='uq_rule_recommendations_pattern_window'),
    )
    op.create_index('ix_rule_recommendations_tenant_id', 'rule_recommendations', ['tenant_id'])
    op.create_table(
        'trend_settings',
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('rule_threshold', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.PrimaryKeyConstraint('tenant_id'),
    )
    protect_tenant_tables_upgrade()  # the new tables under the tenant policy


def downgrade() -> None:
    op.drop_table('trend_settings')
    op.drop_index('ix_rule_recommendations_tenant_id', table_name='rule_recommendations')
    op.drop_table('rule_recommendations')
    op.drop_index('ix_denied_lines_pattern', table_name='denied_lines')
    op.drop_table('denied_lines')
    op.drop_table('payment_facts')
