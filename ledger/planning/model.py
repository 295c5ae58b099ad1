"""The plain data planning works on: tasks and links as the ledger holds them (`PlanTask`,
`PlanLink`), and the errors a plan can meet. No database, no numpy: the CLI, the queries and
the tests build these from whatever they read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

LinkType = Literal["FS", "SS", "FF", "SF"]
LINK_TYPES: tuple[LinkType, ...] = ("FS", "SS", "FF", "SF")


@dataclass(frozen=True, slots=True)
class PlanTask:
    """A WBS element or schedule task. Estimates and durations are in working days."""

    key: str
    name: str
    project: str = ""
    parent: str | None = None
    wbs: str | None = None
    planned_start: date | None = None
    planned_finish: date | None = None
    actual_start: date | None = None
    actual_finish: date | None = None
    #: Percent complete (0-100) at the status date.
    percent: Decimal | None = None
    optimistic: Decimal | None = None
    most_likely: Decimal | None = None
    pessimistic: Decimal | None = None

    @property
    def label(self) -> str:
        """How errors and reports name the task: `key (name)`."""
        return f"{self.key} ({self.name})" if self.name and self.name != self.key else self.key


@dataclass(frozen=True, slots=True)
class PlanLink:
    """A precedence link: FS, SS, FF or SF, with a lag in working days (negative: a lead)."""

    predecessor: str
    successor: str
    type: LinkType = "FS"
    lag: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class OutsideLink:
    """A link to or from a task that is not loaded (another project's), reported, not used."""

    link: PlanLink
    missing: str  # the key that is not among the loaded tasks
    project: str | None  # its project, when the ledger knows it


class PlanningError(ValueError):
    """The tasks cannot be scheduled as given (the message says which and why)."""


class CycleError(PlanningError):
    """The links form one or more cycles; `cycles` lists each as the task keys in order."""

    def __init__(self, cycles: list[list[str]], labels: dict[str, str]) -> None:
        self.cycles = cycles
        shown = "; ".join(
            " -> ".join(labels.get(k, k) for k in [*cycle, cycle[0]]) for cycle in cycles
        )
        many = "cycles" if len(cycles) > 1 else "a cycle"
        super().__init__(f"the dependencies form {many}: {shown}")


@dataclass(frozen=True, slots=True)
class PeriodValue:
    """Cumulative earned value figures through one fiscal period (base currency); EV and AC
    only through the status date's period."""

    period: str
    end_on: date
    pv: Decimal
    ev: Decimal | None
    ac: Decimal | None
    #: The day EV and AC were measured: the period's end, or the status date in its period.
    measured_on: date | None = None

    @property
    def as_of(self) -> date:
        return self.measured_on or self.end_on


@dataclass(frozen=True, slots=True)
class EarnedValueCurve:
    project: str
    status_date: date
    periods: list[PeriodValue]
    bac: Decimal
    eac: Decimal | None
    eac_method: str
    #: The figures' currency (the ledger's base currency).
    currency: str = ""
