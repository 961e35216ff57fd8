"""resubmissions from the work queue: the request a corrected or rebilled claim went out under, the rebilled
claim's id (its payment recovers the item), and what recovered an item (amount, remittance)

Revision ID: 0013_resubmissions
Revises: 0012_appeals
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013_resubmissions'
down_revision = '0012_appeals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('denials', sa.Column('resubmission_id', postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column('denials', sa.Column('rebill_claim_id', postgresql.UUID(as_uuid=True), nullable=True))
    op.add_column('denials', sa.Column('recovered_amount', sa.Numeric(12, 2), nullable=True))
    op.add_column('denials', sa.Column('recovered_by_remittance_id', postgresql.UUID(as_uuid=True), nullable=True))
    # a payment on the rebilled claim finds the item it recovers
    op.create_index('ix_denials_rebill_claim', 'denials', ['tenant_id', 'rebill_claim_id'],
                    postgresql_where=sa.text('rebill_claim_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_denials_rebill_claim', table_name='denials')
    for column in ('recovered_by_remittance_id', 'recovered_amount', 'rebill_claim_id', 'resubmission_id'):
        op.drop_column('denials', column)
