"""Tracing (OpenTelemetry) and structured JSON logs.

Trace context travels inside each event (envelope.traceparent, copied to a Kafka header), so one claim
is one trace across every service even though the hop goes through an outbox table.
Logs carry ids and counts only: never payloads, names, dates of birth or member ids (PHI).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_propagator = TraceContextTextMapPropagator()
_configured = False
_recording = False  # spans cost CPU on every event: only made when an exporter will receive them


def setup_tracing(service_name: str, exporter: str = "none", endpoint: str | None = None,
                  path: str | None = None) -> None:
    """exporter: none | console (stderr) | file (JSON lines appended to `path`) | otlp (OTLP/HTTP to `endpoint`)."""
    global _configured, _recording
    if _configured:
        return
    _recording = exporter != "none"
    provider = TracerProvider(resource=Resource.create({"service.name": f"rcm-{service_name}"}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
    elif exporter == "file":
        if not path:
            raise ValueError("RCM_OTEL_FILE is required when RCM_OTEL_EXPORTER=file")
        out = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 (lives as long as the process)
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(
            out=out, formatter=lambda span: span.to_json(indent=None) + "\n")))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True


def tracer() -> trace.Tracer:
    return trace.get_tracer("rcm")


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span_from_traceparent(name: str, traceparent: str | None, kind=trace.SpanKind.CONSUMER, **attrs) -> Iterator[trace.Span]:
    ctx = _propagator.extract({"traceparent": traceparent}) if traceparent else otel_context.Context()
    with tracer().start_as_current_span(name, context=ctx, kind=kind, attributes=attrs) as span:
        yield span


def start_consumer_span(name: str, traceparent: str | None, **attrs) -> trace.Span | None:
    """A span continuing the producer's trace; the caller ends it (after the batch commits).
    None when no exporter is configured: the event's traceparent is then passed on unchanged, so a
    claim still stays one trace."""
    if not _recording:
        return None
    ctx = _propagator.extract({"traceparent": traceparent}) if traceparent else otel_context.Context()
    return tracer().start_span(name, context=ctx, kind=trace.SpanKind.CONSUMER, attributes=attrs)


def traceparent_of(span: trace.Span | None, fallback: str | None = None) -> str | None:
    if span is None:
        return fallback
    carrier: dict[str, str] = {}
    _propagator.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Only whitelisted context keys pass through `extra=`."""

    CONTEXT_KEYS = (
        "service", "tenant_id", "claim_id", "event_id", "event_type", "topic", "partition",
        "offset", "count", "reason", "duration_ms", "status", "path", "method",
    )

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in self.CONTEXT_KEYS:
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        span_ctx = trace.get_current_span().get_span_context()
        if span_ctx.is_valid:
            out["trace_id"] = f"{span_ctx.trace_id:032x}"
            out["span_id"] = f"{span_ctx.span_id:016x}"
        if record.exc_info and record.exc_info[0] is not None:
            # Type and location only: exception messages may quote input values.
            exc_type = record.exc_info[0]
            tb = record.exc_info[2]
            while tb is not None and tb.tb_next is not None:
                tb = tb.tb_next
            out["error"] = exc_type.__name__
            if tb is not None:
                out["error_at"] = f"{tb.tb_frame.f_code.co_filename.rsplit('/', 1)[-1]}:{tb.tb_lineno}"
        return json.dumps(out, default=str)


class RepeatLimit(logging.Filter):
    """Lets a library's same message (its template, per logger) through once per `every_s` seconds. While Kafka is
    away, aiokafka logs each failed connect and fetch, ten a second per client; our own outage logs say once
    that a dependency is away and once that it is back. A message let through after a quiet spell says how many
    like it were held back."""

    def __init__(self, prefixes: tuple[str, ...] = ("aiokafka",), every_s: float = 60.0,
                 now: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.prefixes = prefixes
        self.every_s = every_s
        self.now = now
        self._last: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self.prefixes):
            return True
        key = (record.name, str(record.msg))
        t = self.now()
        last = self._last.get(key)
        if last is not None and t - last < self.every_s:
            self._held[key] = self._held.get(key, 0) + 1
            return False
        if len(self._last) > 1000:  # templates are few; bound it anyway
            self._last.clear()
        self._last[key] = t
        held = self._held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} ({held} like it in the last {self.every_s:.0f}s not logged)"
        return True


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(RepeatLimit())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "uvicorn.access", "sqlalchemy.engine", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
