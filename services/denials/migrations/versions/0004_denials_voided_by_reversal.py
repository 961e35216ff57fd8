"""denials.voided_by_remittance_id and voided_at: a PaymentReversed voids (status 'voided') the denial recorded for
the remittance it takes back; the row is kept.

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
    op.add_column('denials', sa.Column('voided_by_remittance_id', sa.Uuid(), nullable=True))
    op.add_column('denials', sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('denials', 'voided_at')
    op.drop_column('denials', 'voided_by_remittance_id')
