"""denial items recorded by the classifier of earlier releases (a table of 32 CARCs) get the root cause, work queue,
explanation and follow-up today's code lists give their stored codes: an upgraded deployment's queue, trends and
priorities then agree with new items. One update per distinct (codes, remarks, date), not per item.

Revision ID: 0014_reclassify
Revises: 0013_resubmissions
"""
import json

import sqlalchemy as sa
from alembic import op

from rcm_denials.domain.root_cause import reclassify
from rcm_runtime.tenant_scope import SETTING, SYSTEM

revision = '0014_reclassify'
down_revision = '0013_resubmissions'
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text(f"SELECT set_config('{SETTING}', '{SYSTEM}', true)"))  # every tenant's items (row security)
    groups = conn.execute(sa.text(
        "SELECT reason_codes::text AS codes, remark_codes::text AS remarks, "
        "COALESCE(remittance_date, CAST(recorded_at AS date)) AS day FROM denials WHERE kind = 'denial' "
        "GROUP BY 1, 2, 3")).all()
    for g in groups:
        found = reclassify(json.loads(g.codes), json.loads(g.remarks), on=g.day)
        if found is None:
            continue  # none of its codes is a denial by today's lists: left as recorded, for a person to see
        conn.execute(sa.text(
            "UPDATE denials SET category = :cause, work_queue = :queue, explanation = :explanation, "
            "follow_up = :follow_up, unknown_codes = CAST(:unknown AS jsonb) WHERE kind = 'denial' "
            "AND reason_codes::text = :codes AND remark_codes::text = :remarks "
            "AND COALESCE(remittance_date, CAST(recorded_at AS date)) = :day "
            "AND (category IS DISTINCT FROM :cause OR explanation IS NULL)"),
            {"cause": found.root_cause, "queue": found.work_queue, "explanation": found.explanation,
             "follow_up": found.follow_up, "unknown": json.dumps(list(found.unknown_codes)), "codes": g.codes,
             "remarks": g.remarks, "day": g.day})


def downgrade() -> None:
    pass  # the earlier categories are not kept; the items stay classified by today's lists
