"""Composition root shared by every service: one FastAPI app per process, with the outbox relay and
the consumer loop as lifespan tasks (each can be switched off to scale stages independently)."""

from __future__ import annotations

import asyncio
import logging
from http import HTTPStatus
from datetime import timedelta
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any, Awaitable, Callable, Iterable, TypeVar

import httpx
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from opentelemetry import trace
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rcm_contracts.envelope import describe_validation_error
from rcm_runtime.errors import Conflict, DomainError, NotFound, TransientError
from rcm_runtime.failures import is_transient, safe_reason, sqlstate_of
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from rcm_contracts import topics as topic_names
from rcm_runtime.audit import AuditMiddleware
from rcm_runtime.audit_api import audit_router
from rcm_runtime.auth import Authenticator, Forbidden, Unauthenticated, document_access
from rcm_runtime.body_limits import BodyLimitMiddleware, document_limit
from rcm_runtime.consumer import BatchApplier, ConsumerLoop, Handler
from rcm_runtime.db import make_engine
from rcm_runtime.dead_letters import DeadLetters
from rcm_runtime.ops import ops_router
from rcm_runtime.clock import Clock, SystemClock
from rcm_runtime.inbox import prune_inbox_forever
from rcm_runtime.outage import Backoff, when_up
from rcm_runtime.kafka_access import KafkaAccess
from rcm_runtime.outbox import OutboxRelay, make_producer
from rcm_runtime.roles import AccessMap
from rcm_runtime.rate_limits import RateLimited, RateLimiter, document_rate_limit
from rcm_runtime import phi
from rcm_runtime.secret_settings import refuse_insecure
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.telemetry import setup_logging, setup_tracing, span_from_traceparent
from rcm_runtime.tls import http_verify
from rcm_runtime.unit_of_work import UnitsOfWork

log = logging.getLogger("rcm.app")
TASKS_GRACE_S = 10.0  # on shutdown: the batch in hand commits, the relay sends what it took


@dataclass
class Runtime:
    """What the composition root builds once per process and the app's dependencies hand out."""

    settings: ServiceSettings
    engine: AsyncEngine
    out_topic: str
    authenticator: Authenticator
    clock: Clock
    units: UnitsOfWork = field(init=False)
    producer: AIOKafkaProducer | None = None
    relay: OutboxRelay | None = None
    consumer: ConsumerLoop | None = None
    http: httpx.AsyncClient | None = None
    tasks: list[asyncio.Task] = field(default_factory=list)
    services: dict[type, Any] = field(default_factory=dict)
    handlers: dict[str, Handler] = field(default_factory=dict)  # event type -> consumer handler
    rate_limiters: dict[str, RateLimiter] = field(default_factory=dict)  # by name (rcm_runtime.rate_limits)

    def provide(self, service: Any) -> None:
        """Register a use-case object (built once, in the composition root) for `Provided[...]`."""
        self.services[type(service)] = service

    def __post_init__(self) -> None:
        self.units = UnitsOfWork(self.engine, service=self.settings.service_name, topic=self.out_topic,
                                 clock=self.clock, on_commit=self.poke_relay)

    def poke_relay(self) -> None:
        if self.relay is not None:
            self.relay.poke()


def loop_time() -> float:
    return asyncio.get_running_loop().time()


async def _ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _quietly(aw: Awaitable[Any]) -> None:
    try:
        await aw
    except Exception:  # noqa: BLE001 - cleaning up after a failure that is reported instead
        pass


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
BackgroundTask = Callable[[Runtime], Awaitable[None]]
T = TypeVar("T")


class Provided:
    """`Provided[Charges]` in a router signature hands out the one Charges object the composition root
    registered with `rt.provide(...)`: routers call use cases and never build their own."""

    def __class_getitem__(cls, service_type: type[T]) -> Any:
        def get(request: Request) -> T:
            try:
                return request.app.state.runtime.services[service_type]
            except KeyError:  # a wiring bug, found by the first request of any test
                raise RuntimeError(f"{service_type.__name__} was not provided by the composition root") from None

        get.__name__ = f"provided_{service_type.__name__}"
        return Annotated[service_type, Depends(get)]


class ErrorBody(BaseModel):
    """Every error the API answers: a stable code, what went wrong (no submitted values), and field-level errors
    when there are. Some errors add context (e.g. what a stopped redrive did before the outage)."""

    model_config = ConfigDict(extra="allow")

    code: str
    description: str
    errors: list[Any] | None = None


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


