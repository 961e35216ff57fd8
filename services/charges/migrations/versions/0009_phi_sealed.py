"""PHI at rest: the patient and coverage parts of stored encounters, claims and audit rows sealed (rcm_runtime.phi)

Revision ID: 0009_phi
Revises: 0008
"""
from rcm_runtime.migrations import seal_phi_steps

from rcm_charges.db import PHI

revision = '0009_phi'
down_revision = '0008'

upgrade, downgrade = seal_phi_steps(PHI)
