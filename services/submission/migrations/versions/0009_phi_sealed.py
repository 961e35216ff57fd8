"""PHI at rest: stored claims' patient and coverage parts, and the X12 files (837P, acknowledgments) whole, sealed
(rcm_runtime.phi)

Revision ID: 0009_phi
Revises: 0008
"""
from rcm_runtime.migrations import seal_phi_steps

from rcm_submission.db import PHI

revision = '0009_phi'
down_revision = '0008'

upgrade, downgrade = seal_phi_steps(PHI)