# Documented once for every route of every service (include_router below), so a client generated from the OpenAPI
# knows the error shape and a schema-checking fuzzer accepts no undocumented status. 413 and 429 are documented
# per route, with their limits, where they can happen (document_limit, document_rate_limit).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _error("the body cannot be parsed (e.g. JSON that is not UTF-8)"),
    401: _error("missing or unknown credentials"),
    403: _error("authenticated, but no role of the caller holds the permission the route names (`permission`), the "
                "route is for platform operators, or a patient's route lacks the token's patient account"),
    404: _error("no such resource for this tenant"),
    409: _error("the resource is in a state that forbids the request"),
    422: _error("the request failed validation or a business rule"),
    503: _error("a dependency (database, payer, clearinghouse) is unavailable; retry later"),
}


def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
    # Raised with detail={"code", "description"} (auth, not-found reads) or by the framework with a text detail
    # (an unknown path or method): the same flat shape as every other error, never {"detail": ...}.
    if isinstance(exc.detail, dict) and "code" in exc.detail:
        body = dict(exc.detail)
    else:
        try:
            code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
        except ValueError:
            code = "error"
        body = {"code": code, "description": str(exc.detail)}
    return JSONResponse(status_code=exc.status_code, content=body, headers=getattr(exc, "headers", None))


