"""eligibility: 270/271 coverage verification, prior-auth requirements and the front-desk queues.
`create_app` is the composition root: the payer connection and the Eligibility use cases are built once
per process, when it starts."""

from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_eligibility import api, consumers
from rcm_eligibility.access import ACCESS
from rcm_eligibility.domain.prior_auth import AuthRuleTable
from rcm_eligibility.payers import FileDropPayerConnection, HttpPayerConnection
from rcm_eligibility.service import Eligibility
from rcm_eligibility.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None,
               payer_http: httpx.AsyncClient | None = None) -> FastAPI:
    """`payer_http` is a test seam: the HTTP client the real-time payer connection uses instead of the
    process's own (in-process API tests hand it the sandbox app through httpx's ASGI transport)."""
    settings = settings or Settings()
    auth_rules = (AuthRuleTable.from_csv(Path(settings.auth_rules_path).read_text()) if settings.auth_rules_path
                  else AuthRuleTable(rules=()))

    async def wire(rt: Runtime) -> None:
        """The payer connection needs the process's HTTP client, which exists once the app starts."""
        if settings.payer_connection == "file":
            payer = FileDropPayerConnection(settings.payer_outbox_dir, settings.payer_inbox_dir)
        else:
            payer = HttpPayerConnection(settings.payer_url or settings.service_url("sandbox"), settings.payer_key,
                                        payer_http or rt.http)
        rt.provide(Eligibility(rt.units, payer=payer, auth_rules=auth_rules, submitter_id=settings.submitter_id,
                               cache_ttl=timedelta(seconds=settings.eligibility_cache_ttl_s),
                               concurrency=settings.payer_concurrency))

    return create_service_app(settings, access=ACCESS, title="OpenRCM eligibility",
                              description="270/271 eligibility and benefits, prior-authorization requirements, "
                                          "front-desk and authorization work queues.",
                              routers=[api.reads, api.router],
                              handlers=lambda rt: consumers.handlers(rt.services[Eligibility]),
                              consume_topics=topics.CONSUMES["eligibility"], startup=[wire], clock=clock)
