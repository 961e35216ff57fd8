"""payer claims: reprocessing (reversal and correction) and overpayment recovery

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('payer_claims', sa.Column('reprocess_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('payer_claims', sa.Column('recoupment_due', sa.Numeric(12, 2), nullable=True))
    op.add_column('payer_claims', sa.Column('recouped_at', sa.DateTime(timezone=True), nullable=True))
    # the remitter looks for the few claims with something left to do on every cycle
    op.create_index('ix_payer_claims_reprocess_at', 'payer_claims', ['reprocess_at'],
                    postgresql_where=sa.text('reprocess_at IS NOT NULL'))
    op.create_index('ix_payer_claims_recoupment_due', 'payer_claims', ['tenant_id'],
                    postgresql_where=sa.text('recoupment_due IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_payer_claims_recoupment_due', table_name='payer_claims')
    op.drop_index('ix_payer_claims_reprocess_at', table_name='payer_claims')
    op.drop_column('payer_claims', 'recouped_at')
    op.drop_column('payer_claims', 'recoupment_due')
    op.drop_column('payer_claims', 'reprocess_at')
