"""eligibility: coverage verification for every captured encounter."""

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_eligibility import api, consumers
from rcm_eligibility.settings import Settings

settings = Settings()
app = create_service_app(settings, title="OpenRCM eligibility",
                         description="Coverage verification (270/271), benefits and prior-auth requirements.",
                         routers=[api.router], handlers=consumers.HANDLERS, consume_topics=[topics.CHARGES])