def _validation_422(_: Request, exc: RequestValidationError) -> JSONResponse:
    # Field-level reasons, without echoing the submitted values (they are usually PHI).
    errors = [
        {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": e.get("msg", "invalid"), "type": e.get("type")}
        for e in exc.errors()
    ]
    return JSONResponse(status_code=422, content={"code": "invalid_request", "description": "request failed validation", "errors": errors})


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str = "",
    routers: Iterable[APIRouter] = (),
    handlers: dict[str, Handler] | Callable[[Runtime], dict[str, Handler]] | None = None,
    consume_topics: list[topic_names.Subscription] | None = None,
    background: Iterable[BackgroundTask] = (),
    startup: Iterable[BackgroundTask] = (),
    clock: Clock | None = None,
    access: AccessMap | None = None,
) -> FastAPI:
    """`access` is the service's permission map (its routes name permissions of it: rcm_runtime.auth).
    `startup` hooks are awaited before the relay and the consumer start (wire dependencies there: they
    get the Runtime, with its engine, units of work, clock and HTTP client); `background` tasks run for the
    life of the process. `clock` defaults to the system clock; tests pass a FixedClock."""
    clock = clock or SystemClock()
    consume_topics = consume_topics or []
    out_topic = topic_names.events_topic(settings.service_name.replace("-", "_"))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        setup_logging(settings.service_name, settings.log_level)
        setup_tracing(settings.service_name, settings.otel_exporter, settings.otel_endpoint, settings.otel_file)
        # Before anything is connected or served: outside development, no empty or development-default secret.
        refuse_insecure(settings, log=log.error)
        phi.configure(settings)  # the PHI keyring (rcm_runtime.phi): a keys file that does not load stops here
        engine = make_engine(settings)
        http = httpx.AsyncClient(timeout=30, verify=http_verify(settings))  # https:// peers: RCM_TLS_CA_FILE
        rt = Runtime(settings=settings, engine=engine, out_topic=out_topic, clock=clock, http=http,
                     authenticator=Authenticator.from_settings(settings, http))
        app.state.runtime = rt
        # Started while PostgreSQL or Kafka is down (a host reboot, the whole stack starting at once): wait for
        # them, up to startup_wait_s in all, rather than crash and leave it to a supervisor.
        deadline = loop_time() + settings.startup_wait_s

        def until_up(attempt, what: str):
            return when_up(attempt, what=f"startup: {what}", log=log, backoff=Backoff.from_settings(settings),
                           wait_s=max(0.0, deadline - loop_time()))

        await until_up(lambda: _ping_database(engine), "database")
        for hook in startup:
            await hook(rt)
        # Handlers may need the use-case objects the startup hooks built: a callable gets the Runtime.
        rt.handlers = active_handlers = (handlers(rt) if callable(handlers) else handlers) or {}
        # Redrive goes through the consumer's own path: a BatchApplier over the same handlers (any replica may
        # serve it, consuming or not).
        rt.provide(DeadLetters(engine, lambda: BatchApplier(engine, rt.handlers, settings.service_name, out_topic,
                                                            rt.poke_relay, clock), clock))
        if settings.relay_enabled:
            async def start_producer() -> AIOKafkaProducer:
                producer = make_producer(KafkaAccess.from_settings(settings), f"{settings.service_name}-relay",
                                         compression=settings.kafka_compression,
                                         max_request_size=settings.kafka_max_request_bytes)
                try:
                    await producer.start()
                except BaseException:
                    await _quietly(producer.stop())  # a fresh producer for the next attempt
                    raise
                return producer

            rt.producer = await until_up(start_producer, "kafka (relay)")
            rt.relay = OutboxRelay(engine, rt.producer, settings.db_schema, settings.relay_batch_max, settings.relay_idle_poll_s,
                                   backoff=Backoff.from_settings(settings))
            rt.tasks.append(asyncio.create_task(rt.relay.run(), name="outbox-relay"))
        if settings.consumer_enabled and consume_topics and active_handlers:
            rt.consumer = ConsumerLoop(
                engine=engine, kafka=KafkaAccess.from_settings(settings), group_id=settings.group_id,
                topics=consume_topics, handlers=active_handlers, service=settings.service_name, out_topic=out_topic,
                batch_max=settings.consumer_batch_max, max_retries=settings.consumer_max_retries,
                retry_backoff_s=settings.consumer_retry_backoff_s, on_commit=rt.poke_relay, clock=clock,
                outage_backoff=Backoff.from_settings(settings), metadata_max_age_ms=settings.kafka_metadata_max_age_ms,
            )
            await until_up(rt.consumer.start, "kafka (consumer)")
            rt.tasks.append(asyncio.create_task(rt.consumer.run(), name="consumer"))
        if rt.consumer is not None and settings.inbox_retention_days > 0:
            rt.tasks.append(asyncio.create_task(prune_inbox_forever(
                engine, clock, retention=timedelta(days=settings.inbox_retention_days),
                every_s=settings.inbox_prune_every_s), name="inbox-retention"))
        for task in background:
            rt.tasks.append(asyncio.create_task(task(rt), name=getattr(task, "__name__", "background")))
        log.info("service started", extra={"status": "started"})
        try:
            yield
        finally:
            # Graceful: stop taking work, let the current batch commit, then close clients.
            if rt.consumer:
                rt.consumer.stop()
            if rt.relay:
                rt.relay.stop()
            for t in rt.tasks:
                if t.get_name() not in ("consumer", "outbox-relay"):  # let the current batch finish
                    t.cancel()
            # uvicorn drains requests for up to 15 s first (rcm_runtime.serve): 15 + 10 stays inside the 30 s an
            # orchestrator gives after SIGTERM (docker-compose stop_grace_period) before it kills the process.
            await asyncio.wait(rt.tasks, timeout=TASKS_GRACE_S) if rt.tasks else None
            for t in rt.tasks:
                t.cancel()
            if rt.producer:
                await rt.producer.stop()
            if rt.http:
                await rt.http.aclose()
            await engine.dispose()
            log.info("service stopped", extra={"status": "stopped"})

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.access = access
    app.add_exception_handler(RequestValidationError, _validation_422)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    @app.exception_handler(Unauthenticated)
    async def _unauthenticated(_: Request, exc: Unauthenticated) -> JSONResponse:
        return JSONResponse(status_code=401, headers={"www-authenticate": exc.www_authenticate()},
                            content={"code": "unauthenticated", "description": str(exc)})

    @app.exception_handler(Forbidden)
    async def _forbidden(_: Request, exc: Forbidden) -> JSONResponse:
        return JSONResponse(status_code=403, headers={"www-authenticate": exc.www_authenticate()},
                            content={"code": "forbidden", "description": str(exc), "permission": exc.permission})

    @app.exception_handler(OperationalError)
    async def _db_down(_: Request, exc: OperationalError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"code": "unavailable", "description": "database unavailable; retry later"})

    @app.exception_handler(TransientError)
    async def _dependency_down(_: Request, exc: TransientError) -> JSONResponse:
        # A payer or clearinghouse is unreachable: the caller may retry; not a bug, so no 500. The message
        # of a TransientError is written to be safe (no PHI).
        return JSONResponse(status_code=503, headers={"retry-after": "30"},
                            content={"code": "dependency_unavailable", "description": str(exc)})

    @app.exception_handler(DomainError)
    async def _rejected(_: Request, exc: DomainError) -> JSONResponse:
        # A domain rule refused the caller's input (messages are written to be safe): 422 with its reason,
        # and the problem list when the error carries one. NotFound and Conflict have their own codes below.
        body = {"code": getattr(exc, "code", "rejected"), "description": str(exc)}
        problems = getattr(exc, "errors", None) or getattr(exc, "problems", None)
        if isinstance(problems, list):
            body["errors"] = problems
        return JSONResponse(status_code=422, content=jsonable_encoder(body))

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"code": exc.code, "description": str(exc)})

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"code": exc.code, "description": str(exc)})

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> JSONResponse:
        return JSONResponse(status_code=429, headers={"retry-after": str(exc.retry_after_s)},
                            content={"code": "rate_limited", "description": f"{exc} ({exc.retry_after_s} s)"})

    @app.exception_handler(ValidationError)
    async def _invalid_model(_: Request, exc: ValidationError) -> JSONResponse:
        # A model built from request data inside a handler: the caller's input, so a 422 naming fields.
        return JSONResponse(status_code=422, content={"code": "invalid_request",
                                                      "description": describe_validation_error(exc)})

    @app.exception_handler(DBAPIError)
    async def _db_error(request: Request, exc: DBAPIError) -> JSONResponse:
        state = sqlstate_of(exc) or ""
        if state.startswith("22"):  # data exception: the caller sent a value PostgreSQL cannot hold
            return JSONResponse(status_code=422, content={
                "code": "invalid_value", "description": "a value cannot be stored (e.g. a NUL character, an "
                                                        "out-of-range date or number)"})
        return await _unexpected(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        if is_transient(exc):
            # The database, the broker or an outside party is not answering (a lost connection, a deadlock):
            # the caller may retry, and it is no bug to log with a traceback.
            log.warning("request met an outage", extra={"reason": safe_reason(exc)})
            return JSONResponse(status_code=503, headers={"retry-after": "5"},
                                content={"code": "unavailable", "description": "a dependency is unavailable; retry later"})
        # A bug, not bad input: log the type and place (never values) and answer in the API's error shape.
        log.error("unhandled error", exc_info=exc)
        return JSONResponse(status_code=500, content={"code": "internal_error",
                                                      "description": "unexpected server error; it has been logged"})

    @app.middleware("http")
    async def _trace_requests(request: Request, call_next):
        if request.url.path in ("/healthz", "/readyz"):
            return await call_next(request)
        # Named by the route's template, never the raw path: a path may carry a patient's id (/patients/{id}).
        with span_from_traceparent(f"{request.method}", request.headers.get("traceparent"),
                                   kind=trace.SpanKind.SERVER, **{"http.method": request.method}) as span:
            response = await call_next(request)
            route = request.scope.get("route")
            template = getattr(route, "path", None) or "unmatched route"
            span.update_name(f"{request.method} {template}")
            span.set_attribute("http.route", template)
            span.set_attribute("http.status_code", response.status_code)
            return response

    # Audited routes (rcm_runtime.audit): each answer is recorded before it is sent.
    app.add_middleware(AuditMiddleware)
    # Outermost: a body too large for its endpoint is refused before any other layer reads it.
    app.add_middleware(BodyLimitMiddleware, settings=settings)

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict:
        return {"status": "alive", "service": settings.service_name}

    @app.get("/readyz", tags=["ops"],
             responses={503: {"description": "not ready: the body's checks say what is down"}})
    async def readyz(request: Request) -> JSONResponse:
        rt: Runtime = request.app.state.runtime
        checks: dict[str, str] = {}
        try:
            async with rt.engine.connect() as conn:
                row = (await conn.execute(text(
                    "SELECT to_regclass('outbox') IS NOT NULL AND to_regclass('inbox') IS NOT NULL"))).scalar()
            checks["database"] = "ok" if row else "schema not migrated"
        except (DBAPIError, OSError) as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
        if rt.producer is not None or rt.consumer is not None:
            try:
                client = rt.producer.client if rt.producer is not None else rt.consumer.consumer._client  # type: ignore[union-attr]
                ok = await asyncio.wait_for(client.ready(client.get_random_node()), timeout=3) if client.get_random_node() is not None else False
                checks["kafka"] = "ok" if ok else "no broker connection"
            except Exception as exc:  # noqa: BLE001
                checks["kafka"] = f"unreachable ({type(exc).__name__})"
        if rt.consumer is not None:
            # Waiting out an outage (even one the checks above do not see, e.g. a payer down): not ready, while
            # /healthz stays alive so the process is not restarted for it.
            checks["consumer"] = ("waiting out an outage" if rt.consumer.waiting_out_outage
                                  else "ok" if rt.consumer.ready else "not running")
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(status_code=200 if ready else 503, content={"status": "ready" if ready else "not ready", "checks": checks})

    app.include_router(ops_router, responses=ERROR_RESPONSES)
    if access is not None:  # the auditors' API over this service's audit trail
        app.include_router(audit_router, responses=ERROR_RESPONSES)
    for router in routers:
        app.include_router(router, responses=ERROR_RESPONSES)
    for route in app.routes:
        if isinstance(route, APIRoute):
            document_limit(route, settings)
            document_rate_limit(route)
    if access is not None:
        plain_openapi = app.openapi

        def openapi() -> dict:
            if app.openapi_schema is None:
                app.openapi_schema = document_access(plain_openapi(), app.routes, access)
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]
    return app
