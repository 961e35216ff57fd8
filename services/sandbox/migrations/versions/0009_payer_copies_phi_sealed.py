"""PHI at rest: the payer's copies of claims (payer_claims.claim: patient and coverages) and the responses waiting in
the mailbox (outbound_files.content, whole) sealed (rcm_runtime.phi)

Revision ID: 0009_payer_phi
Revises: 0008_audit
"""
from rcm_runtime.migrations import seal_phi_steps

from rcm_sandbox.db import PHI, outbound_files, payer_claims

revision = '0009_payer_phi'
down_revision = '0008_audit'
branch_labels = None
depends_on = None

# payer_claims.remitted_claim came later (0010), sealed as it is written
SEALED_HERE = PHI.only(payer_claims, outbound_files, columns=("claim", "content"))
upgrade, downgrade = seal_phi_steps(SEALED_HERE, messaging=False)
