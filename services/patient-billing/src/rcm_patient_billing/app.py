"""patient-billing: patient balances, statements, payments and dunning."""

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_patient_billing import api, consumers
from rcm_patient_billing.settings import Settings

settings = Settings()
app = create_service_app(settings, title="OpenRCM patient-billing",
                         description="Patient balances, itemized statements, payment plans, dunning.",
                         routers=[api.router], handlers=consumers.HANDLERS, consume_topics=[topics.REMITTANCE])
