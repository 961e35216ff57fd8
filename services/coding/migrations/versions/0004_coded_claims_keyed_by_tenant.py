"""coded_claims keyed by (tenant_id, claim_id): the claim id comes from eligibility's events, so another
tenant's claim with the same id gets its own row (and its own coder-queue entry) instead of being dropped
as a conflict. Rows are kept (unique on claim_id alone before, so unique under the new key too).

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_constraint('coded_claims_pkey', 'coded_claims', type_='primary')
    op.create_primary_key('coded_claims_pkey', 'coded_claims', ['tenant_id', 'claim_id'])


def downgrade() -> None:
    # fails (by design) if two tenants now hold a row for the same claim id: nothing is dropped silently
    op.drop_constraint('coded_claims_pkey', 'coded_claims', type_='primary')
    op.create_primary_key('coded_claims_pkey', 'coded_claims', ['claim_id'])
