"""The ledger's own history as a scale on durations: for finished tasks, actual working days /
planned working days. A project's own finished tasks are used when there are enough of them
(`[planning] history_min_tasks`), else its program's, else its portfolio's, else none: a team
that always ran 20% late is forecast 20% late."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from pmo_ledger.ledger.planning.calendar import WorkCalendar


@dataclass(frozen=True, slots=True)
class FinishedTask:
    """A finished leaf task's planned and actual dates."""

    planned_start: date
    planned_finish: date
    actual_start: date
    actual_finish: date


@dataclass(frozen=True, slots=True)
class HistoryLevel:
    """The finished tasks of one level: (`project` | `program` | `portfolio`, its code)."""

    level: str
    code: str
    finished: Sequence[FinishedTask]


@dataclass(frozen=True, slots=True)
class HistoryScale:
    """The ratios used, and where they come from."""

    level: str
    code: str
    ratios: tuple[float, ...]

    @property
    def mean(self) -> float:
        return sum(self.ratios) / len(self.ratios)


def ratios(finished: Sequence[FinishedTask], calendar: WorkCalendar) -> list[float]:
    """actual / planned working days of each finished task with both durations above 0."""
    out = []
    for t in finished:
        planned = calendar.working_days(t.planned_start, t.planned_finish)
        actual = calendar.working_days(t.actual_start, t.actual_finish)
        if planned > 0 and actual > 0:
            out.append(actual / planned)
    return out


def history_scale(
    levels: Sequence[HistoryLevel], calendar: WorkCalendar, min_tasks: int
) -> HistoryScale | None:
    """The first level (in the order given: project, program, portfolio) with at least
    `min_tasks` usable finished tasks, or None."""
    for level in levels:
        found = ratios(level.finished, calendar)
        if len(found) >= min_tasks:
            return HistoryScale(level.level, level.code, tuple(found))
    return None
