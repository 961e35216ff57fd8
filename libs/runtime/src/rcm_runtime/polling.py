"""The background loop every polling task shares: busy while its step finds work, idle otherwise. A failed step
is retried, never fatal: an outage (rcm_runtime.failures.is_transient, or one of the caller's `transient` types)
is waited out with exponential backoff and jitter and logged once when it starts and once when it ends; any
other failure is logged with its traceback (exception type and place only: no message, it may hold PHI)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rcm_runtime.failures import is_transient
from rcm_runtime.outage import Backoff, Outage


async def poll_forever(step: Callable[[], Awaitable[int]], *, idle_s: float, log: logging.Logger, what: str,
                       failure_wait_s: float = 0.0,
                       transient: tuple[type[Exception], ...] = (),
                       backoff: Backoff | None = None) -> None:
    """`step()` returns how much work it did; 0 sleeps `idle_s`. A failure waits `failure_wait_s` more, an outage
    the next `backoff` delay (default: 0.2 s doubling to 30 s). Exceptions in `transient` (an outside system
    down) are outages too; their messages are written to be safe and are logged."""
    backoff = backoff or Backoff()
    outage = Outage(log, what)
    while True:
        try:
            n = await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            n = 0
            if isinstance(exc, transient):
                outage.failed(exc, reason=str(exc)[:200])
                await asyncio.sleep(backoff.next())
            elif is_transient(exc):
                outage.failed(exc)
                await asyncio.sleep(backoff.next())
            else:
                log.exception(f"{what} failed; will retry")
                await asyncio.sleep(failure_wait_s)
        else:
            backoff.reset()
            outage.recovered()
        if n == 0:
            await asyncio.sleep(idle_s)
