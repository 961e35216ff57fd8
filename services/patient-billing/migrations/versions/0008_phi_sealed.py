"""PHI at rest: the payloads of the outbox and the dead letters sealed (rcm_runtime.phi)

Revision ID: 0008_phi
Revises: 0007
"""
from rcm_runtime.migrations import seal_phi_downgrade, seal_phi_upgrade
from rcm_runtime.phi import SealedColumns

revision = '0008_phi'
down_revision = '0007'

PHI = SealedColumns("patient-billing", ())  # this service's own tables: none sealed yet (README, PHI at rest)


def upgrade() -> None:
    seal_phi_upgrade(PHI)


def downgrade() -> None:
    seal_phi_downgrade(PHI)
