"""the audit trail: audit_log (hash-chained per tenant by its owner's trigger) and its chain heads
(rcm_runtime.audit, rcm_runtime.audit_chain)

Revision ID: 0010_audit
Revises: 0009_phi
"""
from rcm_runtime.migrations import audit_trail_downgrade as downgrade  # noqa: F401
from rcm_runtime.migrations import audit_trail_upgrade as upgrade  # noqa: F401

revision = '0010_audit'
down_revision = '0009_phi'
branch_labels = None
depends_on = None
