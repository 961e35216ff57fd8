"""sandbox: a local clearinghouse and payer for the demo and the end-to-end tests. `create_app` is the
composition root."""

from fastapi import FastAPI, HTTPException

from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock

from rcm_sandbox import api
from rcm_sandbox.fixtures import load_fixtures
from rcm_sandbox.service import mailbox, remitter
from rcm_sandbox.settings import Settings


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()
    fixtures = load_fixtures(settings.fixtures_path)

    async def run_remitter(rt: Runtime) -> None:
        keys = {tenant: key for key, tenant in rt.api_keys.items()}  # the payer pushes ERAs as each tenant
        base = settings.service_url("remittance")

        async def post_era(tenant_id, era) -> None:
            if tenant_id not in keys:
                raise HTTPException(500, "no API key for tenant")
            resp = await rt.http.post(f"{base}/v1/remittances/x12", content=era.encode("utf-8"),
                                      headers={"content-type": "application/edi-x12", "x-api-key": keys[tenant_id]})
            resp.raise_for_status()

        await remitter(rt, fixtures, post_era, settings.remit_batch_max, settings.adjudication_delay_s)

    async def run_mailbox(rt: Runtime) -> None:
        await mailbox(rt, fixtures, settings.file_drop_root)

    app = create_service_app(settings, title="OpenRCM sandbox clearinghouse and payer",
                             description="Simulated clearinghouse (837P in; 999/277CA out, over HTTP or an "
                                         "SFTP-style mailbox) and payer (adjudication, 835 ERAs, 270/271 "
                                         "eligibility).",
                             routers=[api.router, api.payer_router],
                             background=[run_remitter, *([run_mailbox] if settings.file_drop_root else [])],
                             clock=clock)
    app.state.fixtures = fixtures
    return app
