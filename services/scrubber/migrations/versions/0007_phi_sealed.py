"""PHI at rest: the patient and coverage parts of stored claims and audit snapshots sealed, and claim fingerprints
stored as blind indexes (rcm_runtime.phi)

Revision ID: 0007_phi
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

from rcm_runtime import phi
from rcm_runtime.migrations import seal_phi_downgrade, seal_phi_upgrade

from rcm_scrubber.db import FINGERPRINT_FIELD, PHI

revision = '0007_phi'
down_revision = '0006'


def upgrade() -> None:
    seal_phi_upgrade(PHI)  # also enters the system scope for the statements below
    # A stored fingerprint becomes its blind index: the service looks fingerprints up by their index from now on.
    conn, sealer = op.get_bind(), phi.sealer()
    rows = conn.execute(sa.text("SELECT tenant_id, fingerprint FROM claim_fingerprints")).all()
    if rows:
        conn.execute(sa.text("UPDATE claim_fingerprints SET fingerprint = :new "
                             "WHERE tenant_id = :t AND fingerprint = :old"),
                     [{"t": t, "old": f, "new": sealer.blind_index(f, tenant=t, field=FINGERPRINT_FIELD)}
                      for t, f in rows])


def downgrade() -> None:
    # an index cannot be turned back into its digest: duplicate detection restarts from the claims sent on after this
    op.execute("DELETE FROM claim_fingerprints")
    seal_phi_downgrade(PHI)
