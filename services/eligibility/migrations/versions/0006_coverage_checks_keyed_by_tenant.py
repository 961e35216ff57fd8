"""coverage_checks keyed by (tenant_id, claim_id): the claim id comes from charges' events, so another
tenant's captured claim with the same id gets its own check (and work-queue row) instead of being dropped
as a conflict. Rows are kept (unique on claim_id alone before, so unique under the new key too).

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0006'
down_revision: Union[str, None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_constraint('coverage_checks_pkey', 'coverage_checks', type_='primary')
    op.create_primary_key('coverage_checks_pkey', 'coverage_checks', ['tenant_id', 'claim_id'])


def downgrade() -> None:
    # fails (by design) if two tenants now hold a row for the same claim id: nothing is dropped silently
    op.drop_constraint('coverage_checks_pkey', 'coverage_checks', type_='primary')
    op.create_primary_key('coverage_checks_pkey', 'coverage_checks', ['claim_id'])
