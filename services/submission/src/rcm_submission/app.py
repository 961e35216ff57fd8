"""submission: claims to the clearinghouse, acknowledgments back."""

from rcm_contracts import topics
from rcm_runtime.app import create_service_app

from rcm_submission import api
from rcm_submission.clearinghouse import HttpClearinghouse
from rcm_submission.service import HANDLERS, dispatcher
from rcm_submission.settings import Settings

settings = Settings()


def _adapter(rt):
    url = settings.clearinghouse_url or settings.service_url("sandbox")
    return HttpClearinghouse(settings.clearinghouse_name, url, settings.clearinghouse_key, rt.http)


async def run_dispatcher(rt) -> None:
    await dispatcher(rt, _adapter)


app = create_service_app(settings, title="OpenRCM submission",
                         description="Claim submission to clearinghouses (837P) and acknowledgment handling (999/277CA).",
                         routers=[api.router], handlers=HANDLERS, consume_topics=[topics.SCRUBBER],
                         background=[run_dispatcher] if settings.dispatch_enabled else [])
