"""coding: code validation and the coder queue."""

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_coding import api, consumers
from rcm_coding.settings import Settings

settings = Settings()
app = create_service_app(settings, title="OpenRCM coding",
                         description="ICD-10-CM / CPT / HCPCS validation, coding edits and the coder queue.",
                         routers=[api.router], handlers=consumers.HANDLERS, consume_topics=[topics.ELIGIBILITY])
