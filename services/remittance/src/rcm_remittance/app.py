"""remittance: ERA posting, contractual adjustments, patient responsibility. `create_app` is the
composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_remittance import api, underpaid
from rcm_remittance.service import HANDLERS, Deposits, Remittance
from rcm_remittance.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(Remittance(rt.units))
        rt.provide(Deposits(rt.units))

    async def wire_contracts(rt: Runtime) -> None:
        # Medicare fee schedule releases: reference data, read once here (none configured: no Medicare pricing)
        underpaid.configure(underpaid.load_fee_schedule_dir(settings.fee_schedule_dir)
                            if settings.fee_schedule_dir else None)
        rt.provide(underpaid.Contracts(rt.units))

    return create_service_app(settings, title="OpenRCM remittance",
                              description="X12 835 posting: payments, contractual adjustments, patient "
                                          "responsibility.",
                              routers=[api.router, api.reads], handlers=HANDLERS, consume_topics=[topics.SUBMISSION],
                              startup=[wire, wire_contracts], clock=clock)
