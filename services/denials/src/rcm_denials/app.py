"""denials: CARC/RARC root cause and work queues."""

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_denials import api, consumers
from rcm_denials.settings import Settings

settings = Settings()
app = create_service_app(settings, title="OpenRCM denials",
                         description="Denial root cause (CARC/RARC), work queues, appeals and corrected claims.",
                         routers=[api.router], handlers=consumers.HANDLERS, consume_topics=[topics.REMITTANCE])
