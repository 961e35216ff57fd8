"""claim_status keyed by (tenant_id, claim_id): a claim id comes from events, so another tenant's event
naming the same id gets its own row instead of merging into this tenant's. Rows are kept (the old key was
unique on claim_id alone, so every existing row is unique under the new one too).

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_constraint('claim_status_pkey', 'claim_status', type_='primary')
    op.create_primary_key('claim_status_pkey', 'claim_status', ['tenant_id', 'claim_id'])


def downgrade() -> None:
    # fails (by design) if two tenants now hold a row for the same claim id: nothing is dropped silently
    op.drop_constraint('claim_status_pkey', 'claim_status', type_='primary')
    op.create_primary_key('claim_status_pkey', 'claim_status', ['claim_id'])
