"""Read APIs of coding."""

from rcm_runtime.reads import stage_read_router

from rcm_coding.db import coded_claims

router = stage_read_router(coded_claims, tag="coding", status_column="status", queue_path="/coder-queue",
                           queue_default="needs_coder", time_column="coded_at")
