"""payer claims: the claim each standing payment was made for (remitted_claim, PHI sealed as written), so a
replacement (frequency 7) or void (8) reverses exactly what was paid

Revision ID: 0010_remitted_claim
Revises: 0009_payer_phi
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010_remitted_claim'
down_revision = '0009_payer_phi'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a new column, empty: nothing stored before it to seal. Claims remitted before it keep their adjudication only
    # where it was kept (members marked reprocess); their reversal falls back to the claim as last received.
    op.add_column('payer_claims', sa.Column('remitted_claim', postgresql.JSONB(astext_type=sa.Text()), nullable=True))


def downgrade() -> None:
    op.drop_column('payer_claims', 'remitted_claim')
