"""dead letters redriven: who redrove (or resolved) one and when, the new dead letter of a record that failed
again; one OPEN dead letter per record (rcm_runtime.dead_letters)

Revision ID: 0007
Revises: 0006
"""
from rcm_runtime.migrations import dead_letters_redrive_downgrade as downgrade  # noqa: F401
from rcm_runtime.migrations import dead_letters_redrive_upgrade as upgrade  # noqa: F401

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None
