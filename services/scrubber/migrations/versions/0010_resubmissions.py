"""resubmissions from denial work: each request (a corrected claim or a rebill) acted on once, with what became of
it, under row-level security; and the request a scrubbed claim answers (carried to submission)

Revision ID: 0010_resubmissions
Revises: 0009_proposals
"""
import sqlalchemy as sa
from alembic import op

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision = '0010_resubmissions'
down_revision = '0009_proposals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'resubmissions',
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('request_id', sa.Uuid(), nullable=False),
        sa.Column('denial_id', sa.Uuid(), nullable=False),
        sa.Column('claim_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(), nullable=False),
        sa.Column('resubmitted_claim_id', sa.Uuid(), nullable=True),
        sa.Column('outcome', sa.String(), nullable=False),
        sa.Column('reason', sa.String(), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'request_id', name='resubmissions_pkey'),
    )
    op.create_index('ix_resubmissions_claim', 'resubmissions', ['tenant_id', 'claim_id'])
    op.add_column('scrubbed_claims', sa.Column('resubmission_id', sa.Uuid(), nullable=True))
    protect_tenant_tables_upgrade()  # the new table under the tenant policy


def downgrade() -> None:
    op.drop_column('scrubbed_claims', 'resubmission_id')
    op.drop_index('ix_resubmissions_claim', table_name='resubmissions')
    op.drop_table('resubmissions')
