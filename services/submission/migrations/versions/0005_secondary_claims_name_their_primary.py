"""secondary claims name their primary claim (submissions.primary_claim_id)

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('submissions', sa.Column('primary_claim_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column('submissions', 'primary_claim_id')
