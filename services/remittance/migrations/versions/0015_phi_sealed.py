"""PHI at rest: remittance files (kept verbatim, naming patients) sealed whole (rcm_runtime.phi)

Revision ID: 0015_phi
Revises: 0014
"""
from rcm_runtime.migrations import seal_phi_steps

from rcm_remittance.db import PHI, remittance_files

revision = '0015_phi'
down_revision = '0014'

upgrade, downgrade = seal_phi_steps(PHI.only(remittance_files))  # the queued advice: 0017
