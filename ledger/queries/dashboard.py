"""What the dashboard (`/ui` of `pmo-ledger serve`) reads: one set-based query per page
section, whatever the number of projects.

- `portfolio`: every live project (not merged, not deleted, not UNMAPPED) with its portfolio,
  program, owner and sources, its current budget and counting actual cost, its earned value at
  the status date (the figures `forecast_overrun` computes: `evm_rows`), its forecast (EAC by
  the rule's method for the project) and its open variances by severity; plus when each
  source last synced. Seven queries for the whole portfolio; the page filters, groups, sorts
  and pages the rows in Python.
- `project_detail`: one project's header, budget vs actual by period
  (`v_project_budget_vs_actual_by_period`), open variances with their lines
  (`v_variance_lines`), its identities across sources (project links and cost objects) and the
  sync health of its sources (`v_sync_health`).
- `variance_detail`: one variance, its lines (`v_variance_lines`) and its history
  (`variance_event`).
- `operations`: per connector its last run, per source open quarantine by reason, and the
  sync health rows (drift of the latest control-total check).

Money is Decimal: the views give exact TEXT on SQLite and NUMERIC on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, column, func, select, table, text
from sqlalchemy.orm import Session, aliased

from pmo_ledger.ledger.evm import Evm
from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    CostObjectMap,
    Portfolio,
    Program,
    Project,
    ProjectLink,
    Quarantine,
    SyncRun,
    SyncRunStream,
    Variance,
)
from pmo_ledger.ledger.queries.runs import DONE
from pmo_ledger.ledger.queries.variances import HistoryEntry, VarianceRow, variance_history
from pmo_ledger.ledger.reconcile.context import RuleContext, load_projects, period_of
from pmo_ledger.ledger.reconcile.evm_rules import evm_rows
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.reconcile.snapshot import (
    counting_actuals,
    current_budgets,
    figure_marker_columns,
    read_markers,
    valid_snapshot,
)
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.types import as_decimal

SEVERITIES = ("high", "medium", "low")
OPEN_STATUSES = ("open", "acknowledged")


def _opt_dec(value: Any) -> Decimal | None:
    return None if value is None else as_decimal(value)


# --- the portfolio -------------------------------------------------------------------------


@dataclass(slots=True)
class ProjectNames:
    """A project with its portfolio's and program's code and name, and its owner."""

    id: int
    code: str
    name: str
    portfolio_code: str | None
    portfolio_name: str | None
    program_code: str | None
    program_name: str | None
    manager: str | None


@dataclass(slots=True)
class PortfolioRow(ProjectNames):
    """One project on the portfolio page."""

    source: str | None
    sources: tuple[str, ...]
    condition: str | None
    status: str | None
    budget: Decimal
    actual: Decimal
    evm: Evm | None
    eac_method: str
    variances: dict[str, int]
    #: The oldest "last successful sync" of the project's sources (its figures are at least
    #: that fresh); None when one of them never synced.
    actuals_as_of: datetime | None
    rag: str | None = None

    @property
    def forecast(self) -> Decimal | None:
        return None if self.evm is None else self.evm.eac(self.eac_method)

    @property
    def cpi(self) -> Decimal | None:
        return None if self.evm is None else self.evm.cpi

    @property
    def spi(self) -> Decimal | None:
        return None if self.evm is None else self.evm.spi

    @property
    def open_variances(self) -> int:
        return sum(self.variances.values())


@dataclass
class PortfolioData:
    """Every live project's row, the status date the earned value is at, and the time each
    source last synced successfully."""

    rows: list[PortfolioRow]
    status_date: date
    status_period: str | None
    last_synced: dict[str, datetime]
    findings_changed_at: datetime | None
    eac_methods: set[str] = field(default_factory=set)
    #: When the budgets, actual costs and earned value were computed: by the reconcile whose
    #: snapshot they come from (`snapshot_id`, its number), or by this read (None).
    figures_at: datetime | None = None
    snapshot_id: int | None = None


def _live(project: Any) -> list[Any]:
    return [
        project.deleted_at.is_(None),
        project.merged_into_id.is_(None),
        project.id != UNMAPPED_ID,
    ]


def _with_groups(*columns: Any) -> Any:
    """SELECT a project's id, code and name, its portfolio's and program's code and name, then
    `columns`."""
    pf, pg = aliased(Portfolio), aliased(Program)
    return (
        select(Project.id, Project.code, Project.name, pf.code, pf.name, pg.code, pg.name, *columns)
        .outerjoin(pf, pf.id == Project.portfolio_id)
        .outerjoin(pg, pg.id == Project.program_id)
    )


def evm_at(
    session: Session,
    settings: LedgerSettings,
    rules: ReconcileRules,
    status_date: date,
    project_id: int | None = None,
) -> tuple[dict[int, Evm], dict[int, str], str | None]:
    """Earned value per project at `status_date` as `forecast_overrun` computes it, the EAC
    method per project (its overrides applied) and the status period (None, and no figures,
    when the calendar has no period for the day)."""
    try:
        current, closed = period_of(session, settings.calendar, status_date)
    except LookupError:
        return {}, {}, None
    projects = load_projects(session, project_id)
    ctx = RuleContext(
        session, settings, rules, status_date, current, closed, None, project_id, projects
    )
    figures = evm_rows(ctx)
    methods: dict[int, str] = {pid: ctx.rule_for("forecast_overrun", pid).eac for pid in figures}
    return figures, methods, current


def last_synced(session: Session) -> dict[str, datetime]:
    """Per connector: when its last succeeded (or partial) run finished."""
    return {
        connector: finished
        for connector, finished in session.execute(
            select(SyncRun.connector, func.max(SyncRun.finished_at))
            .where(SyncRun.status.in_(DONE))
            .group_by(SyncRun.connector)
        )
        if finished is not None
    }


def portfolio(
    session: Session,
    settings: LedgerSettings,
    rules: ReconcileRules,
    status_date: date,
    version: Sequence[Any] | None = None,
) -> PortfolioData:
    """Every live project's portfolio row (see the module docstring), ordered by code. The
    current budgets, actual costs and earned value come from the last reconcile's snapshot
    when it is still true for `status_date` (ledger/reconcile/snapshot.py), else they are
    computed here; `PortfolioData.figures_at` says when they were computed. `version`: the
    `portfolio_version` the caller has just read (its markers are not read again)."""
    head = session.execute(
        _with_groups(Project.manager, Project.source, Project.condition, Project.status)
        .where(*_live(Project))
        .order_by(Project.code)
    ).all()
    sources: dict[int, set[str]] = {}
    for pid, src in session.execute(select(ProjectLink.project_id, ProjectLink.source).distinct()):
        sources.setdefault(pid, set()).add(src)
    counts: dict[int, dict[str, int]] = {}
    for pid, severity, n in session.execute(
        select(Variance.project_id, Variance.severity, func.count())
        .where(Variance.status.in_(OPEN_STATUSES), Variance.project_id.is_not(None))
        .group_by(Variance.project_id, Variance.severity)
    ):
        counts.setdefault(pid, {})[severity] = int(n)
    changed = session.scalar(select(func.max(Variance.last_seen_at)))
    synced = last_synced(session)
    default_method = rules.rule("forecast_overrun").eac
    markers = None if version is None else version[: len(figure_marker_columns())]
    snap = valid_snapshot(session, settings, status_date, markers)
    if snap is not None:
        budget = {pid: f.budget for pid, f in snap.figures.items()}
        actual = {pid: f.actual for pid, f in snap.figures.items()}
        figures = {pid: f.evm for pid, f in snap.figures.items() if f.evm is not None}
        methods = _eac_methods(rules, head, figures)
        period: str | None = snap.period
        computed_at, snapshot_id = snap.computed_at, snap.id
    else:
        computed_at, snapshot_id = datetime.now(UTC), None
        budget = current_budgets(session)
        actual = counting_actuals(session)
        figures, methods, period = evm_at(session, settings, rules, status_date)
    rows = []
    for pid, code, name, pfc, pfn, pgc, pgn, manager, source, condition, status in head:
        srcs = tuple(sorted(sources.get(pid, set()) | ({source} if source else set())))
        times = [synced.get(s) for s in srcs]
        rows.append(
            PortfolioRow(
                id=pid,
                code=code,
                name=name,
                portfolio_code=pfc,
                portfolio_name=pfn,
                program_code=pgc,
                program_name=pgn,
                manager=manager,
                source=source,
                sources=srcs,
                condition=condition,
                status=status,
                budget=budget.get(pid, Decimal(0)),
                actual=actual.get(pid, Decimal(0)),
                evm=figures.get(pid),
                eac_method=methods.get(pid, default_method),
                variances=counts.get(pid, {}),
                actuals_as_of=(
                    None if not times or any(t is None for t in times) else min(times)  # type: ignore[type-var]
                ),
            )
        )
    return PortfolioData(
        rows, status_date, period, synced, changed, set(methods.values()) or {default_method},
        figures_at=computed_at, snapshot_id=snapshot_id,
    )  # fmt: skip


def _eac_methods(
    rules: ReconcileRules, head: Sequence[Any], figures: dict[int, Evm]
) -> dict[int, str]:
    """The EAC method per project with earned value, its overrides applied (as
    `RuleContext.rule_for` picks them, from the project's, program's and portfolio's codes)."""
    default = rules.rule("forecast_overrun").eac
    if not rules.has_overrides("forecast_overrun"):
        return dict.fromkeys(figures, default)
    return {
        pid: rules.for_subject("forecast_overrun", portfolio=pfc, program=pgc, project=code).eac
        for pid, code, _, pfc, _, pgc, *_ in head
        if pid in figures
    }


def portfolio_version(session: Session) -> tuple[Any, ...]:
    """Markers that move whenever anything `portfolio` reads changes, in one round trip: the
    append-only histories' last ids (ledger_entry: every actual, move, rate and authority
    change; budget_entry: every budget line change; progress_snapshot), the last change of
    projects, portfolios, programs, links, tasks, budget versions and aggregates, every
    variance's lifecycle (ids, last seen, acknowledged, escalated, resolved, reopens, count)
    and the last run. Equal markers, equal portfolio (for the same status date)."""
    v = Variance
    markers = (*figure_marker_columns(), func.max(SyncRun.id), func.max(SyncRun.finished_at))
    first = read_markers(session, *markers)
    lifecycle = session.execute(
        select(
            func.count(), func.max(v.id), func.max(v.last_seen_at), func.max(v.acknowledged_at),
            func.max(v.escalated_at), func.max(v.resolved_at), func.sum(v.reopened_count),
            func.sum(case((v.status == "open", 1), else_=0)),
            func.sum(case((v.status == "acknowledged", 1), else_=0)),
        )
    ).one()  # fmt: skip
    return (*first, *lifecycle)


# --- one project ---------------------------------------------------------------------------


@dataclass(slots=True)
class ProjectHead(ProjectNames):
    """A project as its page's header shows it."""

    status: str | None
    condition: str | None
    currency: str | None
    planned_start: date | None
    planned_finish: date | None
    actual_start: date | None
    actual_finish: date | None
    percent_complete: Decimal | None
    source: str | None
    external_id: str | None
    source_url: str | None
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One period of `v_project_budget_vs_actual_by_period`."""

    period: str
    budget: Decimal
    actual: Decimal
    variance: Decimal
    cumulative_budget: Decimal
    cumulative_actual: Decimal
    actual_hours: Decimal


@dataclass(frozen=True, slots=True)
class Identity:
    """A record of a source that stands for the project or one of its cost objects."""

    source: str
    object_type: str
    external_id: str
    origin: str
    task_id: int | None = None
    cost_type: str | None = None


@dataclass(frozen=True, slots=True)
class VarianceLine:
    """A ledger line behind a variance (`v_variance_lines`)."""

    variance_id: int
    line_id: int
    source: str
    stream: str
    external_id: str
    kind: str
    cost_type: str
    period: str
    posted_on: date
    currency: str | None
    amount: Decimal | None
    base_amount: Decimal | None
    hours: Decimal | None
    counts_amount: bool
    counts_hours: bool
    description: str | None
    source_url: str | None


@dataclass(frozen=True, slots=True)
class SyncHealth:
    """A row of `v_sync_health`."""

    connector: str
    stream: str
    last_run_id: int | None
    last_run_status: str | None
    last_run_finished_at: datetime | None
    last_stream_status: str | None
    last_stream_error: str | None
    last_success_at: datetime | None
    open_quarantine: int
    drift_checked_at: datetime | None
    count_drift: int | None
    amount_drift: Decimal | None
    hours_drift: Decimal | None
    budget_drift: Decimal | None
    drifted_groups: int | None


def project_head(session: Session, code: str) -> ProjectHead | None:
    """A live project by code, with its portfolio and program; None when there is none."""
    row = session.execute(
        _with_groups(
            Project.manager,
            Project.status,
            Project.condition,
            Project.currency,
            Project.planned_start,
            Project.planned_finish,
            Project.actual_start,
            Project.actual_finish,
            Project.percent_complete,
            Project.source,
            Project.external_id,
            Project.source_url,
            Project.updated_at,
        ).where(Project.code == code, Project.deleted_at.is_(None))
    ).first()
    return None if row is None else ProjectHead(*row)


def by_period(session: Session, project_id: int) -> list[PeriodFigures]:
    """The project's budget vs actual by period, with the running totals."""
    rows = session.execute(
        text(
            "SELECT period, budget, actual, variance, cumulative_budget, cumulative_actual,"
            " actual_hours FROM v_project_budget_vs_actual_by_period"
            " WHERE project_id = :pid ORDER BY period"
        ),
        {"pid": project_id},
    ).all()
    return [PeriodFigures(r[0], *(as_decimal(v) for v in r[1:])) for r in rows]


def project_actual(session: Session, project_id: int) -> Decimal:
    """The project's counting actual cost, every period (from the aggregate)."""
    return counting_actuals(session, project_id).get(project_id, Decimal(0))


def identities(session: Session, project_id: int) -> list[Identity]:
    """The project's records across sources: its project links, then its cost objects (WBS
    elements, cost centers, orders...)."""
    links = [
        Identity(*r)
        for r in session.execute(
            select(
                ProjectLink.source, ProjectLink.object_type, ProjectLink.external_id,
                ProjectLink.origin,
            )
            .where(ProjectLink.project_id == project_id)
            .order_by(ProjectLink.source, ProjectLink.object_type, ProjectLink.external_id)
        )
    ]  # fmt: skip
    cm = CostObjectMap
    objects = [
        Identity(*r)
        for r in session.execute(
            select(cm.source, cm.object_type, cm.external_id, cm.origin, cm.task_id, cm.cost_type)
            .where(cm.project_id == project_id)
            .order_by(cm.source, cm.object_type, cm.external_id)
        )
    ]
    return links + objects


def open_variances(session: Session, project_id: int) -> list[VarianceRow]:
    """The project's open and acknowledged variances (of the project or of a resource on it),
    most severe and newest first."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    found = session.scalars(
        select(Variance).where(
            Variance.project_id == project_id, Variance.status.in_(OPEN_STATUSES)
        )
    )
    rows = [_variance_row(v) for v in found]
    return sorted(rows, key=lambda r: (rank.get(r.severity, len(rank)), -r.id))


def _variance_row(v: Variance) -> VarianceRow:
    """A variance row as the API lists it."""
    return VarianceRow(**{f.name: getattr(v, f.name) for f in fields(VarianceRow)})


#: The analyst views read here, as SQLAlchemy sees them (their columns by name only: money
#: comes as exact TEXT on SQLite and NUMERIC on PostgreSQL, read with `as_decimal`).
_LINE_COLUMNS = (
    "variance_id", "line_id", "source", "stream", "external_id", "kind", "cost_type", "period",
    "posted_on", "currency", "amount", "base_amount", "hours", "counts_amount", "counts_hours",
    "description", "source_url",
)  # fmt: skip
_v_lines = table("v_variance_lines", *(column(c) for c in (*_LINE_COLUMNS, "project_id")))
_HEALTH_COLUMNS = (
    "connector", "stream", "last_run_id", "last_run_status", "last_run_finished_at",
    "last_stream_status", "last_stream_error", "last_success_at", "open_quarantine",
    "drift_checked_at", "count_drift", "amount_drift", "hours_drift", "budget_drift",
    "drifted_groups",
)  # fmt: skip
_v_health = table("v_sync_health", *(column(c) for c in _HEALTH_COLUMNS))


def _line(r: Sequence[Any]) -> VarianceLine:
    posted = r[8] if isinstance(r[8], date) else date.fromisoformat(str(r[8]))
    return VarianceLine(
        r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], posted, r[9],
        _opt_dec(r[10]), _opt_dec(r[11]), _opt_dec(r[12]), bool(r[13]), bool(r[14]),
        r[15], r[16],
    )  # fmt: skip


def variance_lines(
    session: Session, variance_ids: Sequence[int], project_id: int | None = None, limit: int = 200
) -> dict[int, list[VarianceLine]]:
    """The lines behind these variances (at most `limit` per variance, by posting date),
    filtered on the lines' project when given (the filter reaches the lines' index)."""
    if not variance_ids:
        return {}
    c = _v_lines.c
    q = (
        select(*(c[name] for name in _LINE_COLUMNS))
        .where(c.variance_id.in_(list(variance_ids)))
        .order_by(c.variance_id, c.posted_on, c.line_id)
    )
    if project_id is not None:
        q = q.where(c.project_id == project_id)
    out: dict[int, list[VarianceLine]] = {}
    for r in session.execute(q):
        lines = out.setdefault(r[0], [])
        if len(lines) < limit:
            lines.append(_line(r))
    return out


def sync_health(session: Session, connectors: Sequence[str] | None = None) -> list[SyncHealth]:
    """Rows of `v_sync_health` (of these connectors when given), by connector and stream."""
    c = _v_health.c
    q = select(*(c[name] for name in _HEALTH_COLUMNS)).order_by(c.connector, c.stream)
    if connectors is not None:
        if not connectors:
            return []
        q = q.where(c.connector.in_(list(connectors)))
    return [
        SyncHealth(
            r[0], r[1], r[2], r[3], _when(r[4]), r[5], r[6], _when(r[7]), int(r[8] or 0),
            _when(r[9]), None if r[10] is None else int(r[10]), _opt_dec(r[11]),
            _opt_dec(r[12]), _opt_dec(r[13]), None if r[14] is None else int(r[14]),
        )
        for r in session.execute(q)
    ]  # fmt: skip


def _when(value: Any) -> datetime | None:
    """A timestamp from a view: a datetime (PostgreSQL) or UTC text (SQLite)."""
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


# --- variances -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """One step of a variance's life as its page shows it: an event of `variance_event`
    (with the severity and status after it), the reopens older than the events (a count, no
    time), or when it was last seen."""

    what: str
    at: datetime | None
    by: str | None = None
    detail: str | None = None
    severity: str | None = None
    status: str | None = None
    reconstructed: bool = False


@dataclass(frozen=True)
class VarianceDetail(VarianceRow):
    """A variance as the API lists it, with its project's code, the lines behind it and its
    events."""

    project_code: str | None = None
    lines: list[VarianceLine] = field(default_factory=list)
    events: list[HistoryEntry] = field(default_factory=list)

    @property
    def history(self) -> list[HistoryEvent]:
        """Its events in time order (each reopen dated), with "last seen" among them; reopens
        from before the ledger kept events (migration 0015 could date none: the variance kept
        their count only) are one undated line at the end."""
        events = [
            HistoryEvent(e.event, e.at, e.acknowledged_by, e.note, e.severity, e.status,
                         e.reconstructed)
            for e in self.events
        ] or [HistoryEvent("opened", self.first_seen_at)]  # fmt: skip
        dated = sorted([*events, HistoryEvent("last seen", self.last_seen_at)],
                       key=lambda e: e.at or self.last_seen_at)  # fmt: skip
        untimed = self.reopened_count - sum(e.event == "reopened" for e in self.events)
        if untimed > 0:
            times = "once" if untimed == 1 else f"{untimed} times"
            detail = f"reopened {times} before the ledger kept a time for each"
            dated.append(HistoryEvent("reopened", None, None, detail))
        return dated


def variance_detail(session: Session, variance_id: int) -> VarianceDetail | None:
    """One variance with its project's code, its lines and its history; None when there is
    none."""
    v = session.get(Variance, variance_id)
    if v is None:
        return None
    code = None
    if v.project_id is not None:
        code = session.scalar(select(Project.code).where(Project.id == v.project_id))
    lines = variance_lines(session, [v.id]).get(v.id, [])
    row = {f.name: getattr(v, f.name) for f in fields(VarianceRow)}
    history = variance_history(session, v.id)
    events = history.events if history is not None else []
    return VarianceDetail(**row, project_code=code, lines=lines, events=events)


def variance_rules(session: Session) -> list[str]:
    """The rules that have variances, for the filter."""
    return list(session.scalars(select(Variance.rule).distinct().order_by(Variance.rule)))


# --- operations ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LastRun:
    id: int
    connector: str
    status: str
    trigger: str
    started_at: datetime
    finished_at: datetime | None
    message: str | None
    rows_read: int
    rows_written: int
    rows_quarantined: int


def last_runs(session: Session) -> dict[str, LastRun]:
    """Per connector its latest run with the rows summed over its streams."""
    latest = select(func.max(SyncRun.id).label("id")).group_by(SyncRun.connector).subquery("latest")
    s = SyncRunStream
    sums = (
        select(
            s.run_id,
            func.sum(s.rows_read).label("read"),
            func.sum(s.rows_written).label("written"),
            func.sum(s.rows_quarantined).label("quarantined"),
        )
        .group_by(s.run_id)
        .subquery("sums")
    )
    rows = session.execute(
        select(
            SyncRun.id, SyncRun.connector, SyncRun.status, SyncRun.trigger, SyncRun.started_at,
            SyncRun.finished_at, SyncRun.message, func.coalesce(sums.c.read, 0),
            func.coalesce(sums.c.written, 0), func.coalesce(sums.c.quarantined, 0),
        )
        .join(latest, latest.c.id == SyncRun.id)
        .outerjoin(sums, sums.c.run_id == SyncRun.id)
    )  # fmt: skip
    return {
        r[1]: LastRun(r[0], r[1], r[2], r[3], r[4], r[5], r[6], int(r[7]), int(r[8]), int(r[9]))
        for r in rows
    }


def open_quarantine_by_reason(session: Session) -> dict[str, dict[str, int]]:
    """Open quarantine entries per source and reason."""
    out: dict[str, dict[str, int]] = {}
    for source, reason, n in session.execute(
        select(Quarantine.source, Quarantine.reason, func.count())
        .where(Quarantine.status == "open")
        .group_by(Quarantine.source, Quarantine.reason)
        .order_by(Quarantine.source, Quarantine.reason)
    ):
        out.setdefault(source, {})[reason] = int(n)
    return out


__all__ = [
    "HistoryEvent",
    "Identity",
    "LastRun",
    "PeriodFigures",
    "PortfolioData",
    "PortfolioRow",
    "ProjectHead",
    "ProjectNames",
    "SyncHealth",
    "VarianceDetail",
    "VarianceLine",
    "by_period",
    "current_budgets",
    "evm_at",
    "identities",
    "last_runs",
    "last_synced",
    "open_quarantine_by_reason",
    "open_variances",
    "portfolio",
    "portfolio_version",
    "project_actual",
    "project_head",
    "sync_health",
    "variance_detail",
    "variance_lines",
    "variance_rules",
]
