"""remittance: ERA posting, contractual adjustments, patient responsibility."""

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_remittance import api
from rcm_remittance.service import HANDLERS
from rcm_remittance.settings import Settings

settings = Settings()
app = create_service_app(settings, title="OpenRCM remittance",
                         description="X12 835 posting: payments, contractual adjustments, patient responsibility.",
                         routers=[api.router, api.reads], handlers=HANDLERS, consume_topics=[topics.SUBMISSION])
