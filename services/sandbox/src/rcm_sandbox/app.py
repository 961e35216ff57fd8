"""sandbox: a local clearinghouse and payer for the demo and the end-to-end tests. `create_app` is the
composition root: the fixtures and the `Sandbox` use cases are built once per process."""

from datetime import timedelta

from fastapi import FastAPI

from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock
from rcm_runtime.outage import Backoff
from rcm_runtime.polling import poll_forever

from rcm_sandbox import api
from rcm_sandbox.access import ACCESS
from rcm_sandbox.fixtures import load_fixtures
from rcm_sandbox.service import ClearinghouseEras, EraRoute, RemittancePush, Sandbox, log
from rcm_sandbox.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    fixtures = load_fixtures(settings.fixtures_path)

    async def wire(rt: Runtime) -> None:
        # the payer pushes each tenant's ERAs to remittance with the API key remittance issued it for that tenant
        try:
            remittance_url = settings.service_url("remittance")
        except KeyError:  # a sandbox without a remittance to pay into: it says so on each delivery
            remittance_url = None
        push = RemittancePush(rt.http, remittance_url, settings.remittance_keys())
        # the payers configured so pay through the clearinghouse instead (submission polls their 835s)
        deliver = EraRoute(push, ClearinghouseEras(rt.units), settings.era_payers_via_clearinghouse())
        rt.provide(Sandbox(rt.units, fixtures, clearinghouse_key=settings.clearinghouse_key, deliver_era=deliver,
                           adjudication_delay=timedelta(seconds=settings.adjudication_delay_s),
                           remit_batch_max=settings.remit_batch_max, file_drop_root=settings.file_drop_root))

    async def run_remitter(rt: Runtime) -> None:
        await poll_forever(rt.services[Sandbox].remit_once, idle_s=0.1, log=log, what="ERA delivery",
                           failure_wait_s=2.0, backoff=Backoff.from_settings(settings))

    async def run_mailbox(rt: Runtime) -> None:
        await poll_forever(rt.services[Sandbox].mailbox_once, idle_s=0.2, log=log, what="mailbox pass",
                           failure_wait_s=2.0, backoff=Backoff.from_settings(settings))

    return create_service_app(settings, access=ACCESS, title="OpenRCM sandbox clearinghouse and payer",
                              description="Simulated clearinghouse (837P in; 999/277CA out, over HTTP or an "
                                          "SFTP-style mailbox) and payer (adjudication, 835 ERAs, 270/271 "
                                          "eligibility).",
                              routers=[api.router, api.payer_router], startup=[wire],
                              background=([run_remitter, *([run_mailbox] if settings.file_drop_root else [])]
                                          if settings.loops_enabled else []),
                              clock=clock)
