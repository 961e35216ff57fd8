"""submissions and primary_payments keyed by (tenant_id, claim_id): claim ids come from the scrubber's and
remittance's events, so another tenant's claim or payment with the same id gets its own row instead of
overwriting (submissions) or pre-empting (primary_payments) this tenant's. The patient control number (CLM01,
derived from the claim id) becomes unique per tenant, with a plain index for 277CA matching. Rows are kept
(every old key was unique on a subset of the new one).

Revision ID: 0004
Revises: 0003
"""
from typing import Sequence, Union

from alembic import op

revision: str = '0004'
down_revision: Union[str, None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.drop_constraint('submissions_pkey', 'submissions', type_='primary')
    op.create_primary_key('submissions_pkey', 'submissions', ['tenant_id', 'claim_id'])
    op.create_unique_constraint('uq_submissions_tenant_patient_control_number', 'submissions',
                                ['tenant_id', 'patient_control_number'])
    op.drop_constraint('uq_submissions_patient_control_number', 'submissions', type_='unique')
    op.create_index('ix_submissions_patient_control_number', 'submissions', ['patient_control_number'], unique=False)
    op.drop_constraint('primary_payments_pkey', 'primary_payments', type_='primary')
    op.create_primary_key('primary_payments_pkey', 'primary_payments', ['tenant_id', 'claim_id'])


def downgrade() -> None:
    # fails (by design) if two tenants now hold a row for the same claim id: nothing is dropped silently
    op.drop_constraint('primary_payments_pkey', 'primary_payments', type_='primary')
    op.create_primary_key('primary_payments_pkey', 'primary_payments', ['claim_id'])
    op.drop_index('ix_submissions_patient_control_number', table_name='submissions')
    op.create_unique_constraint('uq_submissions_patient_control_number', 'submissions', ['patient_control_number'])
    op.drop_constraint('uq_submissions_tenant_patient_control_number', 'submissions', type_='unique')
    op.drop_constraint('submissions_pkey', 'submissions', type_='primary')
    op.create_primary_key('submissions_pkey', 'submissions', ['claim_id'])
