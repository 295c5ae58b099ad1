"""The clock of a fake source (the sandboxes' orgs and accounts): its own time, not the wall
clock. It starts at a fixed instant and every write advances it by one second (`tick`), so
the stamps a fake writes are unique and ordered and a test can predict them; `advance` and
`set_now` move it on, never back.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_TICK = timedelta(seconds=1)


class TickingClock:
    """A source's clock (UTC, whole seconds at the start). Thread-safe; a subclass that holds
    its own lock around a write calls `_tick` inside it."""

    def __init__(self, start: datetime, *, name: str = "clock") -> None:
        if start.tzinfo is None:
            raise ValueError(f"the {name} starts at a timezone-aware instant")
        self._clock_name = name
        self._now = start.astimezone(UTC).replace(microsecond=0)
        self._clock_lock = threading.RLock()

    def now(self) -> datetime:
        """The clock (UTC)."""
        with self._clock_lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock on by `delta` (>= 0); returns the new time."""
        if delta < timedelta(0):
            raise ValueError(f"the {self._clock_name} does not go back")
        with self._clock_lock:
            self._now += delta
            return self._now

    def set_now(self, when: datetime) -> None:
        """Set the clock to `when` (aware, not earlier than now)."""
        if when.tzinfo is None:
            raise ValueError("a timezone-aware datetime is needed")
        with self._clock_lock:
            when = when.astimezone(UTC)
            if when < self._now:
                raise ValueError(f"the {self._clock_name} is at {self._now}, it does not go back")
            self._now = when

    def _tick(self) -> datetime:
        """One second on: the stamp of a write."""
        with self._clock_lock:
            self._now += _TICK
            return self._now
