"""PHI at rest: the claim payment inside each queued (unmatched or held) payment's advice sealed (rcm_runtime.phi)

Revision ID: 0017_unmatched_phi
Revises: 0016_audit
"""
from rcm_runtime.migrations import seal_phi_steps

from rcm_remittance.db import PHI, unmatched_payments

revision = '0017_unmatched_phi'
down_revision = '0016_audit'
branch_labels = None
depends_on = None

upgrade, downgrade = seal_phi_steps(PHI.only(unmatched_payments), messaging=False)
