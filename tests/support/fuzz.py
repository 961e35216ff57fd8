"""Schemathesis against a service's own OpenAPI, in-process: the service's app from its `create_app(settings)`
(tests/support/api.py `service_api`: real PostgreSQL in a throwaway schema, relay and consumer off), every
operation of its schema fuzzed with schemathesis' examples, coverage and fuzzing phases, each response checked
for server errors and for conformance to the schema the app itself publishes.

Schemathesis draws cases synchronously (Hypothesis); the app and its asyncpg pool live on the caller's event
loop. So each operation's Hypothesis test runs in a worker thread and sends every case back to the loop through
the test's own httpx ASGI client. Failures are collected (one per operation, check and status), not raised, so a
run reports everything it found at once; each carries a curl line to reproduce it.

Used by the bounded suite test (tests/fuzz) and the longer run (bench/fuzz_apis.py).
"""

from __future__ import annotations

import asyncio
import importlib
import tempfile
import threading
import time
from collections import Counter
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, AsyncIterator, Callable

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.generation.hypothesis.builder import HypothesisTestConfig, HypothesisTestMode, create_test
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from tests.support.api import ServiceApi, bearer, service_api

# What every response must pass: no 5xx, a documented status code and content type, a body its declared schema
# accepts.
CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance)
# Stricter, on request (bench/fuzz_apis.py --negative): input the schema forbids must get a 4xx. It found the dates
# read from numbers (rcm_contracts.dates); what it still reports is by design: a repeated scalar query parameter
# (the last one wins) and X12 / HL7 bodies, which are any text.
NEGATIVE_CHECKS = (negative_data_rejection,)
SEND_TIMEOUT_S = 60.0
OUTAGE_WAIT_S = 120.0
PAYER_URL = "http://payer.test"

# Intake formats that are text on the wire (X12, HL7 v2 ER7): sent as the generated string.
schemathesis.serializer.alias(["application/edi-x12", "x-application/hl7-v2+er7"], "text/plain")


@asynccontextmanager
async def _alone(_tmp: Path) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    yield {}, {}


@asynccontextmanager
async def _file_drop_clearinghouse(tmp: Path) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    # Submission's clearinghouse as a mailbox directory: fuzzing sends nothing anywhere.
    yield {}, {"clearinghouses": f'{{"box": {{"kind": "file", "root": "{tmp / "box"}"}}}}',
               "default_clearinghouse": "box"}


@asynccontextmanager
async def _sandbox_payer(_tmp: Path) -> AsyncIterator[tuple[dict[str, Any], dict[str, Any]]]:
    # Eligibility asks the sandbox (in-process, its own throwaway schema) as its real-time payer, as its API tests
    # do: a check that gets as far as a 270 gets the payer's 271, rather than waiting on a payer that never answers.
    from rcm_sandbox.app import create_app
    from rcm_sandbox.db import metadata
    from rcm_sandbox.settings import Settings

    async with service_api(create_app, Settings, metadata, loops_enabled=False) as sandbox:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url=PAYER_URL) as client:
            yield {"payer_http": client}, {"payer_url": PAYER_URL}


PeersOf = Callable[[Path], AbstractAsyncContextManager[tuple[dict[str, Any], dict[str, Any]]]]


@dataclass(frozen=True)
class Target:
    """One business service as the fuzzer starts it: its package, and what it talks to (`peers`: a context giving
    keyword arguments for its create_app and settings overrides)."""

    name: str
    package: str
    peers: PeersOf = _alone

    def parts(self) -> tuple[Any, type, Any]:
        app = importlib.import_module(f"{self.package}.app")
        settings = importlib.import_module(f"{self.package}.settings")
        db = importlib.import_module(f"{self.package}.db")
        return app.create_app, settings.Settings, db.metadata


TARGETS = (
    Target("charges", "rcm_charges"),
    Target("eligibility", "rcm_eligibility", _sandbox_payer),
    Target("coding", "rcm_coding"),
    Target("scrubber", "rcm_scrubber"),
    Target("submission", "rcm_submission", _file_drop_clearinghouse),
    Target("remittance", "rcm_remittance"),
    Target("denials", "rcm_denials"),
    Target("patient-billing", "rcm_patient_billing"),
    Target("analytics", "rcm_analytics"),
)


def credentials(api: ServiceApi, operation: Any) -> dict[str, str]:
    """The one place the fuzzer authenticates: a tenant's token for the business routes, a platform operator's
    for the ops routes (tagged `ops`: dead letters, acknowledgment files), a patient's for a patient's own account
    (tagged `patient account`)."""
    tags = operation.tags or ()
    if "ops" in tags:
        return api.operator_headers()
    if "patient account" in tags:
        return bearer("tenant-a", user="fuzz.patient", roles=["patient"], rcm_patient="ACC-FUZZ")
    return api.headers("tenant-a")


@dataclass(frozen=True)
class Found:
    """A distinct failure: one per operation, check and response status."""

    operation: str
    check: str
    status: int
    title: str
    detail: str
    curl: str

    def __str__(self) -> str:
        return f"{self.operation} [{self.check}] {self.status}: {self.title}\n    {self.detail}\n    {self.curl}"


