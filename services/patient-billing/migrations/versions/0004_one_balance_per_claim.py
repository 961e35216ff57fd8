"""One patient balance per (tenant, claim) instead of one per remittance, and balance_postings: every remittance
event applied, once per (tenant, remittance).

Existing rows lose nothing: each becomes a `migrated` posting (with its own statement id and amount); where a
claim had several balances (the old bug: primary plus secondary, or payment plus correction), the earliest row
is kept as the claim's balance with the latest row's amount due (later payments replace, never add), and the
later rows are deleted after being recorded as postings.

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        'balance_postings',
        sa.Column('tenant_id', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('remittance_id', sa.Uuid(), nullable=False),
        sa.Column('claim_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('reversed_remittance_id', sa.Uuid(), nullable=True),
        sa.Column('patient_responsibility', sa.Numeric(12, 2), nullable=False),
        sa.Column('patient_responsibility_total', sa.Numeric(12, 2), nullable=True),
        sa.Column('statement_id', sa.Uuid(), nullable=True),
        sa.Column('effect', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column('amount_due_after', sa.Numeric(12, 2), nullable=True),
        sa.Column('applied_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('tenant_id', 'remittance_id', name='balance_postings_pkey'),
    )
    op.create_index('ix_balance_postings_reversed_remittance_id', 'balance_postings', ['reversed_remittance_id'])
    op.add_column('patient_balances', sa.Column('last_remittance_id', sa.Uuid(), nullable=True))
    op.add_column('patient_balances', sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("INSERT INTO balance_postings (tenant_id, remittance_id, claim_id, kind, patient_responsibility, "
               "statement_id, effect, amount_due_after, applied_at) SELECT tenant_id, remittance_id, claim_id, "
               "'payment', amount_due, statement_id, 'migrated', amount_due, opened_at FROM patient_balances")
    op.execute("""
        WITH ranked AS (
            SELECT statement_id, tenant_id, claim_id, amount_due, remittance_id, opened_at,
                   row_number() OVER (PARTITION BY tenant_id, claim_id ORDER BY opened_at, statement_id) AS first,
                   row_number() OVER (PARTITION BY tenant_id, claim_id ORDER BY opened_at DESC, statement_id DESC) AS last
            FROM patient_balances),
        latest AS (SELECT tenant_id, claim_id, amount_due, remittance_id, opened_at FROM ranked WHERE last = 1)
        UPDATE patient_balances b SET amount_due = l.amount_due, last_remittance_id = l.remittance_id,
               updated_at = l.opened_at, status = CASE WHEN l.amount_due = 0 THEN 'closed' ELSE b.status END
        FROM ranked r JOIN latest l ON l.tenant_id = r.tenant_id AND l.claim_id = r.claim_id
        WHERE b.statement_id = r.statement_id AND r.first = 1 AND r.last <> 1""")
    op.execute("""
        DELETE FROM patient_balances b USING (
            SELECT statement_id, row_number() OVER (PARTITION BY tenant_id, claim_id ORDER BY opened_at, statement_id) AS n
            FROM patient_balances) r
        WHERE b.statement_id = r.statement_id AND r.n > 1""")
    op.create_unique_constraint('uq_patient_balances_tenant_claim', 'patient_balances', ['tenant_id', 'claim_id'])
    op.drop_constraint('uq_patient_balances_tenant_remittance', 'patient_balances', type_='unique')


def downgrade() -> None:
    # the merged per-remittance rows are not recreated (their postings stay readable until the table is dropped)
    op.create_unique_constraint('uq_patient_balances_tenant_remittance', 'patient_balances', ['tenant_id', 'remittance_id'])
    op.drop_constraint('uq_patient_balances_tenant_claim', 'patient_balances', type_='unique')
    op.drop_column('patient_balances', 'updated_at')
    op.drop_column('patient_balances', 'last_remittance_id')
    op.drop_index('ix_balance_postings_reversed_remittance_id', table_name='balance_postings')
    op.drop_table('balance_postings')
