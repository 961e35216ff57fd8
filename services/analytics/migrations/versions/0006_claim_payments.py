"""claim_payments: every PaymentPosted / PaymentReversed of a claim, once per (tenant, remittance), from which the
claim's paid, allowed, patient responsibility and outcome are folded (instead of keeping the last payment's).

Backfill: each claim already posted gets one `payment` row carrying its current figures (the only payment history
the old read model kept), so a later secondary payment or reversal adds to it instead of replacing it. Its
remittance id is generated (the original is not known here), so a repost of that old remittance would count again.

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
    op.create_table(
        'claim_payments',
        sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('remittance_id', sa.Uuid(), nullable=False),
        sa.Column('claim_id', sa.Uuid(), nullable=False),
        sa.Column('seq', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('reversed_remittance_id', sa.Uuid(), nullable=True),
        sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column('paid_amount', sa.Numeric(12, 2), nullable=False),
        sa.Column('allowed_amount', sa.Numeric(12, 2), nullable=True),
        sa.Column('patient_responsibility', sa.Numeric(12, 2), nullable=False),
        sa.Column('patient_responsibility_total', sa.Numeric(12, 2), nullable=True),
        sa.PrimaryKeyConstraint('tenant_id', 'remittance_id', name='claim_payments_pkey'),
    )
    op.create_index('ix_claim_payments_claim_id', 'claim_payments', ['claim_id'])
    op.execute("INSERT INTO claim_payments (tenant_id, remittance_id, claim_id, kind, outcome, paid_amount, allowed_amount, "
               "patient_responsibility) SELECT tenant_id, gen_random_uuid(), claim_id, 'payment', payment_outcome, "
               "coalesce(paid_amount, 0), allowed_amount, coalesce(patient_responsibility, 0) FROM claim_status "
               "WHERE payment_outcome IS NOT NULL ORDER BY posted_at")


def downgrade() -> None:
    op.drop_index('ix_claim_payments_claim_id', table_name='claim_payments')
    op.drop_table('claim_payments')
