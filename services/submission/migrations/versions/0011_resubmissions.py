"""the denials request a claim was last sent again under (a corrected claim or a rebill): a redelivery of the
same request does not send a second replacement

Revision ID: 0011_resubmissions
Revises: 0010_audit
"""
import sqlalchemy as sa
from alembic import op

revision = '0011_resubmissions'
down_revision = '0010_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('submissions', sa.Column('resubmission_id', sa.Uuid(), nullable=True))


def downgrade() -> None:
    op.drop_column('submissions', 'resubmission_id')
