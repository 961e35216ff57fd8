"""analytics: read models and KPIs over every service's events."""

from rcm_runtime.app import create_service_app

from rcm_analytics import api, consumers
from rcm_analytics.settings import Settings

settings = Settings()
app = create_service_app(settings, title="OpenRCM analytics",
                         description="Claim timelines, pipeline counts and revenue-cycle KPIs.",
                         routers=[api.router], handlers=consumers.HANDLERS, consume_topics=consumers.TOPICS)
