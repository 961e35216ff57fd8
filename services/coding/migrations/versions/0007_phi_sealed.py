"""PHI at rest: the patient and coverage parts of stored claims sealed (rcm_runtime.phi)

Revision ID: 0007_phi
Revises: 0006
"""
from rcm_runtime.migrations import seal_phi_steps

from rcm_coding.db import PHI

revision = '0007_phi'
down_revision = '0006'

upgrade, downgrade = seal_phi_steps(PHI)
