"""self-pay encounters on the claim status rows (billed to the patient, never to a payer)

Revision ID: 0011_self_pay
Revises: 0010_audit
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_self_pay'
down_revision = '0010_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('claim_status', sa.Column('self_pay', sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column('claim_status', 'self_pay')
