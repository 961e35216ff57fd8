"""denials: CARC/RARC root cause and work queues. `create_app` is the composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock
from rcm_runtime.outage import Backoff

from rcm_denials import api, appeals_api, consumers, trends_api
from rcm_denials.access import ACCESS
from rcm_denials.appeals import AppealPackets
from rcm_denials.service import Denials
from rcm_denials.settings import Settings
from rcm_denials.trends import Trends
from rcm_denials.work import DenialWork


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(Denials(rt.units))
        rt.provide(DenialWork(rt.units))
        rt.provide(AppealPackets(rt.units))
        rt.provide(Trends(rt.units, default_threshold=settings.denial_rule_threshold))

    async def expiry_loop(rt: Runtime) -> None:
        """Moves open and in-progress items past their deadline to `expired`."""
        await rt.services[DenialWork].expire_forever(settings.expiry_sweep_s, backoff=Backoff.from_settings(settings))

    # the trends router first: /v1/denials/trends must not be read as /v1/denials/{denial_id}
    return create_service_app(settings, access=ACCESS, title="OpenRCM denials",
                              description="Denial root cause (CARC/RARC), work queues, appeals and corrected claims, "
                                          "denial trends and rule recommendations.",
                              routers=[trends_api.router, api.router, api.work, appeals_api.router], consume_topics=topics.CONSUMES["denials"],
                              startup=[wire], clock=clock,
                              handlers=lambda rt: consumers.handlers(rt.services[Denials], rt.services[Trends]),
                              background=[expiry_loop] if settings.expiry_sweep_s > 0 else [])
