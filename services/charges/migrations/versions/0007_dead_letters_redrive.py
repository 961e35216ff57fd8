"""dead letters redriven: who redrove (or resolved) one and when, the new dead letter of a record that failed
again; one OPEN dead letter per record (rcm_runtime.dead_letters)

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
    op.add_column('dead_letters', sa.Column('closed_by', sa.Text(), nullable=True))
    op.add_column('dead_letters', sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('dead_letters', sa.Column('redriven_to', sa.BigInteger(), nullable=True))
    op.create_foreign_key('dead_letters_redriven_to_fkey', 'dead_letters', 'dead_letters', ['redriven_to'], ['id'])
    # A record redriven and failing again gets a new open row beside its redriven one.
    op.drop_index('ix_dead_letters_source', table_name='dead_letters')
    op.create_index('ix_dead_letters_source', 'dead_letters', ['topic', 'partition', 'offset'], unique=True,
                    postgresql_where=sa.text("status = 'open'"))


def downgrade() -> None:
    op.drop_index('ix_dead_letters_source', table_name='dead_letters')
    op.execute("DELETE FROM dead_letters WHERE status <> 'open'")
    op.create_index('ix_dead_letters_source', 'dead_letters', ['topic', 'partition', 'offset'], unique=True)
    op.drop_constraint('dead_letters_redriven_to_fkey', 'dead_letters', type_='foreignkey')
    op.drop_column('dead_letters', 'redriven_to')
    op.drop_column('dead_letters', 'closed_at')
    op.drop_column('dead_letters', 'closed_by')
