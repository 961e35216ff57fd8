"""sandbox: a local clearinghouse and payer for the demo and the end-to-end tests."""

from fastapi import HTTPException

from rcm_runtime.app import create_service_app

from rcm_sandbox import api
from rcm_sandbox.fixtures import load_fixtures
from rcm_sandbox.service import remitter
from rcm_sandbox.settings import Settings

settings = Settings()
fixtures = load_fixtures(settings.fixtures_path)


async def run_remitter(rt) -> None:
    keys = {tenant: key for key, tenant in rt.api_keys.items()}  # the payer pushes ERAs as each tenant
    base = settings.service_url("remittance")

    async def post_era(tenant_id, era) -> None:
        if tenant_id not in keys:
            raise HTTPException(500, "no API key for tenant")
        resp = await rt.http.post(f"{base}/v1/remittances", content=era.model_dump_json(),
                                  headers={"content-type": "application/json", "x-api-key": keys[tenant_id]})
        resp.raise_for_status()

    await remitter(rt, fixtures, post_era, settings.remit_batch_max, settings.adjudication_delay_s)


app = create_service_app(settings, title="OpenRCM sandbox clearinghouse and payer",
                         description="Simulated clearinghouse (999/277CA) and payer (adjudication, 835 ERAs).",
                         routers=[api.router, api.payer_router], background=[run_remitter])
app.state.fixtures = fixtures
