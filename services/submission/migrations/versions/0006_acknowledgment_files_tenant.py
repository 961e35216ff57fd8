"""acknowledgment_files.tenant_id: an 835 read from a clearinghouse is forwarded to remittance for the tenant whose
claims it pays (kind '835', status 'forwarded'); the column says which tenant (null for 999/277CA files, which may
name claims of several tenants, and for an 835 whose tenant is not certain).

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('acknowledgment_files', sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    op.drop_column('acknowledgment_files', 'tenant_id')
