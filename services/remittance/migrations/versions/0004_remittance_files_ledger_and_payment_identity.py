"""remittance files, claim ledger, payment identity (the (tenant, payer, CLP07) uniqueness goes), unmatched
queue identity, payer aliases and the operators' audit

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None



def upgrade() -> None:
    now = sa.text('now()')
    # posted_payments: one per (tenant, payment key); payments posted before this revision keep a key of
    # their own (their remittance id), so nothing already posted is matched against the new keys.
    op.execute('ALTER TABLE posted_payments DROP CONSTRAINT IF EXISTS uq_posted_payment')
    op.add_column('posted_payments', sa.Column('payment_key', sa.String(), nullable=True))
    op.execute("UPDATE posted_payments SET payment_key = 'legacy:' || remittance_id::text")
    op.alter_column('posted_payments', 'payment_key', nullable=False)
    for name, type_ in (('file_id', sa.Uuid()), ('status_code', sa.String()), ('payer_key', sa.String()),
                        ('patient_control_number', sa.String()), ('reverses', sa.Uuid()), ('reversed_by', sa.Uuid())):
        op.add_column('posted_payments', sa.Column(name, type_, nullable=True))
    op.create_unique_constraint('uq_posted_payment_key', 'posted_payments', ['tenant_id', 'payment_key'])
    op.create_index(op.f('ix_posted_payments_file_id'), 'posted_payments', ['file_id'], unique=False)

    op.create_index('ix_claim_refs_tenant_claim', 'claim_refs', ['tenant_id', 'claim_id'], unique=False)

    for name, type_ in (('payment_key', sa.String()), ('file_id', sa.Uuid()), ('claim_id', sa.Uuid()),
                        ('resolved_by', sa.String()), ('resolved_at', sa.DateTime(timezone=True))):
        op.add_column('unmatched_payments', sa.Column(name, type_, nullable=True))
    op.create_unique_constraint('uq_unmatched_payment_key', 'unmatched_payments', ['tenant_id', 'payment_key'])

    op.create_table('remittance_files',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('tenant_id', sa.String(), nullable=False),
    sa.Column('sha256', sa.String(), nullable=False),
    sa.Column('source', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=True),
    sa.Column('payer_id', sa.String(), nullable=True),
    sa.Column('trace_numbers', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('payment_date', sa.Date(), nullable=True),
    sa.Column('findings', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('totals', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('outcomes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
    sa.Column('reviewed_by', sa.String(), nullable=True),
    sa.Column('review_reason', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'sha256', name='uq_remittance_file_content')
    )
    op.create_index('ix_remittance_files_tenant_received', 'remittance_files', ['tenant_id', 'received_at'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('tenant_id', sa.String(), nullable=False),
    sa.Column('claim_id', sa.Uuid(), nullable=True),
    sa.Column('remittance_id', sa.Uuid(), nullable=True),
    sa.Column('file_id', sa.Uuid(), nullable=True),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('procedure_code', sa.String(), nullable=True),
    sa.Column('group_code', sa.String(), nullable=True),
    sa.Column('reason_code', sa.String(), nullable=True),
    sa.Column('remark_codes', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('trace_number', sa.String(), nullable=True),
    sa.Column('provider_id', sa.String(), nullable=True),
    sa.Column('reference', sa.String(), nullable=True),
    sa.Column('note', sa.String(), nullable=True),
    sa.Column('entry_key', sa.String(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant_id', 'entry_key', name='uq_ledger_entry_key')
    )
    op.create_index('ix_ledger_entries_tenant_claim', 'ledger_entries', ['tenant_id', 'claim_id'], unique=False)

    op.create_table('payer_aliases',
    sa.Column('tenant_id', sa.String(), nullable=False),
    sa.Column('alias', sa.String(), nullable=False),
    sa.Column('payer_key', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('tenant_id', 'alias')
    )
    op.create_table('remittance_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant_id', sa.String(), nullable=False),
    sa.Column('subject', sa.String(), nullable=False),
    sa.Column('subject_id', sa.String(), nullable=False),
    sa.Column('action', sa.String(), nullable=False),
    sa.Column('actor', sa.String(), nullable=False),
    sa.Column('reason', sa.String(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=now, nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_remittance_audit_tenant_id'), 'remittance_audit', ['tenant_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_remittance_audit_tenant_id'), table_name='remittance_audit')
    op.drop_table('remittance_audit')
    op.drop_table('payer_aliases')
    op.drop_index('ix_ledger_entries_tenant_claim', table_name='ledger_entries')
    op.drop_table('ledger_entries')
    op.drop_index('ix_remittance_files_tenant_received', table_name='remittance_files')
    op.drop_table('remittance_files')
    op.drop_constraint('uq_unmatched_payment_key', 'unmatched_payments', type_='unique')
    for name in ('payment_key', 'file_id', 'claim_id', 'resolved_by', 'resolved_at'):
        op.drop_column('unmatched_payments', name)
    op.drop_index('ix_claim_refs_tenant_claim', table_name='claim_refs')
    op.drop_index(op.f('ix_posted_payments_file_id'), table_name='posted_payments')
    op.drop_constraint('uq_posted_payment_key', 'posted_payments', type_='unique')
    for name in ('file_id', 'status_code', 'payer_key', 'patient_control_number', 'reverses', 'reversed_by',
                 'payment_key'):
        op.drop_column('posted_payments', name)
    # the (tenant, payer, CLP07) uniqueness is not restored: rows this revision allowed could violate it
