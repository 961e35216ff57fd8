"""remittance_files.received_by: who handed the file in ("api" for an upload, "clearinghouse:<name>" for an 835
that submission polled from a clearinghouse connection and forwarded as RemittanceReceived).

Revision ID: 0009
Revises: 0008
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0009'
down_revision: Union[str, None] = '0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('remittance_files', sa.Column('received_by', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    op.drop_column('remittance_files', 'received_by')
