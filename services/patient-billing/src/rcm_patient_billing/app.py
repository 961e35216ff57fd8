"""patient-billing: patient balances, statements, payments and dunning. `create_app` is the composition root."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_patient_billing import api, consumers
from rcm_patient_billing.access import ACCESS
from rcm_patient_billing.service import PatientAccounts, PatientBilling
from rcm_patient_billing.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(PatientBilling(rt.units))
        rt.provide(PatientAccounts(rt.units))

    return create_service_app(settings, access=ACCESS, title="OpenRCM patient-billing",
                              description="Patient balances, itemized statements, payment plans, dunning.",
                              routers=[api.router, api.accounts, api.settings], consume_topics=topics.CONSUMES["patient-billing"], startup=[wire],
                              handlers=lambda rt: consumers.handlers(rt.services[PatientBilling]), clock=clock)
