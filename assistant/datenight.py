"""Date night as a small state machine: idle -> running <-> paused -> idle. Time comes from outside."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Phase(str, enum.Enum):
    """Where date night is."""

    IDLE = "idle"
    RUNNING = "running"
    PAUSED = "paused"


@dataclass(frozen=True)
class Summary:
    """What a finished date night amounted to."""

    minutes: int
    """Whole minutes spent with date night running (pauses excluded)."""
    prompts: int
    """Prompts spoken."""


class DateNight:
    """Decides when the next prompt is due. All times are seconds on one monotonic clock."""

    def __init__(self, interval: float) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        """Seconds between prompts."""
        self.phase = Phase.IDLE
        self.prompts = 0
        """Prompts given so far."""
        self._active = 0.0
        self._since = 0.0
        self._next_due = 0.0
        self._remaining_at_pause = 0.0
        self._ends_at_active: float | None = None

    def start(self, now: float, duration: float | None = None) -> None:
        """Begin; the first prompt comes after one interval. `duration` (seconds) ends it automatically."""
        self.phase = Phase.RUNNING
        self.prompts = 0
        self._active = 0.0
        self._since = now
        self._next_due = now + self.interval
        self._ends_at_active = duration

    def active_seconds(self, now: float) -> float:
        """Seconds spent running so far."""
        return self._active + (now - self._since if self.phase is Phase.RUNNING else 0.0)

    def pause(self, now: float) -> None:
        """Hold prompts; the time left until the next one is kept (no-op unless running)."""
        if self.phase is not Phase.RUNNING:
            return
        self._active += now - self._since
        self._remaining_at_pause = max(0.0, self._next_due - now)
        self.phase = Phase.PAUSED

    def resume(self, now: float) -> None:
        """Carry on after a pause (no-op unless paused)."""
        if self.phase is not Phase.PAUSED:
            return
        self.phase = Phase.RUNNING
        self._since = now
        self._next_due = now + self._remaining_at_pause

    def stop(self, now: float) -> Summary:
        """End date night and sum it up."""
        active = self.active_seconds(now)
        if self._ends_at_active is not None:
            active = min(active, self._ends_at_active)
        self.phase = Phase.IDLE
        return Summary(minutes=round(active / 60), prompts=self.prompts)

    def finished(self, now: float) -> bool:
        """True when a set duration has run out."""
        return (
            self.phase is Phase.RUNNING
            and self._ends_at_active is not None
            and self.active_seconds(now) >= self._ends_at_active
        )

    def due(self, now: float) -> bool:
        """True when a prompt should be spoken now."""
        return self.phase is Phase.RUNNING and now >= self._next_due

    def prompted(self, now: float) -> None:
        """Record a prompt spoken at `now` (due or asked for with "next"); the next one is an interval later."""
        self.prompts += 1
        self._next_due = now + self.interval

    def seconds_until_event(self, now: float) -> float | None:
        """Seconds until the next prompt or the end, whichever is first; None when nothing is scheduled."""
        if self.phase is not Phase.RUNNING:
            return None
        wait = self._next_due - now
        if self._ends_at_active is not None:
            wait = min(wait, self._ends_at_active - self.active_seconds(now))
        return max(0.0, wait)
