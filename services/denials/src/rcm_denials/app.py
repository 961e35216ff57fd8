"""denials: CARC/RARC root cause and work queues. `create_app` is the composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import create_service_app
from rcm_runtime.clock import Clock

from rcm_denials import api, consumers
from rcm_denials.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(settings, title="OpenRCM denials",
                              description="Denial root cause (CARC/RARC), work queues, appeals and corrected claims.",
                              routers=[api.router], handlers=consumers.HANDLERS, consume_topics=[topics.REMITTANCE],
                              clock=clock)
