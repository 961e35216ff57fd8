"""claim_refs: the place of service the claim was submitted with (contract pricing)

Revision ID: 0008
Revises: 0007
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: Union[str, None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('claim_refs', sa.Column('place_of_service', sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column('claim_refs', 'place_of_service')
