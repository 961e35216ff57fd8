"""PHI at rest: remittance files (kept verbatim, naming patients) sealed whole (rcm_runtime.phi)

Revision ID: 0015_phi
Revises: 0014
"""
from rcm_runtime.migrations import seal_phi_downgrade, seal_phi_upgrade

from rcm_remittance.db import PHI

revision = '0015_phi'
down_revision = '0014'


def upgrade() -> None:
    seal_phi_upgrade(PHI)


def downgrade() -> None:
    seal_phi_downgrade(PHI)
