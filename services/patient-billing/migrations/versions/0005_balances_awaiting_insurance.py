"""patient balances may await the next payer (status awaiting_insurance, no due date until billed)

Revision ID: 0005
Revises: 0004
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: Union[str, None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.alter_column('patient_balances', 'due_date', existing_type=sa.Date(), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE patient_balances SET due_date = opened_at::date + 30 WHERE due_date IS NULL")
    op.alter_column('patient_balances', 'due_date', existing_type=sa.Date(), nullable=False)
