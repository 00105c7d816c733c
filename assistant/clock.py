"""Clocks the dialog and date night run on; tests inject a fake one and run an evening in milliseconds."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    """Time as the dialog sees it."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for intervals)."""

    def now(self) -> datetime:
        """Aware local wall-clock time (for journal timestamps)."""


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return datetime.now().astimezone()


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._start = start or datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc)
        self._elapsed = 0.0
        """Seconds advanced so far."""

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self._elapsed += seconds

    def monotonic(self) -> float:
        return self._elapsed

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._elapsed)
