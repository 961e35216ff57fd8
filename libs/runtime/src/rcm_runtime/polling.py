"""The background loop every polling task shares: busy while its step finds work, idle otherwise, and
a failed step is logged (exception type only, no message: it may hold PHI) and retried, never fatal."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable


async def poll_forever(step: Callable[[], Awaitable[int]], *, idle_s: float, log: logging.Logger, what: str,
                       failure_wait_s: float = 0.0,
                       transient: tuple[type[Exception], ...] = ()) -> None:
    """`step()` returns how much work it did; 0 sleeps `idle_s`. A failure waits `failure_wait_s` more.
    Exceptions in `transient` (an outside system down) are warnings without a traceback."""
    while True:
        try:
            n = await step()
        except asyncio.CancelledError:
            raise
        except transient as exc:
            log.warning(f"{what}: will retry", extra={"reason": str(exc)})
            n = 0
            await asyncio.sleep(failure_wait_s)
        except Exception:
            log.exception(f"{what} failed; will retry")
            n = 0
            await asyncio.sleep(failure_wait_s)
        if n == 0:
            await asyncio.sleep(idle_s)
