"""What `pmo-ledger plan` and `chart` read: a project's live tasks and dependencies as
planning's plain data (`PlanTask`, `PlanLink`) with the percent complete at a status date, the
finished tasks of its project, program and portfolio (history), and its earned value by fiscal
period (the S-curve) from the same figures `forecast_overrun` computes (`ledger.evm`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased

from pmo_ledger.ledger.evm import Evm
from pmo_ledger.ledger.history import known
from pmo_ledger.ledger.models import (
    Portfolio,
    Program,
    ProgressSnapshot,
    Project,
    Task,
    TaskDependency,
    table_of,
)
from pmo_ledger.ledger.planning.history import FinishedTask, HistoryLevel
from pmo_ledger.ledger.planning.model import EarnedValueCurve, PeriodValue, PlanLink, PlanTask
from pmo_ledger.ledger.reconcile.context import RuleContext, load_projects, period_of
from pmo_ledger.ledger.reconcile.evm_rules import evm_rows
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.time.calendar import fiscal_year_of, generate_years


@dataclass(frozen=True, slots=True)
class PlanProject:
    id: int
    code: str
    name: str
    program: str | None
    portfolio: str | None
    planned_start: date | None
    planned_finish: date | None


@dataclass
class PlanData:
    """The tasks and links of the projects asked for, ready for `ledger.planning`."""

    projects: list[PlanProject]
    tasks: list[PlanTask]
    links: list[PlanLink]
    #: Task key -> project code, for the linked tasks that were not loaded.
    outside_projects: dict[str, str] = field(default_factory=dict)
    #: Project code -> the source whose tasks are scheduled.
    sources: dict[str, str] = field(default_factory=dict)
    #: Project code -> {other source: its live tasks}, the copies not scheduled.
    not_scheduled: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def start(self) -> date | None:
        starts = [p.planned_start for p in self.projects if p.planned_start is not None]
        return min(starts) if starts else None


def plan_project(session: Session, code: str, as_known_at: datetime | None = None) -> PlanProject:
    """A live project by code (as known at `as_known_at`: `ledger.history`). Raises
    LookupError when there is none."""
    p = known(table_of(Project), as_known_at).c
    pg = known(table_of(Program), as_known_at, name="pg").c
    pf = known(table_of(Portfolio), as_known_at, name="pf").c
    row = session.execute(
        select(p.id, p.code, p.name, pg.code, pf.code, p.planned_start, p.planned_finish)
        .outerjoin(pg.id.table, pg.id == p.program_id)
        .outerjoin(pf.id.table, pf.id == p.portfolio_id)
        .where(p.code == code, p.deleted_at.is_(None))
    ).first()
    if row is None:
        raise LookupError(f"no project {code!r}")
    return PlanProject(*row)


def plan_data(
    session: Session,
    codes: Sequence[str],
    status_date: date | None,
    *,
    authority: str | None = None,
    source: str | None = None,
    as_known_at: datetime | None = None,
) -> PlanData:
    """Live tasks of the projects `codes` with their percent complete at `status_date` (the
    latest progress snapshot on or before it, none when its snapshots all come later; the
    task's own for a task without snapshots), and every live dependency touching them.

    Each source sends its own copy of a project's tasks; one copy is scheduled per project
    (see `choose_source`): `source` when given, else the projects `authority`'s, else the only
    source with tasks. Raises LookupError for an unknown project, for a `source` without tasks
    in it, and when several sources have tasks and none is chosen.

    `as_known_at`: projects, tasks and dependencies as the ledger knew them then
    (`ledger.history`), progress snapshots recorded by then."""
    at = as_known_at
    projects = [plan_project(session, c, at) for c in codes]
    ids = [p.id for p in projects]
    code_of = {p.id: p.code for p in projects}
    counts: dict[int, dict[str, int]] = {i: {} for i in ids}
    task = known(table_of(Task), at).c
    for project_id, src, n in session.execute(
        select(task.project_id, task.source, func.count())
        .where(task.project_id.in_(ids), task.deleted_at.is_(None))
        .group_by(task.project_id, task.source)
    ):
        counts[project_id][src] = n
    chosen = {
        i: s
        for i in ids
        if (s := choose_source(code_of[i], counts[i], authority, source)) is not None
    }
    rows = session.execute(
        select(task.id.table).where(task.project_id.in_(ids), task.deleted_at.is_(None))
        .order_by(task.id)
    )  # fmt: skip
    found = [t for t in rows if chosen.get(t.project_id) == t.source]
    keys = _keys(found)
    percents = _percents(session, ids, status_date, at) if status_date is not None else {}
    dated = _with_snapshots(session, ids, at) if status_date is not None else set()
    tasks = [
        PlanTask(
            key=keys[t.id],
            name=t.name,
            project=code_of[t.project_id],
            parent=keys.get(t.parent_id) if t.parent_id is not None else None,
            wbs=t.wbs_code,
            planned_start=t.planned_start,
            planned_finish=t.planned_finish,
            actual_start=t.actual_start,
            actual_finish=t.actual_finish,
            percent=percents.get(t.id) if t.id in dated else t.percent_complete,
            optimistic=t.optimistic_days,
            most_likely=t.most_likely_days,
            pessimistic=t.pessimistic_days,
        )
        for t in found
    ]
    links, outside = _links(session, keys, ids, at)
    return PlanData(
        projects,
        tasks,
        links,
        outside,
        sources={code_of[i]: s for i, s in chosen.items()},
        not_scheduled={
            code_of[i]: {s: n for s, n in sorted(c.items()) if s != chosen.get(i)}
            for i, c in counts.items()
            if len(c) > 1
        },
    )


def choose_source(
    code: str, counts: dict[str, int], authority: str | None, source: str | None
) -> str | None:
    """The source whose tasks of project `code` are scheduled, from each source's count of
    live tasks: `source` when given (LookupError when it has none), else the `authority`
    when it has some, else the only source with some (None when none has). LookupError when
    several have tasks and none of them is the authority."""
    if source is not None:
        if source not in counts:
            have = ", ".join(sorted(counts)) or "none"
            raise LookupError(f"{code} has no tasks from source {source!r} (sources: {have})")
        return source
    if authority is not None and authority in counts:
        return authority
    if len(counts) > 1:
        raise LookupError(
            f"{code} has tasks from {', '.join(sorted(counts))}: choose one with --source "
            "(or [planning] source)"
        )
    return next(iter(counts), None)


def _keys(tasks: list[Any]) -> dict[int, str]:
    """A task's key: its external id, or `source/external id` where two sources share one."""
    seen: dict[str, int] = {}
    for t in tasks:
        seen[t.external_id] = seen.get(t.external_id, 0) + 1
    return {
        t.id: t.external_id if seen[t.external_id] == 1 else f"{t.source}/{t.external_id}"
        for t in tasks
    }


def _percents(
    session: Session, project_ids: list[int], status_date: date, at: datetime | None
) -> dict[int, Decimal]:
    ps = ProgressSnapshot
    ranked = (
        select(
            ps.task_id,
            ps.percent,
            func.row_number()
            .over(
                partition_by=ps.task_id,
                order_by=(ps.status_date.desc(), ps.recorded_at.desc(), ps.id.desc()),
            )
            .label("rank"),
        )
        .where(
            ps.project_id.in_(project_ids),
            ps.task_id.is_not(None),
            ps.status_date <= status_date,
            *([] if at is None else [ps.recorded_at <= at]),
        )
        .subquery()
    )
    return {
        r[0]: Decimal(r[1])
        for r in session.execute(
            select(ranked.c.task_id, ranked.c.percent).where(ranked.c.rank == 1)
        )
    }


def _with_snapshots(session: Session, project_ids: list[int], at: datetime | None) -> set[int]:
    """Tasks of these projects with any progress snapshot (recorded by `at`)."""
    ps = ProgressSnapshot
    return set(
        session.scalars(
            select(ps.task_id)
            .where(
                ps.project_id.in_(project_ids),
                ps.task_id.is_not(None),
                *([] if at is None else [ps.recorded_at <= at]),
            )
            .distinct()
        )
    )


def _links(
    session: Session, keys: dict[int, str], project_ids: list[int], at: datetime | None
) -> tuple[list[PlanLink], dict[str, str]]:
    """Live links (as known at `at`) with at least one end among the loaded tasks; the other
    ends' projects. A link whose other end was deleted in its source, or is another source's
    copy of a task of a loaded project (not scheduled), is left out."""
    ids = list(keys)
    d = known(table_of(TaskDependency), at).c
    rows = session.execute(
        select(d.predecessor_id, d.successor_id, d.dependency_type, d.lag_days)
        .where(d.deleted_at.is_(None), or_(d.predecessor_id.in_(ids), d.successor_id.in_(ids)))
        .order_by(d.id)
    ).all()
    others = {r[i] for r in rows for i in (0, 1) if r[i] not in keys}
    outside: dict[str, str] = {}
    names: dict[int, str] = dict(keys)
    if others:
        t = known(table_of(Task), at).c
        p = known(table_of(Project), at).c
        for task_id, external_id, code, project_id in session.execute(
            select(t.id, t.external_id, p.code, t.project_id)
            .join_from(t.id.table, p.id.table, p.id == t.project_id)
            .where(t.id.in_(others), t.deleted_at.is_(None))
        ):
            if project_id in project_ids:
                continue
            names[task_id] = external_id
            outside[external_id] = code
    links = [
        PlanLink(names[p], names[s], kind, Decimal(lag))
        for p, s, kind, lag in rows
        if p in names and s in names
    ]
    return links, outside


def history_levels(session: Session, project: PlanProject, status_date: date) -> list[HistoryLevel]:
    """The finished leaf tasks (planned and actual dates known, finished by `status_date`) of
    the project, of its program's projects and of its portfolio's, in that order."""
    child = aliased(Task)
    has_child = select(child.id).where(child.parent_id == Task.id, child.deleted_at.is_(None))
    base = (
        select(Task.planned_start, Task.planned_finish, Task.actual_start, Task.actual_finish)
        .join(Project, Project.id == Task.project_id)
        .where(
            Task.deleted_at.is_(None),
            ~has_child.exists(),
            *(c.is_not(None) for c in (Task.planned_start, Task.planned_finish, Task.actual_start)),
            Task.actual_finish <= status_date,
        )
    )
    levels: list[tuple[str, str | None, Any]] = [
        ("project", project.code, Project.id == project.id),
    ]
    if project.program is not None:
        levels.append(
            (
                "program",
                project.program,
                Project.program_id.in_(select(Program.id).where(Program.code == project.program)),
            )
        )
    if project.portfolio is not None:
        levels.append(
            (
                "portfolio",
                project.portfolio,
                Project.portfolio_id.in_(
                    select(Portfolio.id).where(Portfolio.code == project.portfolio)
                ),
            )
        )
    return [
        HistoryLevel(
            level, code or "", [FinishedTask(*r) for r in session.execute(base.where(cond))]
        )
        for level, code, cond in levels
    ]


def earned_value_curve(
    session: Session,
    settings: LedgerSettings,
    rules: ReconcileRules,
    project: PlanProject,
    status_date: date,
) -> EarnedValueCurve:
    """PV, EV and AC cumulated by fiscal period over the project's planned span (and up to the
    status date), each as `forecast_overrun` computes them at the period's end; BAC and EAC at
    the status date. Raises LookupError when the project has no baseline in force then."""
    cal = settings.calendar
    first = min(d for d in (project.planned_start, status_date) if d is not None)
    last = max(d for d in (project.planned_finish, status_date) if d is not None)
    periods = [
        p
        for p in generate_years(cal, fiscal_year_of(cal, first), fiscal_year_of(cal, last))
        if not p.special and p.end_on >= first and p.start_on <= last
    ]
    projects = load_projects(session, project.id)
    method = rules.rule("forecast_overrun").eac

    def at(day: date) -> Evm | None:
        current, closed = period_of(session, cal, day)
        ctx = RuleContext(
            session, settings, rules, day, current, closed, None, project.id, projects
        )
        return evm_rows(ctx).get(project.id)

    now = at(status_date)
    if now is None:
        raise LookupError(f"project {project.code} has no baseline in force on {status_date}")
    out = []
    for p in periods:
        day = min(p.end_on, status_date) if p.start_on <= status_date else p.end_on
        evm = at(day)
        if evm is None:
            continue
        past = p.start_on <= status_date
        out.append(
            PeriodValue(
                p.key,
                p.end_on,
                evm.pv,
                evm.ev if past else None,
                evm.ac if past else None,
                measured_on=day if past else None,
            )
        )
    return EarnedValueCurve(
        project.code,
        status_date,
        out,
        now.bac,
        now.eac(method),
        method,
        currency=settings.base_currency,
    )


__all__ = [
    "EarnedValueCurve",
    "PeriodValue",
    "PlanData",
    "PlanProject",
    "choose_source",
    "earned_value_curve",
    "history_levels",
    "plan_data",
    "plan_project",
]
