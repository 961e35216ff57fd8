"""claim_refs: payer responsibility and next payer (coordination of benefits)

Revision ID: 0007
Revises: 0006
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0007'
down_revision: Union[str, None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('claim_refs', sa.Column('payer_responsibility', sa.String(), nullable=True))
    op.add_column('claim_refs', sa.Column('next_payer_id', sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column('claim_refs', 'next_payer_id')
    op.drop_column('claim_refs', 'payer_responsibility')
