"""poll_forever: busy while there is work, idle otherwise, failures logged and retried."""

import asyncio
import logging

import pytest

from rcm_runtime.polling import poll_forever


class Down(Exception):
    pass


async def test_works_while_there_is_work_survives_failures_and_stops_on_cancel(caplog):
    outcomes = iter([3, 2, Down("HTTP 503"), RuntimeError("boom"), 0, 1])
    calls = []

    async def step() -> int:
        calls.append(len(calls))
        outcome = next(outcomes, None)
        if outcome is None:
            raise asyncio.CancelledError
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with caplog.at_level(logging.WARNING, logger="test.poll"), pytest.raises(asyncio.CancelledError):
        await poll_forever(step, idle_s=0, log=logging.getLogger("test.poll"), what="step", transient=(Down,))

    assert len(calls) == 7  # every outcome, then the cancellation
    warnings = [(r.levelname, r.getMessage(), bool(r.exc_info)) for r in caplog.records]
    assert warnings == [("WARNING", "step: will retry", False), ("ERROR", "step failed; will retry", True)]
