"""HL7 v2 over MLLP: each message's control id per tenant and sender with the ACK it got (a resend gets it again)

Revision ID: 0011_mllp
Revises: 0010_audit
"""
import sqlalchemy as sa
from alembic import op

from rcm_runtime.row_security import protect_tenant_tables

revision = '0011_mllp'
down_revision = '0010_audit'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'mllp_messages',
        sa.Column('tenant_id', sa.Text(), nullable=False),
        sa.Column('sending_application', sa.Text(), nullable=False),
        sa.Column('sending_facility', sa.Text(), nullable=False),
        sa.Column('control_id', sa.Text(), nullable=False),
        sa.Column('message_digest', sa.Text(), nullable=False),
        sa.Column('message_type', sa.Text(), nullable=False),
        sa.Column('ack_code', sa.Text(), nullable=False),
        sa.Column('ack', sa.Text(), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'sending_application', 'sending_facility', 'control_id'),
    )
    protect_tenant_tables(op.get_bind())  # row-level security on the new tenant-scoped table


def downgrade() -> None:
    op.drop_table('mllp_messages')
