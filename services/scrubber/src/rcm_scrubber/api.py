"""Read APIs of scrubber."""

from rcm_runtime.reads import stage_read_router

from rcm_scrubber.db import scrubbed_claims

router = stage_read_router(scrubbed_claims, tag="scrubber", status_column="decision", queue_path="/review-queue",
                           queue_default="review", time_column="scrubbed_at")
