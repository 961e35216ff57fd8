"""A service started while PostgreSQL or Kafka is down waits for them (bounded), instead of crashing; a
permanent failure is raised at once."""

import asyncio
import errno
import logging

import pytest
from aiokafka.errors import KafkaConnectionError

from rcm_runtime.errors import DomainError
from rcm_runtime.outage import Backoff, when_up
from rcm_runtime.serve import migrate_when_ready


class Attempts:
    def __init__(self, *outcomes) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self, *_):
        self.calls += 1
        outcome = self.outcomes.pop(0) if self.outcomes else "done"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def a(self):
        return self()


def refused():
    return ConnectionRefusedError(errno.ECONNREFUSED, "refused")


def test_migrations_wait_for_the_database_and_then_run(caplog):
    run = Attempts(refused(), refused(), None)
    with caplog.at_level(logging.INFO, logger="rcm.startup"):
        migrate_when_ready("alembic.ini", wait_s=30, run=run)
    assert run.calls == 3
    assert [r.getMessage() for r in caplog.records if r.name == "rcm.startup"] == [
        "startup: migrations: a dependency is unavailable; waiting it out", "startup: migrations: dependency back; resumed"]


def test_a_broken_migration_is_raised_at_once():
    run = Attempts(KeyError("revision"))
    with pytest.raises(KeyError):
        migrate_when_ready("alembic.ini", wait_s=30, run=run)
    assert run.calls == 1


def test_migrations_give_up_after_the_wait():
    run = Attempts(*[refused() for _ in range(100)])
    with pytest.raises(ConnectionRefusedError):
        migrate_when_ready("alembic.ini", wait_s=0.3, run=run)
    assert 1 < run.calls < 10


async def test_when_up_waits_out_kafka_not_up_yet_and_returns_the_result():
    start = Attempts(KafkaConnectionError("Unable to bootstrap"), KafkaConnectionError("x"), "producer")
    assert await when_up(start.a, what="kafka", wait_s=10, log=logging.getLogger("t"),
                         backoff=Backoff(0.01, 0.02)) == "producer"
    assert start.calls == 3


async def test_when_up_raises_a_permanent_failure_at_once_and_an_outage_after_the_wait(caplog):
    permanent = Attempts(DomainError("bad config"))
    with pytest.raises(DomainError):
        await when_up(permanent.a, what="db", wait_s=10, log=logging.getLogger("t"))
    assert permanent.calls == 1

    down = Attempts(*[refused() for _ in range(1000)])
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with caplog.at_level(logging.INFO, logger="t"), pytest.raises(ConnectionRefusedError):
        await when_up(down.a, what="db", wait_s=0.3, log=logging.getLogger("t"), backoff=Backoff(0.01, 0.05))
    assert 0.3 <= loop.time() - t0 < 1.0
    assert [r.getMessage() for r in caplog.records if r.name == "t"] == [
        "db: a dependency is unavailable; waiting it out", "db: still unavailable after 0.3 s; giving up"]
