"""PHI at rest: the payloads of the outbox and the dead letters sealed (rcm_runtime.phi)

Revision ID: 0007_phi
Revises: 0006
"""
from rcm_runtime.migrations import seal_phi_steps
from rcm_runtime.phi import SealedColumns

revision = '0007_phi'
down_revision = '0006'

PHI = SealedColumns("sandbox", ())  # its payer claims and outbound files: revision 0009

upgrade, downgrade = seal_phi_steps(PHI)
