"""Read APIs of submission."""

from rcm_runtime.reads import stage_read_router

from rcm_submission.db import submissions

router = stage_read_router(submissions, tag="submission", status_column="status", queue_path="/submissions",
                           queue_default=None, time_column="queued_at")
