"""scrubber: pre-submission edits, review queue, clean-claim decision."""

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_scrubber import api, consumers
from rcm_scrubber.settings import Settings

settings = Settings()
app = create_service_app(settings, title="OpenRCM scrubber",
                         description="Pre-submission claim edits, the manual review queue and the clean-claim decision.",
                         routers=[api.reads, api.router, api.rules], handlers=consumers.HANDLERS,
                         consume_topics=[topics.CODING, topics.SUBMISSION])
