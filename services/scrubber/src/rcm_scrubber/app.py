"""scrubber: pre-submission edits, review queue, clean-claim decision. `create_app` is the composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_scrubber import api, consumers
from rcm_scrubber.access import ACCESS
from rcm_scrubber.proposals import Proposals
from rcm_scrubber.service import Scrubber
from rcm_scrubber.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(Scrubber(rt.units, rt.clock))
        rt.provide(Proposals(rt.units))

    return create_service_app(settings, access=ACCESS, title="OpenRCM scrubber",
                              description="Pre-submission claim edits, the manual review queue and the clean-claim "
                                          "decision.",
                              routers=[api.reads, api.router, api.rules, api.proposals], consume_topics=topics.CONSUMES["scrubber"],
                              startup=[wire], handlers=lambda rt: consumers.handlers(rt.services[Scrubber], rt.services[Proposals]),
                              clock=clock)
