"""denial work: root cause in words, remarks and unknown codes, the dates deadlines run from, the item's owner,
appeal, rebill and write-off; the action history; payer deadlines and tenant settings (row-level security)

Revision ID: 0010_work
Revises: 0009_audit
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from rcm_runtime.migrations import protect_tenant_tables_upgrade

revision = '0010_work'
down_revision = '0009_audit'
branch_labels = None
depends_on = None

_COLUMNS = [
    ('remark_codes', postgresql.JSONB(astext_type=sa.Text()), dict(nullable=False, server_default='[]')),
    ('unknown_codes', postgresql.JSONB(astext_type=sa.Text()), dict(nullable=False, server_default='[]')),
    ('explanation', sa.Text(), {}), ('follow_up', sa.Text(), {}),
    ('remittance_date', sa.Date(), {}), ('service_date', sa.Date(), {}), ('owner', sa.Text(), {}),
    ('appeal_sent_on', sa.Date(), {}), ('appeal_method', sa.Text(), {}), ('appeal_answer', sa.Text(), {}),
    ('rebill_payer_id', sa.Text(), {}), ('write_off_reason', sa.Text(), {}),
    ('write_off_amount', sa.Numeric(12, 2), {}), ('write_off_requested_by', sa.Text(), {}),
    ('updated_at', sa.DateTime(timezone=True), {}),
]


def upgrade() -> None:
    for name, type_, kw in _COLUMNS:
        op.add_column('denials', sa.Column(name, type_, nullable=kw.get('nullable', True),
                                           server_default=kw.get('server_default')))
    op.create_index(op.f('ix_denials_owner'), 'denials', ['owner'], unique=False)
    op.execute("UPDATE denials SET remittance_date = recorded_at::date")  # earlier items: the day recorded
    op.create_table(
        'denial_actions',
        sa.Column('action_id', sa.Uuid(), primary_key=True),
        sa.Column('seq', sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column('denial_id', sa.Uuid(), nullable=False),
        sa.Column('tenant_id', sa.String(), nullable=False),
        sa.Column('action', sa.String(), nullable=False),
        sa.Column('actor', sa.String(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('from_status', sa.String(), nullable=False),
        sa.Column('to_status', sa.String(), nullable=False),
        sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    )
    op.create_index(op.f('ix_denial_actions_denial_id'), 'denial_actions', ['denial_id'], unique=False)
    op.create_index(op.f('ix_denial_actions_tenant_id'), 'denial_actions', ['tenant_id'], unique=False)
    op.create_table(
        'payer_deadlines',
        sa.Column('tenant_id', sa.String(), primary_key=True),
        sa.Column('payer_id', sa.String(), primary_key=True),
        sa.Column('appeal_days', sa.Integer(), nullable=False),
        sa.Column('timely_filing_days', sa.Integer(), nullable=False),
        sa.Column('updated_by', sa.String(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    )
    op.create_table(
        'denial_settings',
        sa.Column('tenant_id', sa.String(), primary_key=True),
        sa.Column('appeal_days', sa.Integer(), nullable=False),
        sa.Column('timely_filing_days', sa.Integer(), nullable=False),
        sa.Column('write_off_approval_above', sa.Numeric(12, 2), nullable=False),
        sa.Column('updated_by', sa.String(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    )
    protect_tenant_tables_upgrade()  # the new tables under the tenant policy


def downgrade() -> None:
    op.drop_table('denial_settings')
    op.drop_table('payer_deadlines')
    op.drop_index(op.f('ix_denial_actions_tenant_id'), table_name='denial_actions')
    op.drop_index(op.f('ix_denial_actions_denial_id'), table_name='denial_actions')
    op.drop_table('denial_actions')
    op.drop_index(op.f('ix_denials_owner'), table_name='denials')
    for name, _, _ in reversed(_COLUMNS):
        op.drop_column('denials', name)
