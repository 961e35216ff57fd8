"""PHI at rest: stored claims' patient and coverage parts and registrations sealed; the 271 cache keyed by the
member id's blind index (rcm_runtime.phi)

Revision ID: 0009_phi
Revises: 0008
"""
from alembic import op

from rcm_runtime.migrations import seal_phi_downgrade, seal_phi_upgrade

from rcm_eligibility.db import PHI, coverage_checks, patients

revision = '0009_phi'
down_revision = '0008'

SEALED_HERE = PHI.only(coverage_checks, patients, columns=("claim", "patient", "coverages"))  # the MRN: 0011


def upgrade() -> None:
    seal_phi_upgrade(SEALED_HERE)  # also enters the system scope for the statement below
    # The cache was keyed by plain member ids: emptied, it refills (by blind index) from the payers' next answers.
    op.execute("DELETE FROM eligibility_cache")


def downgrade() -> None:
    op.execute("DELETE FROM eligibility_cache")
    seal_phi_downgrade(SEALED_HERE)
