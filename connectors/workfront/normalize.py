"""Workfront rows -> ledger records: pure functions, one per object, tested from small rows.

Each takes a row (JSON with Decimal numbers) and a `Lookups` (what other objects say: the
currency of each project, the names of portfolios and programs, the planned dates of tasks,
the connector's settings) and returns a record, a list of records, None (the row does not
count: a deletion of its key) or raises ValueError, which the reader turns into a `Rejected`
row. Values the ledger judges itself (no amount, no project) are passed through: the writer
quarantines them with its own reasons or loads them under UNMAPPED (rule 5).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pmo_ledger.connectors.workfront import values as v
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings
from pmo_ledger.ledger.records import (
    ActualRecord,
    AllocationRecord,
    BudgetLineRecord,
    BudgetRecord,
    DependencyRecord,
    ProjectRecord,
    ResourceRateRecord,
    ResourceRecord,
    TaskRecord,
)
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import periods_overlapping

Row = v.Row
#: Workfront's dependency types the ledger holds (`sd`, scheduled start, has no equivalent).
DEPENDENCY_TYPES = {"fs": "FS", "ss": "SS", "ff": "FF", "sf": "SF"}
#: A planned working day, for durations in minutes (Workfront's default schedule: 8 h).
MINUTES_PER_DAY = Decimal(480)


@dataclass(frozen=True)
class TaskDates:
    project: str | None
    start: date | None
    finish: date | None
    #: Planned duration in working days (durationMinutes / 480), for percent lags.
    days: Decimal | None = None


#: Workfront's lag types (`lagType`, compared lower-case): working days as stated; calendar
#: (elapsed) days, converted to working days at 5 in 7; a percent of the predecessor's
#: duration (working or elapsed). Codes from Adobe's predecessor docs; see docs "Not
#: confirmed".
WORKING_DAY_LAGS = frozenset({"d", "w", "wn", "k"})
CALENDAR_DAY_LAGS = frozenset({"e", "c"})
PERCENT_LAGS = frozenset({"p", "pe", "ep"})
_WORKING_PER_CALENDAR = Decimal(5) / Decimal(7)


@dataclass
class Lookups:
    """What normalizing needs besides the row."""

    settings: WorkfrontSettings
    calendar: CalendarSettings = field(default_factory=CalendarSettings)
    #: Project ID -> its currency (None: null in Workfront, the default currency applies).
    currencies: Mapping[str, str | None] = field(default_factory=dict)
    #: Project ID -> the key that names it in the ledger (`project_key`; absent: the ID).
    keys: Mapping[str, str] = field(default_factory=dict)
    portfolios: Mapping[str, str] = field(default_factory=dict)  # PORT ID -> name
    programs: Mapping[str, str] = field(default_factory=dict)  # PRGM ID -> name
    tasks: Mapping[str, TaskDates] = field(default_factory=dict)  # TASK ID -> dates

    def currency(self, project_id: str | None) -> str:
        """A project's currency; the connector's default_currency for a null one or a line
        without a project."""
        own = self.currencies.get(project_id) if project_id else None
        return own or self.settings.default_currency

    def project_ref(self, project_id: str | None) -> str | None:
        """The ledger's key of a Workfront project (`project_key`), None for no project."""
        if not project_id:
            return None
        return self.keys.get(project_id) or project_id

    def url(self, obj: str, row_id: str) -> str:
        """The object's page in Workfront."""
        return f"{self.settings.base_url}/{obj.lower()}/{row_id}"


def key(row: Row) -> str:
    value = v.text(row, "ID")
    if not value:
        raise ValueError("the row has no ID")
    return value


def own_key(row: Row, at: Lookups) -> str:
    """A PROJ row's key in the ledger: its `project_key` field, else its ID."""
    field_name = at.settings.project_key
    return (v.text(row, field_name) if field_name != "ID" else None) or key(row)


#: PROJ `condition` codes -> the ledger's project condition. The codes are not confirmed
#: from Adobe's documentation (the UI says On Target / At Risk / In Trouble); a code not
#: listed is kept as Workfront sends it.
CONDITIONS = {"ON": "on_target", "AR": "at_risk", "IT": "in_trouble"}


def condition(row: Row) -> str | None:
    """PROJ `condition` in the ledger's words, an unknown code as sent, None when empty."""
    code = v.text(row, "condition")
    return CONDITIONS.get(code, code) if code else None


def project(row: Row, at: Lookups) -> ProjectRecord:
    """PROJ -> a project, in its portfolio and program; a null currency is the default one."""
    rid = key(row)
    name = v.text(row, "name") or rid
    portfolio, program = v.text(row, "portfolioID"), v.text(row, "programID")
    return ProjectRecord(
        external_id=own_key(row, at),
        code=v.text(row, "referenceNumber") or rid,
        name=name,
        portfolio=portfolio,
        portfolio_name=at.portfolios.get(portfolio or "") or portfolio,
        program=program,
        program_name=at.programs.get(program or "") or program,
        status=v.text(row, "status"),
        condition=condition(row),
        currency=v.text(row, "currency") or at.settings.default_currency,
        planned_start=v.day(row, "plannedStartDate"),
        planned_finish=v.day(row, "plannedCompletionDate"),
        actual_start=v.day(row, "actualStartDate"),
        actual_finish=v.day(row, "actualCompletionDate"),
        percent_complete=v.decimal(row, "percentComplete", ratio=True),
        source_url=at.url("project", rid),
        source_modified_at=v.stamp(row),
    )


