"""charges: encounter intake (FHIR R4, JSON, Kafka) and charge capture."""

from datetime import timedelta

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_charges import api, consumers
from rcm_charges.settings import Settings

settings = Settings()
app = create_service_app(
    settings,
    title="OpenRCM charges",
    description="Encounter intake from EHRs (FHIR R4 Bundle, OpenRCM JSON, Kafka topic "
    f"`{topics.INTAKE_ENCOUNTERS}`) and charge capture.",
    routers=[api.router, api.reads],
    handlers=consumers.handlers(timedelta(seconds=settings.charge_lag_s)),
    background=[consumers.release_loop] if settings.charge_lag_s > 0 else [],
    consume_topics=[topics.INTAKE_ENCOUNTERS],
)
