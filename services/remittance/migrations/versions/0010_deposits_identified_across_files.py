"""deposits.deposit_key: a deposit is identified across bank files (trace or bank reference, date, amount)

Existing rows get their natural key; where two rows share one (the same deposit uploaded in two overlapping
files before this revision), the later rows keep a key of their file and line, so nothing is deleted.

Revision ID: 0010
Revises: 0009
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0010'
down_revision: Union[str, None] = '0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('deposits', sa.Column('deposit_key', sa.String(), nullable=True))
    op.execute("""
        WITH keyed AS (
            SELECT id, CASE
                WHEN trace_key IS NOT NULL THEN 'trace:' || deposit_date::text || ':' || amount::text || ':' || trace_key
                WHEN coalesce(regexp_replace(bank_reference, '\\s+', '', 'g'), '') <> ''
                    THEN 'bank:' || deposit_date::text || ':' || amount::text || ':'
                         || upper(regexp_replace(bank_reference, '\\s+', '', 'g'))
                ELSE 'file:' || file_sha256 || ':' || line END AS natural
            FROM deposits),
        ranked AS (SELECT k.id, k.natural, row_number() OVER (PARTITION BY d.tenant_id, k.natural ORDER BY k.id) AS n
                   FROM keyed k JOIN deposits d ON d.id = k.id)
        UPDATE deposits d SET deposit_key = CASE WHEN r.n = 1 THEN r.natural
                                                 ELSE 'file:' || d.file_sha256 || ':' || d.line END
        FROM ranked r WHERE r.id = d.id""")
    op.alter_column('deposits', 'deposit_key', nullable=False)
    op.create_unique_constraint('uq_deposit_key', 'deposits', ['tenant_id', 'deposit_key'])


def downgrade() -> None:
    op.drop_constraint('uq_deposit_key', 'deposits', type_='unique')
    op.drop_column('deposits', 'deposit_key')