@dataclass
class ServiceReport:
    service: str
    operations: int = 0
    cases: int = 0
    cases_by_operation: Counter = field(default_factory=Counter)
    found: dict[tuple[str, str, int], Found] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # operations schemathesis could not test at all

    def failures_by_check(self) -> Counter:
        return Counter(f.check for f in self.found.values())

    def ok(self) -> bool:
        return not self.found and not self.errors


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Schemathesis serializes a case for `requests`; the same request for httpx."""
    out = {k: kwargs[k] for k in ("method", "url", "headers", "params", "json", "files") if k in kwargs}
    data = kwargs.get("data")
    if isinstance(data, (bytes, str)):
        out["content"] = data
    elif data is not None:
        out["data"] = data
    if kwargs.get("cookies"):
        out["cookies"] = kwargs["cookies"]
    return out


def _short(text: str, limit: int = 600) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class _Sender:
    """Sends a case from the Hypothesis thread to the app on the event loop, and records what the checks found."""

    def __init__(self, api: ServiceApi, loop: asyncio.AbstractEventLoop, report: ServiceReport,
                 checks: tuple) -> None:
        self.api, self.loop, self.report, self.checks = api, loop, report, list(checks)
        self.lock = threading.Lock()

    def __call__(self, case: schemathesis.Case) -> None:
        auth = credentials(self.api, case.operation)
        kwargs = _httpx_kwargs(case.as_transport_kwargs(base_url=str(self.api.client.base_url), headers=auth))
        response = self._send(kwargs)
        label = case.operation.label
        with self.lock:
            self.report.cases += 1
            self.report.cases_by_operation[label] += 1
        try:
            case.validate_response(response, checks=self.checks, headers=auth)
        except FailureGroup as group:
            for failure in group.exceptions:
                self._record(label, failure, response, case, auth)

    def _send(self, kwargs: dict[str, Any]) -> httpx.Response:
        # The shared PostgreSQL may be down for a while (restarts, fault drills): the app then answers 503
        # "unavailable", as it should. Wait that out like the services do; a 503 while the database is up is a finding.
        deadline = time.monotonic() + OUTAGE_WAIT_S
        while True:
            response = self._on_loop(self.api.client.request(**kwargs))
            if response.status_code != 503 or time.monotonic() >= deadline or self._on_loop(self._database_up()):
                return response
            time.sleep(2.0)

    def _on_loop(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(SEND_TIMEOUT_S)

    async def _database_up(self) -> bool:
        try:
            async with self.api.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:  # noqa: BLE001 - any failure to answer is "not up"
            return False
        return True

    def _record(self, label: str, failure: Failure, response, case: schemathesis.Case, auth: dict[str, str]) -> None:
        check = failure.checks[0] if failure.checks else type(failure).__name__
        key = (label, check, response.status_code)
        with self.lock:
            if key not in self.report.found:
                self.report.found[key] = Found(
                    operation=label, check=check, status=response.status_code, title=failure.title,
                    detail=_short(f"{failure.message} | response: {response.text}"),
                    curl=_short(case.as_curl_command(headers=auth, base_url=str(self.api.client.base_url)), 1200))


def _hypothesis_settings(max_examples: int) -> hypothesis.settings:
    # Deterministic (derandomize: the same cases every run) and without timing-based failures: the database is
    # shared with the rest of the suite, so a slow response is not a finding here.
    return hypothesis.settings(max_examples=max_examples, derandomize=True, deadline=None, database=None,
                               phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                               print_blob=False)


def _run_operation(operation, send: _Sender, max_examples: int, coverage: bool) -> None:
    def test(case: schemathesis.Case) -> None:
        send(case)

    modes = [HypothesisTestMode.EXAMPLES, HypothesisTestMode.FUZZING]
    if coverage:
        modes.append(HypothesisTestMode.COVERAGE)
    runner = create_test(operation=operation, test_func=test, config=HypothesisTestConfig(
        project=operation.schema.config, modes=modes, settings=_hypothesis_settings(max_examples)))
    runner()


async def fuzz(api: ServiceApi, service: str, *, max_examples: int, coverage: bool = True, checks: tuple = CHECKS,
               include: Callable[[str], bool] = lambda _label: True) -> ServiceReport:
    """Every operation of the app's own OpenAPI (those `include` accepts): the schema's examples, `max_examples`
    generated cases (valid and invalid), and with `coverage` schemathesis' coverage cases (every boundary, missing
    and wrong-typed value of each parameter and body field: hundreds for a large body)."""
    schema = schemathesis.openapi.from_dict(api.app.openapi())
    report = ServiceReport(service)
    send = _Sender(api, asyncio.get_running_loop(), report, checks)
    for result in schema.get_all_operations():
        try:
            operation = result.ok()
        except Exception as exc:  # noqa: BLE001 - an operation schemathesis cannot read is itself a finding
            report.errors.append(f"{service}: {exc}")
            continue
        if not include(operation.label):
            continue
        report.operations += 1
        try:
            await asyncio.to_thread(_run_operation, operation, send, max_examples, coverage)
        except Exception as exc:  # noqa: BLE001 - e.g. a schema schemathesis cannot generate from
            report.errors.append(f"{operation.label}: {type(exc).__name__}: {_short(str(exc))}")
    return report


@asynccontextmanager
async def target_api(target: Target, **settings: Any) -> AsyncIterator[ServiceApi]:
    create_app, settings_cls, metadata = target.parts()
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{target.name}-") as tmp:
        async with target.peers(Path(tmp)) as (app_kwargs, overrides):
            async with service_api(partial(create_app, **app_kwargs), settings_cls, metadata, **overrides,
                                   **settings) as api:
                yield api
