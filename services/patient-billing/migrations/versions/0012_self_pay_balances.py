"""self-pay balances: a balance opened by a self-pay encounter (no remittance; `origin`, itemized `lines`) and each
tenant's self-pay discount, under row-level security

Revision ID: 0012_self_pay
Revises: 0011_audit
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision = '0012_self_pay'
down_revision = '0011_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column('patient_balances', 'remittance_id', existing_type=sa.Uuid(), nullable=True)
    op.add_column('patient_balances', sa.Column('origin', sa.String(), nullable=False, server_default='remittance'))
    op.add_column('patient_balances', sa.Column('lines', postgresql.JSONB(), nullable=True))
    op.create_table(
        'self_pay_settings',
        sa.Column('tenant_id', sa.String(), primary_key=True),
        sa.Column('discount_percent', sa.Numeric(5, 2), nullable=False),
        sa.Column('updated_by', sa.String(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    protect_tenant_tables_upgrade()  # the new table under the tenant policy


def downgrade() -> None:
    op.drop_table('self_pay_settings')
    # a self-pay balance has no remittance: it keeps its statement id there (no remittance has it), so no balance
    # and none of the patient's payments toward it is lost
    op.execute("UPDATE patient_balances SET remittance_id = statement_id WHERE remittance_id IS NULL")
    op.drop_column('patient_balances', 'lines')
    op.drop_column('patient_balances', 'origin')
    op.alter_column('patient_balances', 'remittance_id', existing_type=sa.Uuid(), nullable=False)
