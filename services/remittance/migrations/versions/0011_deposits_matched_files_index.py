"""deposits.matched_file_ids GIN index: reassociation asks which older ERAs no deposit has paid yet

Revision ID: 0011
Revises: 0010
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0011'
down_revision: Union[str, None] = '0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_deposits_matched_file_ids', 'deposits', ['matched_file_ids'], unique=False,
                    postgresql_using='gin', postgresql_ops={'matched_file_ids': 'jsonb_path_ops'})


def downgrade() -> None:
    op.drop_index('ix_deposits_matched_file_ids', table_name='deposits')
