"""denials: CARC/RARC root cause and work queues. `create_app` is the composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_denials import api, consumers, trends_api
from rcm_denials.access import ACCESS
from rcm_denials.service import Denials
from rcm_denials.settings import Settings
from rcm_denials.trends import Trends


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(Denials(rt.units))
        rt.provide(Trends(rt.units, default_threshold=settings.denial_rule_threshold))

    return create_service_app(settings, access=ACCESS, title="OpenRCM denials",
                              description="Denial root cause (CARC/RARC), work queues, appeals and corrected claims.",
                              routers=[api.router, trends_api.router], consume_topics=topics.CONSUMES["denials"],
                              startup=[wire], clock=clock,
                              handlers=lambda rt: consumers.handlers(rt.services[Denials], rt.services[Trends]))
