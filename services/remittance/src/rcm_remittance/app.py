"""remittance: ERA posting, contractual adjustments, patient responsibility. `create_app` is the
composition root: the Medicare fee schedule is read and the use cases are built once per process, when it
starts; the consumer handlers are those of the same Remittance object."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.outage import Backoff
from rcm_runtime.polling import poll_forever
from rcm_runtime.clock import Clock
from rcm_runtime.reads import stage_read_router

from rcm_remittance import api, service, underpaid
from rcm_remittance.access import ACCESS, needs
from rcm_remittance.db import posted_payments
from rcm_remittance.service import Deposits, Remittance, RemittanceQueries
from rcm_remittance.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        # Medicare fee schedule releases: reference data, read once here (none configured: no Medicare pricing)
        medicare = underpaid.load_fee_schedule_dir(settings.fee_schedule_dir) if settings.fee_schedule_dir else None
        rt.provide(Remittance(rt.units, medicare=medicare))
        rt.provide(RemittanceQueries(rt.units))
        rt.provide(Deposits(rt.units))
        rt.provide(underpaid.Contracts(rt.units, medicare=medicare))

    async def post_waiting_loop(rt: Runtime) -> None:
        await poll_forever(rt.services[Remittance].post_waiting, idle_s=settings.waiting_payments_every_s,
                           log=service.log, what="waiting payments", backoff=Backoff.from_settings(settings))

    reads = stage_read_router(posted_payments, tag="remittance", needs=needs("payments.read"), status_column="outcome",
                              queue_path="/payments", queue_default=None, time_column="posted_at")
    return create_service_app(settings, access=ACCESS, title="OpenRCM remittance",
                              description="X12 835 posting: payments, contractual adjustments, patient "
                                          "responsibility.",
                              routers=[api.router, reads],
                              handlers=lambda rt: service.handlers(rt.services[Remittance]),
                              consume_topics=topics.CONSUMES["remittance"], startup=[wire], clock=clock,
                              background=[post_waiting_loop] if settings.waiting_payments_every_s > 0 else [])
