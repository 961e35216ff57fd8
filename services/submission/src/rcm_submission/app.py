"""submission: 837P interchanges to clearinghouses, 999/277CA acknowledgments back, 835s on to remittance. `create_app` is the
composition root: the clearinghouse connections and the `Submission` use cases are built once per process,
when it starts."""

from fastapi import FastAPI

from rcm_contracts import topics
from rcm_runtime.app import Runtime, create_service_app
from rcm_runtime.clock import Clock
from rcm_runtime.outage import Backoff
from rcm_runtime.polling import poll_forever

from rcm_submission import api
from rcm_submission.access import ACCESS
from rcm_submission.clearinghouse import (
    ClearinghouseAdapter, ClearinghouseUnavailable, FileDropClearinghouse, HttpClearinghouse,
)
from rcm_submission.service import HANDLERS, Identity, Submission, log
from rcm_submission.settings import Settings


def clearinghouse_connections(settings: Settings, rt: Runtime) -> dict[str, ClearinghouseAdapter]:
    connections: dict[str, ClearinghouseAdapter] = {}
    for name, cfg in settings.clearinghouse_config().items():
        if cfg["kind"] == "file":
            connections[name] = FileDropClearinghouse(name, cfg["root"])
        else:
            connections[name] = HttpClearinghouse(name, cfg.get("url") or settings.service_url("sandbox"),
                                                  cfg.get("key", settings.clearinghouse_key), rt.http)
    return connections


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(rt: Runtime) -> None:
        rt.provide(Submission(rt.units, clearinghouse_connections(settings, rt),
                              identity=Identity(settings.submitter_name, settings.submitter_contact,
                                                settings.submitter_phone),
                              default_route=settings.default_clearinghouse, usage=settings.interchange_usage,
                              batch_max=settings.dispatch_batch_max,
                              era_max_bytes=settings.era_event_max_bytes))

    async def run_dispatcher(rt: Runtime) -> None:
        await poll_forever(rt.services[Submission].dispatch_once, idle_s=0.1, log=log, what="dispatch",
                           failure_wait_s=2.0, transient=(ClearinghouseUnavailable,),
                           backoff=Backoff.from_settings(settings))

    async def run_ack_poller(rt: Runtime) -> None:
        await poll_forever(rt.services[Submission].poll_acknowledgments, idle_s=settings.ack_poll_s, log=log,
                           what="acknowledgments", failure_wait_s=2.0, transient=(ClearinghouseUnavailable,),
                           backoff=Backoff.from_settings(settings))

    return create_service_app(settings, access=ACCESS, title="OpenRCM submission",
                              description="X12 837P (005010X222A1) to clearinghouses, validated against the "
                                          "implementation guide before anything leaves; 999 and 277CA "
                                          "acknowledgments; corrected and secondary claims.",
                              routers=[api.reads, api.router], handlers=HANDLERS,
                              consume_topics=topics.CONSUMES["submission"], startup=[wire],
                              background=[run_dispatcher, run_ack_poller] if settings.dispatch_enabled else [],
                              clock=clock)
