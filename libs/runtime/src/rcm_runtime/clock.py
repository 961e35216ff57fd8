"""Time as a dependency: wherever time decides behaviour (charge lag, deadlines, cache expiry, statement
cycles) code asks an injected clock, so tests set the time instead of sleeping."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    def today(self) -> date:
        """The current date (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def today(self) -> date:
        return self.now().date()


class FixedClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs a timezone-aware datetime")
        self.at = at

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.date()

    def advance(self, delta: timedelta) -> None:
        self.at += delta

    def set(self, at: datetime) -> None:
        self.at = at
