"""rule proposals: custom rules suggested by denial patterns (denials' DenialRuleRecommended), approved into the
tenant's rule set for the payer or dismissed, under row-level security

Revision ID: 0009_proposals
Revises: 0008_audit
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision = '0009_proposals'
down_revision = '0008_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'rule_proposals',
        sa.Column('proposal_id', sa.Uuid(), nullable=False),
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('payer_id', sa.String(), nullable=False),
        sa.Column('procedure_code', sa.String(), nullable=False),
        sa.Column('carc', sa.String(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('threshold', sa.Integer(), nullable=False),
        sa.Column('window_start', sa.Date(), nullable=False),
        sa.Column('window_end', sa.Date(), nullable=False),
        sa.Column('denied_amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('rule', postgresql.JSONB(), nullable=False),
        sa.Column('status', sa.String(), nullable=False),
        sa.Column('decided_by', sa.String(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('rule_set_version', sa.Integer(), nullable=True),
        sa.Column('note', sa.String(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'proposal_id', name='rule_proposals_pkey'),
    )
    op.create_index('ix_rule_proposals_status', 'rule_proposals', ['status'])
    protect_tenant_tables_upgrade()  # the new table under the tenant policy


def downgrade() -> None:
    op.drop_index('ix_rule_proposals_status', table_name='rule_proposals')
    op.drop_table('rule_proposals')
