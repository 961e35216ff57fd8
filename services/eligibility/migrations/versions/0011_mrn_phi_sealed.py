"""PHI at rest: the practice's MRN (patients.patient_id, appointments.patient_id) sealed; a registration is found by
the MRN's blind index (patients.patient_key), unique per tenant (rcm_runtime.phi)

Revision ID: 0011_mrn_phi
Revises: 0010_audit
"""
import sqlalchemy as sa
from alembic import op

from rcm_runtime.migrations import seal_phi_downgrade, seal_phi_upgrade

from rcm_eligibility.db import PHI, appointments, patients

revision = '0011_mrn_phi'
down_revision = '0010_audit'
branch_labels = None
depends_on = None

MRN = PHI.only(patients, appointments, columns=("patient_id",))


def upgrade() -> None:
    op.add_column('patients', sa.Column('patient_key', sa.String(), nullable=True))
    seal_phi_upgrade(MRN, messaging=False)  # seals each MRN and fills its blind index
    op.alter_column('patients', 'patient_key', nullable=False)
    op.drop_constraint('uq_patient', 'patients', type_='unique')
    op.create_unique_constraint('uq_patient', 'patients', ['tenant_id', 'patient_key'])


def downgrade() -> None:
    op.drop_constraint('uq_patient', 'patients', type_='unique')
    seal_phi_downgrade(MRN, messaging=False)
    op.drop_column('patients', 'patient_key')
    op.create_unique_constraint('uq_patient', 'patients', ['tenant_id', 'patient_id'])
