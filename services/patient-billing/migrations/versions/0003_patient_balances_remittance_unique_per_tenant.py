"""patient_balances.remittance_id unique per tenant, (tenant_id, remittance_id), instead of across all tenants: two
tenants may each record a remittance with the same id, and a repost within one tenant is still recorded once.
Rows are kept (unique on remittance_id alone before, so unique under the new key too).

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
    op.create_unique_constraint('uq_patient_balances_tenant_remittance', 'patient_balances', ['tenant_id', 'remittance_id'])
    op.drop_constraint('patient_balances_remittance_id_key', 'patient_balances', type_='unique')


def downgrade() -> None:
    # fails (by design) if two tenants now hold the same remittance id: nothing is dropped silently
    op.create_unique_constraint('patient_balances_remittance_id_key', 'patient_balances', ['remittance_id'])
    op.drop_constraint('uq_patient_balances_tenant_remittance', 'patient_balances', type_='unique')
