"""PostgreSQL stopped for ten seconds while the consumer applies a batch (longer than the retry budget that
dead-lettered two claims in issue 13), then started again: the batch is applied once, nothing is dead-lettered.

The PostgreSQL here is a PRIVATE one this test initialises, starts and stops itself (initdb + pg_ctl in a
temporary directory, on a free port): never the shared one of the local stack, which others use."""

from __future__ import annotations

import asyncio
import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text

from rcm_contracts.events import PatientBalanceOpened
from rcm_runtime.consumer import ConsumerLoop, Delivery
from rcm_runtime.db import make_engine
from rcm_runtime.messaging import metadata as messaging_metadata
from rcm_runtime.outage import Backoff
from rcm_runtime.settings import ServiceSettings
from rcm_runtime.unit_of_work import UnitOfWork
from rcm_runtime.kafka_access import KafkaAccess

from .support import count_effect, create_effects, effect_counts, envelope, table_count, wait_for
from .test_prepared_handler import _records

pytestmark = pytest.mark.integration

OUTAGE_S = 10.0


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")) or ([shutil.which("pg_ctl")] if shutil.which("pg_ctl") else [])
    return Path(found[-1]).parent if found else None


def _free_port(preferred: int = 55999) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError("no free port")


class PrivatePostgres:
    def __init__(self, bindir: Path, root: Path, port: int) -> None:
        self.bindir, self.root, self.port = bindir, root, port
        self.data = root / "data"
        # initdb and postgres refuse to run as root: run them as the postgres user then.
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self.prefix, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        if self.prefix:
            shutil.chown(self.root, "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    def start(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"


@pytest.fixture
def private_postgres():
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries (initdb, pg_ctl) on this machine")
    root = Path(tempfile.mkdtemp(prefix="rcm-pg-outage-"))
    os.chmod(root, 0o755)
    pg = PrivatePostgres(bindir, root, _free_port())
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        try:
            pg.stop()
        except Exception:  # noqa: BLE001 - already stopped
            pass
        shutil.rmtree(root, ignore_errors=True)


class BlocksOnce:
    """Applies like count_effect, but its first call waits (inside the batch's transaction) until let go."""

    def __init__(self) -> None:
        self.inside = asyncio.Event()
        self.go_on = asyncio.Event()
        self.calls = 0

    async def __call__(self, uow: UnitOfWork, deliveries: list[Delivery]) -> None:
        self.calls += 1
        if self.calls == 1:
            self.inside.set()
            await self.go_on.wait()
        await count_effect(uow, deliveries)


async def _messaging_schema(pg):
    """A fresh schema with the runtime's messaging tables in the private PostgreSQL: (schema, settings, engine)."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    settings = ServiceSettings(service_name="outage-test", db_schema=schema, database_url=pg.url)
    engine = make_engine(settings, pool_size=2)
    async with engine.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    async with engine.begin() as conn:
        await conn.run_sync(messaging_metadata.create_all)
    return schema, settings, engine


async def test_postgres_down_for_ten_seconds_mid_batch_is_waited_out(private_postgres, caplog):
    pg = private_postgres
    schema, settings, engine = await _messaging_schema(pg)
    await create_effects(engine)
    envs = [envelope() for _ in range(20)]
    handler = BlocksOnce()
    loop = ConsumerLoop(engine=engine, kafka=KafkaAccess("127.0.0.1:1"), group_id="unused", topics=["unused"],
                        handlers={PatientBalanceOpened.event_type(): handler}, service=settings.service_name,
                        out_topic="unused.out", retry_backoff_s=0.05, outage_backoff=Backoff(0.2, 2.0))
    try:
        with caplog.at_level(logging.INFO, logger="rcm.consumer"):
            task = asyncio.create_task(loop.apply_batch(_records(*envs)))
            await asyncio.wait_for(handler.inside.wait(), 30)  # the batch's transaction is open

            await asyncio.to_thread(pg.stop)  # its connection is cut
            down_at = time.monotonic()
            handler.go_on.set()
            await wait_for(lambda: _true(loop.waiting_out_outage), timeout=10)
            await asyncio.sleep(OUTAGE_S - (time.monotonic() - down_at))
            assert not task.done() and loop.waiting_out_outage
            await asyncio.to_thread(pg.start)

            assert await asyncio.wait_for(task, 30) is True
        assert await effect_counts(engine) == {e.partitionkey: 1 for e in envs}
        assert await table_count(engine, "dead_letters") == 0
        assert await table_count(engine, "inbox") == 20
        assert loop.applier.dead_lettered == 0 and loop.applier.applied == 20
        messages = [r.getMessage() for r in caplog.records if r.name == "rcm.consumer"]
        assert messages == ["consumer: a dependency is unavailable; waiting it out", "consumer: dependency back; resumed"]
        attempts = [r for r in caplog.records if r.name == "rcm.consumer"][-1].count
        assert 3 < attempts < 30  # backed off: several attempts in ten seconds, not hundreds
    finally:
        loop.stop()
        await engine.dispose()


async def _true(value: bool) -> bool:
    return value


async def test_the_relay_waits_out_postgres_down_and_publishes_each_row_once(private_postgres, kafka, caplog):
    from sqlalchemy import insert

    from rcm_runtime.messaging import outbox
    from rcm_runtime.outbox import OutboxRelay, make_producer, outbox_row
    from tests.support.fixtures import unique_topic

    from .test_outbox_relay import _read_all

    pg = private_postgres
    schema, settings, engine = await _messaging_schema(pg)
    topic = unique_topic("relay-pg-outage")
    before, after = [envelope() for _ in range(3)], [envelope() for _ in range(3)]
    producer = make_producer(kafka, "test-relay-pg-outage")
    await producer.start()
    relay = OutboxRelay(engine, producer, schema, idle_poll_s=0.05, backoff=Backoff(0.2, 1.0))
    task = asyncio.create_task(relay.run())
    try:
        with caplog.at_level(logging.INFO, logger="rcm.outbox"):
            async with engine.begin() as conn:
                await conn.execute(insert(outbox), [outbox_row(e, topic) for e in before])
            await wait_for(lambda: _true(relay.published == 3), timeout=20)

            await asyncio.to_thread(pg.stop)
            await wait_for(lambda: _true(relay.outage.active), timeout=10)
            await asyncio.sleep(5)
            await asyncio.to_thread(pg.start)
            async with engine.begin() as conn:
                await conn.execute(insert(outbox), [outbox_row(e, topic) for e in after])
            await wait_for(lambda: _true(relay.published == 6), timeout=20)
            assert not relay.outage.active
    finally:
        relay.stop()
        await asyncio.wait_for(task, 10)
        await producer.stop()
        await engine.dispose()
    got = await _read_all(kafka, topic, expect=6)
    assert sorted(r.key.decode() for r in got) == sorted(e.partitionkey for e in before + after)
    messages = [r.getMessage() for r in caplog.records if r.name == "rcm.outbox"]
    assert messages.count("outbox relay: a dependency is unavailable; waiting it out") == 1
    assert messages.count("outbox relay: dependency back; resumed") == 1
    assert not any(r.exc_info for r in caplog.records if r.name == "rcm.outbox")


async def test_a_service_started_while_postgres_is_down_waits_for_it(private_postgres):
    from rcm_runtime.app import create_service_app

    pg = private_postgres
    await asyncio.to_thread(pg.stop)
    settings = ServiceSettings(service_name="startup-test", db_schema="public", database_url=pg.url,
                               relay_enabled=False, consumer_enabled=False, startup_wait_s=60,
                               outage_backoff_initial_s=0.1, outage_backoff_max_s=0.5)
    app = create_service_app(settings, title="startup test")
    started = asyncio.Event()

    async def serve():
        async with app.router.lifespan_context(app):
            started.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(serve())
    try:
        await asyncio.sleep(3)
        assert not task.done() and not started.is_set()  # waiting, not crashed
        await asyncio.to_thread(pg.start)
        await asyncio.wait_for(started.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
