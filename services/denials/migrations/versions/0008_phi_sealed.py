"""PHI at rest: the payloads of the outbox and the dead letters sealed (rcm_runtime.phi)

Revision ID: 0008_phi
Revises: 0007
"""
from rcm_runtime.migrations import seal_phi_steps
from rcm_runtime.phi import SealedColumns

revision = '0008_phi'
down_revision = '0007'

PHI = SealedColumns("denials", ())  # its own tables hold ids, codes and amounts only

upgrade, downgrade = seal_phi_steps(PHI)
