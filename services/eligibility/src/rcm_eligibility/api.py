"""Read APIs of eligibility."""

from rcm_runtime.reads import stage_read_router

from rcm_eligibility.db import coverage_checks

router = stage_read_router(coverage_checks, tag="eligibility", status_column="status", queue_path="/coverage-checks",
                           queue_default=None, time_column="checked_at")
