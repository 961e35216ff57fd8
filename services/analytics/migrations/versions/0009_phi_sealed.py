"""PHI at rest: the payloads of the outbox and the dead letters sealed (rcm_runtime.phi)

Revision ID: 0009_phi
Revises: 0008
"""
from rcm_runtime.migrations import seal_phi_steps
from rcm_runtime.phi import SealedColumns

revision = '0009_phi'
down_revision = '0008'

PHI = SealedColumns("analytics", ())  # its own tables hold ids, codes and amounts only

upgrade, downgrade = seal_phi_steps(PHI)
