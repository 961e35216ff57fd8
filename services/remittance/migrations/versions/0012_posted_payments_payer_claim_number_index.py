"""posted_payments (tenant, payer claim number) index: a PLB that quotes the payer's claim number finds its claim

Revision ID: 0012
Revises: 0011
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0012'
down_revision: Union[str, None] = '0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_index('ix_posted_payments_tenant_pccn', 'posted_payments', ['tenant_id', 'payer_claim_control_number'])


def downgrade() -> None:
    op.drop_index('ix_posted_payments_tenant_pccn', table_name='posted_payments')
