"""underpayment items in denials: kind (denial | underpayment), expected and actual allowed amounts and the
flagged lines; unique per (tenant, remittance, kind) so a payment both partly denied and underpaid keeps both.
Existing rows become kind 'denial' (server default), so they stay unique under the new key.

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column('denials', sa.Column('kind', sa.Text(), server_default='denial', nullable=False))
    op.add_column('denials', sa.Column('expected_amount', sa.Numeric(12, 2), nullable=True))
    op.add_column('denials', sa.Column('actual_amount', sa.Numeric(12, 2), nullable=True))
    op.add_column('denials', sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_unique_constraint('uq_denials_tenant_remittance_kind', 'denials', ['tenant_id', 'remittance_id', 'kind'])
    op.drop_constraint('uq_denials_tenant_remittance', 'denials', type_='unique')


def downgrade() -> None:
    # fails (by design) while a remittance holds both a denial and an underpayment: nothing is dropped silently
    op.create_unique_constraint('uq_denials_tenant_remittance', 'denials', ['tenant_id', 'remittance_id'])
    op.drop_constraint('uq_denials_tenant_remittance_kind', 'denials', type_='unique')
    op.drop_column('denials', 'lines')
    op.drop_column('denials', 'actual_amount')
    op.drop_column('denials', 'expected_amount')
    op.drop_column('denials', 'kind')
