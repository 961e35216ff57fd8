"""inbox retention: BRIN index on inbox.received_at (rcm_runtime.inbox prunes by age)

Revision ID: 0003
Revises: 0002
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0003'
down_revision: Union[str, None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_inbox_received_at', 'inbox', ['received_at'], unique=False, postgresql_using='brin')


def downgrade() -> None:
    op.drop_index('ix_inbox_received_at', table_name='inbox')
