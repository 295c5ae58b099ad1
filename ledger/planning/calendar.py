"""Working days: a calendar (weekend weekdays and holidays) and a timeline that numbers its
working days from an origin, so that a schedule is computed in working days and shown in dates.

Day n of a timeline is its n-th working day (day 0 is the origin, moved to a working day). A
position on the timeline is counted in hundredths of a working day (`UNIT` per day): offset
250 is the middle of day 2. A piece of work that starts at offset s and lasts d ends at s + d;
it occupies the working days s // UNIT to ceil((s + d) / UNIT) - 1.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import date, timedelta

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
#: Hundredths of a working day: durations and lags (2-place decimals of days) are whole units.
UNIT = 100
#: A schedule longer than this many working days is refused (a data error, not a plan).
MAX_DAYS = 100_000
_DAY = timedelta(days=1)


class CalendarError(ValueError):
    """A date or a duration the calendar cannot place (beyond MAX_DAYS working days)."""


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """Weekend weekdays (0 = Monday) and holidays."""

    weekend: frozenset[int] = frozenset({5, 6})
    holidays: frozenset[date] = frozenset()

    def is_working(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_working(self, day: date) -> date:
        """`day` itself when it is a working day, else the first working day after it."""
        for _ in range(MAX_DAYS):
            if self.is_working(day):
                return day
            day += _DAY
        raise CalendarError(f"no working day within {MAX_DAYS} days of {day}")

    def working_days(self, start: date, finish: date) -> int:
        """Working days in [start, finish] (0 when finish < start)."""
        if finish < start:
            return 0
        return Timeline(self, start).index(finish + _DAY) - Timeline(self, start).index(start)


@dataclass
class Timeline:
    """The working days of a calendar numbered from `origin` (moved to a working day)."""

    calendar: WorkCalendar
    origin: date
    _days: list[date] = field(default_factory=list, repr=False)
    _ordinals: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.origin = self.calendar.next_working(self.origin)
        self._days = [self.origin]
        self._ordinals = [self.origin.toordinal()]

    def _extend_to(self, n: int) -> None:
        """Know working day n (and every one before it)."""
        if n >= MAX_DAYS:
            raise CalendarError(f"a schedule beyond {MAX_DAYS} working days from {self.origin}")
        day = self._days[-1]
        while len(self._days) <= n:
            day = self.calendar.next_working(day + _DAY)
            self._days.append(day)
            self._ordinals.append(day.toordinal())

    def day(self, n: int) -> date:
        """The date of working day n (n may be negative: before the origin)."""
        if n < 0:
            day, left = self.origin, -n
            while left:
                day -= _DAY
                left -= self.calendar.is_working(day)
            return day
        self._extend_to(n)
        return self._days[n]

    def index(self, day: date) -> int:
        """The number of the first working day on or after `day` (negative before the origin)."""
        if day < self.origin:
            n, cursor = 0, self.origin
            while cursor > day:
                cursor -= _DAY
                n -= self.calendar.is_working(cursor)
            return n
        ordinal = day.toordinal()
        while self._ordinals[-1] < ordinal:
            self._extend_to(len(self._days) + max(64, len(self._days) // 2))
        return bisect_left(self._ordinals, ordinal)

    def start_offset(self, day: date) -> int:
        """Offset (hundredths) of the start of `day`'s work (the next working day's)."""
        return self.index(day) * UNIT

    def end_offset(self, day: date) -> int:
        """Offset (hundredths) of the end of `day`'s work: work through `day` ends here."""
        return self.index(day + _DAY) * UNIT

    def start_date(self, offset: int) -> date:
        """The working day holding a start at `offset`."""
        return self.day(offset // UNIT)

    def finish_date(self, offset: int) -> date:
        """The working day holding a finish at `offset` (work ending at the start of day n
        finished on day n - 1)."""
        return self.day(-(-offset // UNIT) - 1)
