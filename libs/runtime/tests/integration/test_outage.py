"""An outage is waited out, never dead-lettered (issue 13): a handler failing with a transient error (the
database, the broker or an outside party not answering) does not count against its record; the loop retries the
same batch with backoff, logs the outage once, applies each record once (the inbox still de-duplicates) and
commits offsets only afterwards. A permanent failure still dead-letters."""

from __future__ import annotations

import asyncio
import errno
import logging

import pytest
from aiokafka import AIOKafkaProducer, TopicPartition
from sqlalchemy import select

from rcm_contracts.events import PatientBalanceOpened
from rcm_runtime.app import create_service_app
from rcm_runtime.consumer import ConsumerLoop, Delivery
from rcm_runtime.messaging import dead_letters
from rcm_runtime.outage import Backoff
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.unit_of_work import UnitOfWork
from rcm_runtime.kafka_access import KafkaAccess
from tests.support.api import service_api
from tests.support.fixtures import unique_topic

from .support import POISON_AMOUNT, count_effect, create_effects, effect_counts, envelope, table_count, wait_for
from .test_prepared_handler import _records

pytestmark = pytest.mark.integration


class FlakyDependency:
    """The handler of the tests: raises `error` on its first `failures` calls that include the `victim` event
    (an outage met half-way through a batch), or while `down` is set; then applies like count_effect."""

    def __init__(self, error_factory, failures: int = 0, victim: str | None = None) -> None:
        self.error_factory = error_factory
        self.failures = failures
        self.victim = victim
        self.down = asyncio.Event()
        self.calls = 0

    async def __call__(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        self.calls += 1
        for d in deliveries:
            if self.down.is_set() or (self.failures > 0 and d.key == self.victim):
                if not self.down.is_set():
                    self.failures -= 1
                raise self.error_factory()
            await count_effect(uow, [d])


def refused() -> Exception:
    return ConnectionRefusedError(errno.ECONNREFUSED, "Connect call failed")


def _loop(settings, engine, handler, topic="unused", kafka=KafkaAccess("127.0.0.1:1"), **kw) -> ConsumerLoop:
    return ConsumerLoop(engine=engine, kafka=kafka, group_id=f"g-{topic}", topics=[topic],
                        handlers={PatientBalanceOpened.event_type(): handler}, service=settings.service_name,
                        out_topic="unused.out", batch_max=50, retry_backoff_s=0.0,
                        outage_backoff=Backoff(0.01, 0.05), **kw)


def _outage_logs(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "rcm.consumer"]


async def test_a_transient_failure_is_waited_out_applied_once_and_dead_letters_nothing(scratch_schema, caplog):
    settings, engine = scratch_schema
    await create_effects(engine)
    a, b, c = envelope("10.00"), envelope("20.00"), envelope("30.00")
    handler = FlakyDependency(refused, failures=6, victim=b.partitionkey)  # more than max_retries (3)
    loop = _loop(settings, engine, handler)

    with caplog.at_level(logging.INFO, logger="rcm.consumer"):
        assert await loop.apply_batch(_records(a, b, c)) is True

    assert await effect_counts(engine) == {a.partitionkey: 1, b.partitionkey: 1, c.partitionkey: 1}
    assert await table_count(engine, "dead_letters") == 0
    assert await table_count(engine, "inbox") == 3
    assert handler.failures == 0 and handler.calls >= 7  # six refused attempts, none counted against b
    assert not loop.waiting_out_outage
    logs = _outage_logs(caplog)
    assert logs == ["consumer: a dependency is unavailable; waiting it out", "consumer: dependency back; resumed"]
    start, end = [r for r in caplog.records if r.name == "rcm.consumer"]
    assert start.reason == "unhandled ConnectionRefusedError" and end.count == 6

    # Redelivered (offsets were not committed before a crash, say): the inbox still drops every one.
    assert await loop.apply_batch(_records(a, b, c)) is True
    assert await effect_counts(engine) == {a.partitionkey: 1, b.partitionkey: 1, c.partitionkey: 1}
    assert loop.applier.duplicates == 3 and loop.applier.applied == 3


async def test_a_permanent_failure_still_dead_letters_and_an_outage_meanwhile_does_not_apply_twice(scratch_schema):
    """The poison record sends the batch record by record; the outage meets b there, after a was applied alone:
    the batch is retried whole, a is a duplicate, b is applied once, the poison record is dead-lettered once."""
    settings, engine = scratch_schema
    await create_effects(engine)
    a, b, poison = envelope("10.00"), envelope("20.00"), envelope(str(POISON_AMOUNT))
    handler = FlakyDependency(refused, failures=1, victim=b.partitionkey)
    loop = _loop(settings, engine, handler)
    # The batch fails on the poison record (permanent) before it reaches b, so the outage meets b in the
    # record-by-record pass, after a was committed alone and the poison record dead-lettered.
    records = _records(a, poison, b)

    assert await loop.apply_batch(records) is True

    assert await effect_counts(engine) == {a.partitionkey: 1, b.partitionkey: 1}
    async with engine.connect() as conn:
        rows = (await conn.execute(select(dead_letters.c.event_id, dead_letters.c.reason))).all()
    assert [(r.event_id, r.reason) for r in rows] == [(str(poison.id), "statement amount rejected by test rule")]
    assert await table_count(engine, "inbox") == 2


@pytest.mark.parametrize("error_name, error_factory", [
    ("deadlock", lambda: _pg_error("DeadlockDetectedError")),
    ("payer 503", lambda: _http_503()),
])
async def test_other_transient_causes_are_waited_out_too(scratch_schema, error_name, error_factory):
    settings, engine = scratch_schema
    await create_effects(engine)
    a = envelope()
    handler = FlakyDependency(error_factory, failures=5, victim=a.partitionkey)

    assert await _loop(settings, engine, handler).apply_batch(_records(a)) is True

    assert await effect_counts(engine) == {a.partitionkey: 1}
    assert await table_count(engine, "dead_letters") == 0


def _pg_error(name: str) -> Exception:
    import asyncpg.exceptions

    return getattr(asyncpg.exceptions, name)("test")


def _http_503() -> Exception:
    import httpx

    request = httpx.Request("POST", "https://payer.example/270")
    return httpx.HTTPStatusError("503", request=request, response=httpx.Response(503, request=request))


async def test_stopping_during_an_outage_applies_and_dead_letters_nothing(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    handler = FlakyDependency(refused)
    handler.down.set()
    loop = _loop(settings, engine, handler)
    task = asyncio.create_task(loop.apply_batch(_records(envelope(), envelope())))
    await wait_for(lambda: _true(loop.waiting_out_outage), timeout=10)

    loop.stop()

    assert await asyncio.wait_for(task, 5) is False  # the caller commits no offsets
    assert await effect_counts(engine) == {}
    assert await table_count(engine, "dead_letters") == 0 and await table_count(engine, "inbox") == 0


async def _true(value: bool) -> bool:
    return value


async def test_offsets_are_not_committed_while_an_outage_is_waited_out(scratch_schema, kafka):
    settings, engine = scratch_schema
    await create_effects(engine)
    topic = unique_topic("outage")
    envs = [envelope() for _ in range(3)]
    producer = AIOKafkaProducer(**kafka.client_options(), enable_idempotence=True)
    await producer.start()
    try:
        for env in envs:
            await producer.send_and_wait(topic, key=env.partitionkey.encode(), value=env.to_bytes(), partition=0)
    finally:
        await producer.stop()
    handler = FlakyDependency(refused)
    handler.down.set()
    loop = _loop(settings, engine, handler, topic=topic, kafka=kafka)
    task = asyncio.create_task(loop.run())
    try:
        await wait_for(lambda: _true(loop.waiting_out_outage), timeout=30)
        await wait_for(lambda: _true(handler.calls >= 5), timeout=10)  # several attempts, still down
        tp = TopicPartition(topic, 0)
        assert await loop.consumer.committed(tp) is None
        assert await effect_counts(engine) == {} and await table_count(engine, "dead_letters") == 0

        handler.down.clear()  # the dependency is back

        await wait_for(lambda: _committed(loop, tp, 3), timeout=30)
        assert await effect_counts(engine) == {e.partitionkey: 1 for e in envs}
        assert not loop.waiting_out_outage
        assert await table_count(engine, "dead_letters") == 0
    finally:
        loop.stop()
        await asyncio.wait_for(task, 15)


async def _committed(loop, tp, offset) -> bool:
    return await loop.consumer.committed(tp) == offset


def _app(settings, clock=None):
    return create_service_app(settings, title="outage test")


async def test_readyz_is_not_ready_while_the_consumer_waits_out_an_outage_and_healthz_stays_alive(scratch_schema):
    settings, engine = scratch_schema
    await create_effects(engine)
    handler = FlakyDependency(refused)
    handler.down.set()

    class Settings(ServiceSettings):
        service_name: str = "outage-test"
        db_schema: str = "unused"

    async with service_api(_app, Settings, []) as api:
        rt = api.app.state.runtime
        rt.consumer = loop = _loop(settings, engine, handler)
        loop.ready = True
        task = asyncio.create_task(loop.apply_batch(_records(envelope())))
        try:
            await wait_for(lambda: _true(loop.waiting_out_outage), timeout=10)
            ready = await api.client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["consumer"] == "waiting out an outage"
            assert ready.json()["checks"]["database"] == "ok"
            assert (await api.client.get("/healthz")).status_code == 200

            handler.down.clear()
            assert await asyncio.wait_for(task, 10) is True
            assert (await api.client.get("/readyz")).json()["checks"]["consumer"] == "ok"
        finally:
            loop.stop()
            if not task.done():
                await task


class FlakyBroker:
    """The relay's producer, refusing sends (as aiokafka does with no broker) while `down` is set."""

    def __init__(self, producer) -> None:
        self.producer = producer
        self.down = True
        self.refused = 0

    async def send(self, *args, **kwargs):
        if self.down:
            from aiokafka.errors import KafkaConnectionError

            self.refused += 1
            raise KafkaConnectionError("Unable to bootstrap from [('127.0.0.1', 19092)]")
        return await self.producer.send(*args, **kwargs)


async def test_the_relay_waits_out_a_broker_outage_and_publishes_each_row_once(scratch_schema, kafka, caplog):
    from sqlalchemy import insert

    from rcm_runtime.messaging import outbox
    from rcm_runtime.outbox import OutboxRelay, make_producer, outbox_row

    from .test_outbox_relay import _read_all

    settings, engine = scratch_schema
    topic = unique_topic("relay-outage")
    envs = [envelope() for _ in range(4)]
    async with engine.begin() as conn:
        await conn.execute(insert(outbox), [outbox_row(e, topic) for e in envs])
    producer = make_producer(kafka, "test-relay-outage")
    await producer.start()
    broker = FlakyBroker(producer)
    relay = OutboxRelay(engine, broker, settings.db_schema, idle_poll_s=0.05, backoff=Backoff(0.01, 0.05))
    with caplog.at_level(logging.INFO, logger="rcm.outbox"):
        task = asyncio.create_task(relay.run())
        try:
            await wait_for(lambda: _true(broker.refused >= 5), timeout=10)
            assert relay.outage.active and await table_count(engine, "outbox") == 4  # the rows wait
            broker.down = False
            await wait_for(lambda: _zero_rows(engine), timeout=20)
        finally:
            relay.stop()
            await asyncio.wait_for(task, 10)
            await producer.stop()
    got = await _read_all(kafka, topic, expect=4)
    assert sorted(r.key.decode() for r in got) == sorted(e.partitionkey for e in envs)  # each once
    messages = [r.getMessage() for r in caplog.records if r.name == "rcm.outbox"]
    assert messages.count("outbox relay: a dependency is unavailable; waiting it out") == 1
    assert messages.count("outbox relay: dependency back; resumed") == 1
    assert messages.count("outbox relay leading") == 1  # not once per attempt
    assert not any(r.exc_info for r in caplog.records if r.name == "rcm.outbox")  # an outage is not a bug


async def _zero_rows(engine) -> bool:
    return await table_count(engine, "outbox") == 0


async def test_a_service_gives_up_when_kafka_stays_down_longer_than_the_startup_wait(scratch_schema):
    from aiokafka.errors import KafkaConnectionError

    settings, _ = scratch_schema
    with socketserver_port() as closed_port:
        settings = settings.model_copy(update={"kafka_bootstrap": f"127.0.0.1:{closed_port}", "startup_wait_s": 1.5,
                                               "kafka_security_protocol": "PLAINTEXT",
                                               "outage_backoff_initial_s": 0.1, "outage_backoff_max_s": 0.2})
        app = create_service_app(settings, title="startup test")
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(KafkaConnectionError):
            async with app.router.lifespan_context(app):
                pass
    assert 1.5 <= asyncio.get_running_loop().time() - t0 < 10  # waited for it, then said so


class socketserver_port:
    """A local port nothing listens on (connections are refused)."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def __exit__(self, *exc) -> None:
        return None


def _app_with_failing_routes(settings, clock=None):
    import asyncpg.exceptions
    from fastapi import APIRouter

    router = APIRouter()
    failures = {"reset": lambda: ConnectionResetError(errno.ECONNRESET, "reset"),
                "deadlock": lambda: asyncpg.exceptions.DeadlockDetectedError("deadlock detected"),
                "bug": lambda: KeyError("x")}

    @router.get("/fail/{kind}")
    async def fail(kind: str):
        raise failures[kind]()

    return create_service_app(settings, title="outage test", routers=[router])


async def test_a_request_meeting_an_outage_gets_503_and_a_bug_still_500():
    class Settings(ServiceSettings):
        service_name: str = "outage-test"
        db_schema: str = "unused"

    async with service_api(_app_with_failing_routes, Settings, []) as api:
        for kind in ("reset", "deadlock"):
            resp = await api.client.get(f"/fail/{kind}")
            assert (resp.status_code, resp.json()["code"], resp.headers.get("retry-after")) == (503, "unavailable", "5")
        resp = await api.client.get("/fail/bug")
        assert (resp.status_code, resp.json()["code"]) == (500, "internal_error")
