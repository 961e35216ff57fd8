"""scrubber: pre-submission edits, review queue, clean-claim decision. `create_app` is the composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import create_service_app
from rcm_runtime.clock import Clock

from rcm_scrubber import api, consumers
from rcm_scrubber.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(settings, title="OpenRCM scrubber",
                              description="Pre-submission claim edits, the manual review queue and the clean-claim "
                                          "decision.",
                              routers=[api.reads, api.router, api.rules], handlers=consumers.HANDLERS,
                              consume_topics=[topics.CODING, topics.SUBMISSION], clock=clock)
