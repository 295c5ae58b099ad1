"""The `[planning]` table: the working-day calendar (weekends and holidays, per project where
set) and the Monte Carlo defaults. Plain pydantic: the CLI loads it at start-up, so nothing
here imports numpy, networkx or matplotlib."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pmo_ledger.ledger.planning.calendar import WEEKDAYS, WorkCalendar

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Distribution = Literal["pert", "triangular"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _some_working_day(value: list[Weekday] | None) -> list[Weekday] | None:
    if value is not None and len(set(value)) >= len(WEEKDAYS):
        raise ValueError("a week needs at least one working day")
    return value


class ProjectCalendar(_Strict):
    """`[planning.projects.<project code>]`: what this project's calendar changes. A key that is
    set replaces the global one (a project in another country has other holidays)."""

    weekend: list[Weekday] | None = None
    holidays: list[date] | None = None

    _weekend = field_validator("weekend")(_some_working_day)


def _weekend() -> list[Weekday]:
    return ["saturday", "sunday"]


class PlanningSettings(_Strict):
    """`[planning]`: calendar, distribution and history defaults of `plan` and `chart`."""

    #: Days nobody works, every week.
    weekend: list[Weekday] = Field(default_factory=_weekend)
    #: Days nobody works, once (public holidays, company shutdown).
    holidays: list[date] = Field(default_factory=list)
    #: Per project code: its own weekend and holidays.
    projects: dict[str, ProjectCalendar] = Field(default_factory=dict)
    #: The source whose copy of a project's tasks is scheduled (default: the `[ledger.authority]`
    #: projects source when it has tasks, else the only source with tasks).
    source: str | None = None
    #: Monte Carlo: how a task's duration is drawn from its three-point estimate.
    distribution: Distribution = "pert"
    #: Monte Carlo: scale durations by the ledger's history of actual / planned durations.
    history: bool = False
    #: Finished tasks a level (project, program, portfolio) needs for its history to be used.
    history_min_tasks: int = Field(default=5, ge=1, le=100_000)

    _weekend = field_validator("weekend")(_some_working_day)

    def calendar_for(self, project_code: str | None) -> WorkCalendar:
        """The working-day calendar of a project: its own keys where set, else the global."""
        own = self.projects.get(project_code or "")
        weekend = own.weekend if own is not None and own.weekend is not None else self.weekend
        holidays = own.holidays if own is not None and own.holidays is not None else self.holidays
        return WorkCalendar(frozenset(WEEKDAYS.index(d) for d in weekend), frozenset(holidays))