def budget(row: Row, at: Lookups) -> BudgetRecord | None:
    """PROJ `budget` -> the project's current cost budget (one line, phased by the ledger);
    None (a deletion) when the project has no budget."""
    rid = key(row)
    amount = v.decimal(row, "budget")
    if amount is None:
        return None
    start = v.day(row, "plannedStartDate")
    line = BudgetLineRecord(
        external_id=f"{rid}/budget",
        amount=amount,
        currency=v.text(row, "currency") or at.settings.default_currency,
    )
    return BudgetRecord(
        external_id=f"{rid}/current",
        project_ref=own_key(row, at),
        kind="current",
        effective_from=start or at.settings.rates_from,
        lines=(line,),
        label="project budget",
        planned_start=start,
        planned_finish=v.day(row, "plannedCompletionDate"),
        source_modified_at=v.stamp(row),
    )


def task(row: Row, at: Lookups) -> TaskRecord:
    """TASK -> a task: parent, WBS number, dates, work (minutes -> hours), duration (minutes
    -> days of 8 hours, the most likely duration; optimistic and pessimistic days from the
    custom fields configured), percent complete."""
    rid = key(row)
    project_id = v.text(row, "projectID")
    if not project_id:
        raise ValueError("projectID is empty: a task belongs to a project")
    minutes = v.decimal(row, "durationMinutes", ratio=True)
    days = (
        (minutes / MINUTES_PER_DAY).quantize(Decimal("0.0001"), ROUND_HALF_UP) if minutes else None
    )
    effort = v.hours_from_minutes(row, "workRequired")
    return TaskRecord(
        external_id=rid,
        project_ref=at.project_ref(project_id) or project_id,
        name=v.text(row, "name") or rid,
        parent_ref=v.text(row, "parentID"),
        wbs_code=v.text(row, "wbs") or v.text(row, "taskNumber"),
        planned_start=v.day(row, "plannedStartDate"),
        planned_finish=v.day(row, "plannedCompletionDate"),
        actual_start=v.day(row, "actualStartDate"),
        actual_finish=v.day(row, "actualCompletionDate"),
        effort_hours=effort if effort is not None else v.decimal(row, "work"),
        percent_complete=v.decimal(row, "percentComplete", ratio=True),
        optimistic_days=_days(row, at.settings.optimistic_field),
        most_likely_days=days,
        pessimistic_days=_days(row, at.settings.pessimistic_field),
        source_url=at.url("task", rid),
        source_modified_at=v.stamp(row),
    )


def _days(row: Row, field_name: str | None) -> Decimal | None:
    return v.decimal(row, field_name, ratio=True) if field_name else None


def dependency(row: Row, at: Lookups) -> DependencyRecord:
    """PRED -> a precedence link (`fs`, `ss`, `ff`, `sf` with `lagDays`)."""
    before, after = v.text(row, "predecessorID"), v.text(row, "successorID")
    if not before or not after:
        raise ValueError("a predecessor needs predecessorID and successorID")
    kind = (v.text(row, "predecessorType") or "fs").lower()
    if kind not in DEPENDENCY_TYPES:
        raise ValueError(f"predecessorType {kind!r} has no ledger equivalent (fs, ss, ff, sf)")
    return DependencyRecord(
        external_id=v.text(row, "ID") or f"{before}>{after}",
        predecessor_ref=before,
        successor_ref=after,
        dependency_type=DEPENDENCY_TYPES[kind],  # type: ignore[arg-type]
        lag_days=lag_days(row, at, before),
        source_modified_at=v.stamp(row),
    )


def lag_days(row: Row, at: Lookups, before: str) -> Decimal:
    """`lagDays` in working days as its `lagType` says (none: working days); a percent lag is
    that share of the predecessor's planned duration, refused when it is not known."""
    lag = v.decimal(row, "lagDays", ratio=True) or Decimal(0)
    kind = (v.text(row, "lagType") or "d").lower()
    if kind in WORKING_DAY_LAGS or not lag:
        return lag
    if kind in CALENDAR_DAY_LAGS:
        return (lag * _WORKING_PER_CALENDAR).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    if kind in PERCENT_LAGS:
        dates = at.tasks.get(before)
        if dates is None or dates.days is None:
            share = format(lag.normalize(), "f")
            raise ValueError(
                f"lagType {kind!r} is {share}% of predecessor {before}'s duration, "
                "which is not known"
            )
        return (lag * dates.days / 100).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    raise ValueError(f"lagType {kind!r} is not a lag type the connector knows (d, e, p, pe)")


