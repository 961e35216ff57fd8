"""Waiting out an outage (PostgreSQL, Kafka or an outside party not answering): exponential backoff with
jitter, and one log line when the outage starts and one when it ends, never one per attempt (a 10-minute outage
would otherwise write thousands). The consumer loop, the outbox relay and the background loops share these."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from typing import Awaitable, Callable, TypeVar

from rcm_runtime.failures import is_transient, safe_reason

T = TypeVar("T")


class Backoff:
    """Delays doubling from `initial_s` up to `max_s`, each drawn from the upper half of its step ("equal
    jitter"), so replicas that failed together do not retry together, and no retry comes sooner than half the
    step."""

    def __init__(self, initial_s: float = 0.2, max_s: float = 30.0, *, rng: Callable[[], float] = random.random) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self.initial_s = initial_s
        self.max_s = max_s
        self.rng = rng
        self.attempt = 0

    @classmethod
    def from_settings(cls, settings) -> "Backoff":
        return cls(settings.outage_backoff_initial_s, settings.outage_backoff_max_s)

    def next(self) -> float:
        step = min(self.max_s, self.initial_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return step / 2 + self.rng() * step / 2

    def reset(self) -> None:
        self.attempt = 0


class Outage:
    """The state of one loop's current outage, if any: `failed(exc)` on each failed attempt (logs the first),
    `recovered()` after a success (logs the end, if there was an outage)."""

    def __init__(self, log: logging.Logger, what: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.what = what
        self.clock = clock
        self.since: float | None = None
        self.attempts = 0

    @property
    def active(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException, *, reason: str | None = None) -> None:
        """`reason` (safe to log) replaces the default one, the exception's safe_reason."""
        self.attempts += 1
        if self.since is None:
            self.since = self.clock()
            self.log.warning(f"{self.what}: a dependency is unavailable; waiting it out",
                             extra={"reason": reason or safe_reason(exc), "status": "outage"})

    def recovered(self) -> None:
        if self.since is None:
            return
        self.log.warning(f"{self.what}: dependency back; resumed", extra={
            "duration_ms": round((self.clock() - self.since) * 1000), "count": self.attempts, "status": "recovered"})
        self.since = None
        self.attempts = 0


async def when_up(attempt: Callable[[], Awaitable[T]], *, what: str, wait_s: float, log: logging.Logger,
                  backoff: Backoff | None = None) -> T:
    """`await attempt()` until it succeeds, waiting out an outage (PostgreSQL or Kafka not up yet) for at most
    `wait_s` seconds, logged once at its start and once at its end. A permanent failure, or an outage longer
    than `wait_s`, is raised: a service that cannot start says so rather than waiting forever."""
    backoff = backoff or Backoff()
    outage = Outage(log, what)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            result = await attempt()
        except Exception as exc:
            left = deadline - time.monotonic()
            if not is_transient(exc) or left <= 0:
                if outage.active:
                    log.error(f"{what}: still unavailable after {wait_s:g} s; giving up",
                              extra={"reason": safe_reason(exc), "count": outage.attempts + 1})
                raise
            outage.failed(exc)
            await asyncio.sleep(min(backoff.next(), left))
            continue
        outage.recovered()
        return result
