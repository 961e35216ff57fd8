"""analytics: read models and KPIs over every service's events. `create_app` is the composition root."""

from fastapi import FastAPI

from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_analytics import api, consumers
from rcm_analytics.access import ACCESS
from rcm_analytics.service import Analytics
from rcm_analytics.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(Analytics(rt.units))

    return create_service_app(settings, access=ACCESS, title="OpenRCM analytics",
                              description="Claim timelines, pipeline counts and revenue-cycle KPIs.",
                              routers=[api.router], consume_topics=consumers.TOPICS, startup=[wire],
                              handlers=lambda rt: consumers.handlers(rt.services[Analytics]), clock=clock)
