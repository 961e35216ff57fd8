"""poll_forever: busy while there is work, idle otherwise, failures logged and retried, an outage waited out
with backoff and logged once when it starts and once when it ends."""

import asyncio
import errno
import logging

import pytest

from rcm_runtime.outage import Backoff, Outage
from rcm_runtime.polling import poll_forever


class Down(Exception):
    pass


def _records(caplog):
    return [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in caplog.records if r.name == "test.poll"]


async def test_works_while_there_is_work_survives_failures_and_stops_on_cancel(caplog):
    refused = ConnectionRefusedError(errno.ECONNREFUSED, "refused")
    outcomes = iter([3, Down("HTTP 503"), refused, refused, 2, RuntimeError("boom"), 0, 1])
    calls = []

    async def step() -> int:
        calls.append(len(calls))
        outcome = next(outcomes, None)
        if outcome is None:
            raise asyncio.CancelledError
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with caplog.at_level(logging.INFO, logger="test.poll"), pytest.raises(asyncio.CancelledError):
        await poll_forever(step, idle_s=0, log=logging.getLogger("test.poll"), what="step", transient=(Down,),
                           backoff=Backoff(0.001, 0.002))

    assert len(calls) == 9  # every outcome, then the cancellation
    assert _records(caplog) == [
        ("WARNING", "step: a dependency is unavailable; waiting it out", False),  # Down, then two refusals: once
        ("WARNING", "step: dependency back; resumed", False),
        ("ERROR", "step failed; will retry", True),  # a bug, not an outage: with its traceback
    ]
    start = next(r for r in caplog.records if r.name == "test.poll")
    assert start.reason == "HTTP 503"  # the caller's own transient type: its (safe) message


def test_backoff_doubles_to_its_cap_with_jitter_in_the_upper_half_and_resets():
    draws = iter([0.0, 1.0] * 10)
    b = Backoff(0.2, 1.0, rng=lambda: next(draws))
    assert [round(b.next(), 3) for _ in range(6)] == [0.1, 0.4, 0.4, 1.0, 0.5, 1.0]
    b.reset()
    assert round(b.next(), 3) == 0.1
    with pytest.raises(ValueError):
        Backoff(0, 1)


def test_an_outage_is_logged_once_at_its_start_and_once_at_its_end_with_duration_and_attempts(caplog):
    now = iter([100.0, 112.5])
    outage = Outage(logging.getLogger("test.poll"), "relay", clock=lambda: next(now))
    outage.recovered()  # no outage: nothing to say
    with caplog.at_level(logging.INFO, logger="test.poll"):
        for _ in range(4):
            outage.failed(ConnectionResetError())
        assert outage.active
        outage.recovered()
    assert not outage.active
    start, end = [r for r in caplog.records if r.name == "test.poll"]
    assert start.reason == "unhandled ConnectionResetError"
    assert (end.duration_ms, end.count) == (12500, 4)