def crosses_projects(row: Row, at: Lookups) -> bool:
    """Whether a predecessor links tasks of two projects (both known)."""
    ends = [at.tasks.get(v.text(row, f) or "") for f in ("predecessorID", "successorID")]
    return all(ends) and ends[0].project != ends[1].project  # type: ignore[union-attr]


def _line(row: Row, at: Lookups, obj: str, date_field: str, **values: Any) -> ActualRecord:
    """An actual line of HOUR or EXPNS on its date, in its project's currency."""
    rid = key(row)
    posted = v.day(row, date_field)
    if posted is None:
        raise ValueError(f"{date_field} is empty: the {obj} has no date")
    project_id = v.text(row, "projectID")
    return ActualRecord(
        external_id=rid,
        project_ref=at.project_ref(project_id),
        posted_on=posted,
        task_ref=v.text(row, "taskID"),
        currency=at.currency(project_id),
        source_url=at.url(obj, rid),
        source_modified_at=v.stamp(row),
        **values,
    )


def hour(row: Row, at: Lookups) -> ActualRecord | None:
    """HOUR -> a labor line: hours, and `actualCost` where Workfront has it (else the ledger
    values the hours at the owner's, or the role's, cost rate on the day). Only statuses in
    `hour_statuses` count; None (a deletion) otherwise."""
    key(row)
    if v.text(row, "status") not in at.settings.hour_statuses:
        return None
    return _line(
        row,
        at,
        "hour",
        "entryDate",
        cost_type="labor",
        resource_ref=v.text(row, "ownerID"),
        role=v.text(row, "roleID"),
        amount=v.decimal(row, "actualCost"),
        hours=v.decimal(row, "hours"),
    )


def expense(row: Row, at: Lookups) -> ActualRecord:
    """EXPNS -> an expense line: `actualAmount` on its `effectiveDate`."""
    return _line(
        row, at, "expense", "effectiveDate", cost_type="expense",
        amount=v.decimal(row, "actualAmount"),
    )  # fmt: skip


def user(row: Row, at: Lookups) -> ResourceRecord:
    """USER -> a resource."""
    rid = key(row)
    active = v.flag(row, "isActive")
    return ResourceRecord(
        external_id=rid,
        name=v.text(row, "name") or rid,
        email=v.text(row, "emailAddr"),
        role=v.text(row, "roleID"),
        active=True if active is None else active,
        source_modified_at=v.stamp(row),
    )


def rate(row: Row, at: Lookups, obj: str) -> ResourceRateRecord | None:
    """USER or ROLE `costPerHour` -> a cost rate in the default currency from `rates_from`
    (the current rate only: Workfront's effective-dated rates are not read); None (a
    deletion) without a rate."""
    rid = key(row)
    cost = v.decimal(row, "costPerHour", 8)
    if cost is None:
        return None
    return ResourceRateRecord(
        external_id=f"{obj}/{rid}",
        effective_from=at.settings.rates_from,
        cost_rate=cost,
        currency=at.settings.default_currency,
        resource_ref=rid if obj == "USER" else None,
        role=rid if obj == "ROLE" else None,
        source_modified_at=v.stamp(row),
    )


def assignment(row: Row, at: Lookups) -> list[AllocationRecord]:
    """ASSGN -> planned hours (`workRequired` minutes, else `work` hours) spread over the
    fiscal periods of its task's planned dates in proportion to their days, to 2 places,
    the rounding left in the last period."""
    rid = key(row)
    task_id = v.text(row, "taskID")
    dates = at.tasks.get(task_id or "")
    project_id = v.text(row, "projectID") or (dates.project if dates else None)
    if not project_id:
        raise ValueError("the assignment has no projectID and no task of a project")
    planned = v.hours_from_minutes(row, "workRequired")
    if planned is None:
        planned = v.decimal(row, "work")
    if planned is None:
        raise ValueError("the assignment has neither workRequired nor work")
    start = dates.start if dates else None
    finish = (dates.finish if dates else None) or start
    if start is None or finish is None:
        raise ValueError(f"task {task_id} has no planned dates to place the hours in")
    if finish < start:
        start, finish = finish, start
    shares = [
        (p.key, (min(finish, p.end_on) - max(start, p.start_on)).days + 1)
        for p in periods_overlapping(at.calendar, start, finish)
        if not p.special and p.start_on <= finish and p.end_on >= start
    ]
    whole = sum(d for _, d in shares)
    out: list[AllocationRecord] = []
    given = Decimal(0)
    for n, (period, days) in enumerate(shares, 1):
        part = (
            planned - given
            if n == len(shares)
            else (planned * days / whole).quantize(Decimal("0.01"), ROUND_HALF_UP)
        )
        given += part
        out.append(
            AllocationRecord(
                external_id=rid,
                project_ref=at.project_ref(project_id) or project_id,
                period=period,
                planned_hours=part,
                resource_ref=v.text(row, "assignedToID"),
                role=v.text(row, "roleID"),
                task_ref=task_id,
                source_modified_at=v.stamp(row),
                whole=True,  # an assignment's periods are all sent together
            )
        )
    return out
