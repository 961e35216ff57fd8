"""charges: encounter intake (FHIR R4, HL7 v2, JSON, Kafka) and charge capture. `create_app` is the
composition root."""

from datetime import timedelta

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock
from rcm_runtime.outage import Backoff

from rcm_charges import api, consumers
from rcm_charges.access import ACCESS
from rcm_charges.hl7_interface import Hl7Interface
from rcm_charges.mllp import MllpListener
from rcm_charges.service import Charges
from rcm_charges.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(Charges(rt.units, charge_lag=timedelta(seconds=settings.charge_lag_s)))
        if settings.mllp_port is not None:  # bound here, so a port in use or bad TLS settings stop the start
            listener = MllpListener(Hl7Interface(rt.units, charge_lag=timedelta(seconds=settings.charge_lag_s)),
                                    settings)
            await listener.start()
            rt.provide(listener)

    async def mllp_listener(rt: Runtime) -> None:
        """HL7 v2 over MLLP (rcm_charges.mllp), until shutdown."""
        await rt.services[MllpListener].serve()

    async def release_loop(rt: Runtime) -> None:
        """Releases encounters whose charge-lag window has passed."""
        await rt.services[Charges].release_forever(backoff=Backoff.from_settings(settings))

    return create_service_app(
        settings, access=ACCESS,
        title="OpenRCM charges",
        description="Encounter intake from EHRs (FHIR R4 Bundle, HL7 v2 DFT^P03, OpenRCM JSON, Kafka topics "
        f"`{topics.INTAKE_PREFIX}<tenant>`) and charge capture.",
        routers=[api.router, api.reads],
        handlers=lambda rt: consumers.handlers(rt.services[Charges]),
        background=([release_loop] if settings.charge_lag_s > 0 else [])
        + ([mllp_listener] if settings.mllp_port is not None else []),
        consume_topics=topics.CONSUMES["charges"],
        startup=[wire],
        clock=clock,
    )
