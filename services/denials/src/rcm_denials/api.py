"""Read APIs of denials: the denial work queue and one claim's denial."""

from rcm_runtime.reads import stage_read_router

from rcm_denials.access import needs
from rcm_denials.db import denials

router = stage_read_router(denials, tag="denials", needs=needs("denials.read"), status_column="work_queue",
                           queue_path="/denials", queue_default=None, time_column="recorded_at")
