"""What the Excel status workbook (`pmo-ledger report --format xlsx`) shows, read in one
session: per project its budget, actual, forecast and earned value at a status date, budget and
actual per fiscal period, the findings of the rules with their acknowledgement, resource hours
against capacity, and the ledger's data quality; live, or as known at a past time.

It reuses what reconciliation computes, through the same `RuleContext`: actuals are the
aggregates live (the entries when an aggregate is stale) and the entries recorded by T as
known at T; budgets the current versions' lines (`budget_source`); earned value `evm_rows`;
findings a read-only `reconcile` run. The ledger's own timestamps filter everything else as
known at T: projects created by then, quarantine entries open then, sync runs finished by then,
the latest control totals checked by then, variances acknowledged by then.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, column, func, or_, select, table, type_coerce
from sqlalchemy.orm import Session

from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.evm import Evm
from pmo_ledger.ledger.history import known
from pmo_ledger.ledger.models import (
    UNMAPPED_CODE,
    ActualLine,
    Allocation,
    BudgetVersion,
    ControlTotal,
    Portfolio,
    Program,
    Project,
    Quarantine,
    Resource,
    ResourceCapacity,
    SyncRun,
    Task,
    Variance,
    table_of,
)
from pmo_ledger.ledger.reconcile.budget_source import (
    current_versions,
    existing_versions,
    version_lines,
)
from pmo_ledger.ledger.reconcile.context import RuleContext, load_projects, period_of
from pmo_ledger.ledger.reconcile.evm_rules import evm_rows
from pmo_ledger.ledger.reconcile.findings import Finding
from pmo_ledger.ledger.reconcile.resource_rules import (
    _actual_hours_by_resource,
    _planned,
    known_plan,
)
from pmo_ledger.ledger.reconcile.settings import ReconcileRules
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.types import Hours, Money

if TYPE_CHECKING:
    from pmo_ledger.ledger.planning.cpm import Schedule
    from pmo_ledger.ledger.planning.model import PlanLink, PlanTask
    from pmo_ledger.ledger.planning.pert import Pert
    from pmo_ledger.ledger.planning.settings import PlanningSettings
    from pmo_ledger.ledger.queries.planning import PlanData

ZERO = Decimal(0)
#: The lines behind each variance (migration 0011's analyst view), for the findings' links.
_V_LINES = table("v_variance_lines", *(column(c) for c in ("variance_id", "line_id", "source_url")))
#: Variance ids per `IN (...)` when reading their lines.
_CHUNK = 500
#: Above this many findings the Variances sheet links each to its project's page in the source,
#: not to its lines' records: `v_variance_lines` evaluated per chunk of findings took minutes
#: on SQLite for 30,000 findings (bench/workbook.py), against the issue's 60 s for the book.
LINE_LINKS_MAX = 2_000
#: The columns `_projects` reads, in order (ProjectStatus's first fields).
HEAD = (
    "id", "code", "name", "portfolio", "portfolio_name", "program", "program_name", "manager",
    "planned_start", "planned_finish", "source_url",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ProjectStatus:
    """One project at the status date (money in the base currency, unrounded)."""

    id: int
    code: str
    name: str
    portfolio: str | None
    portfolio_name: str | None
    program: str | None
    program_name: str | None
    manager: str | None
    planned_start: date | None
    planned_finish: date | None
    source_url: str | None
    budget: Decimal  # the current budget, every period
    actual: Decimal  # counting cost through the status period (earned value's AC)
    forecast: Decimal | None  # the current forecast version, every period
    evm: Evm | None  # None: no baseline in force
    eac: Decimal | None
    open_by_severity: dict[str, int]


@dataclass(frozen=True, slots=True)
class OpenFinding:
    """A finding at the status date and what the ledger knew of its variance row then."""

    finding: Finding
    variance_id: int | None
    status: str  # open | acknowledged (by then)
    first_seen_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    note: str | None
    url: str | None  # the source record: its one line's, else the project's page (`_links`)


@dataclass(frozen=True, slots=True)
class ResourceRow:
    key: str  # source/external id
    name: str
    role: str | None
    #: period -> (capacity, actual hours, planned hours)
    periods: dict[str, tuple[Decimal, Decimal, Decimal]]


@dataclass(frozen=True, slots=True)
class SourceHealth:
    source: str
    last_success: datetime | None
    last_status: str | None
    open_quarantine: int


@dataclass(frozen=True, slots=True)
class Drift:
    """The latest control-total check of a stream by then: counts and amounts summed over its
    projects and currencies, source against ledger."""

    source: str
    stream: str
    checked_at: datetime
    source_count: int
    ledger_count: int
    source_amount: Decimal
    ledger_amount: Decimal
    groups_off: int


@dataclass
class StatusReport:
    as_known_at: datetime  # the time the figures are as of (now, live)
    historical: bool  # True: --as-known-at
    status_date: date
    period: str
    portfolio: str | None
    program: str | None
    projects: list[ProjectStatus]
    periods: list[str]
    #: (project id, period) -> (budget, actual)
    by_period: dict[tuple[int, str], tuple[Decimal, Decimal]]
    findings: list[OpenFinding]
    resources: list[ResourceRow]
    resource_periods: list[str]
    quarantine: list[tuple[str, str, int]]  # source, reason, open entries
    sources: list[SourceHealth]
    drift: list[Drift]
    notes: list[str] = field(default_factory=list)


def _projects(
    session: Session, at: datetime | None, portfolio: str | None, program: str | None
) -> list[Any]:
    """The projects (with their portfolio and program) as known at `at` (None: live)."""
    pf = known(table_of(Portfolio), at).c
    pg = known(table_of(Program), at).c
    p = known(table_of(Project), at).c
    if portfolio is not None and session.scalar(select(pf.id).where(pf.code == portfolio)) is None:
        raise LookupError(f"no portfolio {portfolio!r}")
    if program is not None and session.scalar(select(pg.id).where(pg.code == program)) is None:
        raise LookupError(f"no program {program!r}")
    q = (
        select(
            p.id,
            p.code,
            p.name,
            pf.code,
            pf.name,
            pg.code,
            pg.name,
            p.manager,
            p.planned_start,
            p.planned_finish,
            p.source_url,
        )
        .outerjoin(pf.id.table, pf.id == p.portfolio_id)
        .outerjoin(pg.id.table, pg.id == p.program_id)
        .where(p.merged_into_id.is_(None), p.code != UNMAPPED_CODE)
    )
    if at is None:
        q = q.where(p.deleted_at.is_(None))
    else:
        q = q.where(p.created_at <= at, or_(p.deleted_at.is_(None), p.deleted_at > at))
    if portfolio is not None:
        q = q.where(pf.code == portfolio)
    if program is not None:
        q = q.where(pg.code == program)
    return list(session.execute(q.order_by(pf.code, pg.code, p.code)))


def _by_period(ctx: RuleContext, ids: set[int]) -> dict[tuple[int, str], tuple[Decimal, Decimal]]:
    a = ctx.actuals().subquery("a")
    out: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for project_id, period, amount in ctx.session.execute(
        select(a.c.project_id, a.c.period, type_coerce(func.sum(a.c.base_amount), Money()))
        .where(a.c.counts_amount, a.c.kind == "cost")
        .group_by(a.c.project_id, a.c.period)
    ):
        if project_id in ids:
            out[(project_id, period)][1] += Decimal(amount or 0)
    lines = version_lines(ctx, current_versions(ctx)).subquery("cl")
    for project_id, period, amount in ctx.session.execute(
        select(
            lines.c.project_id, lines.c.period, type_coerce(func.sum(lines.c.amount), Money())
        ).group_by(lines.c.project_id, lines.c.period)
    ):
        if project_id in ids:
            out[(project_id, period)][0] += Decimal(amount or 0)
    return {k: (v[0], v[1]) for k, v in out.items()}


def _forecasts(ctx: RuleContext) -> dict[int, Decimal]:
    """The current (not superseded) forecast version's total per project."""
    bv = BudgetVersion.__table__
    at = ctx.as_known_at
    live: Any = bv.c.superseded_at.is_(None)
    if at is not None:
        live = or_(live, bv.c.superseded_at > at)
    versions = (
        select(bv.c.id).where(bv.c.kind == "forecast", live, *existing_versions(ctx)).subquery("fv")
    )
    lines = version_lines(ctx, versions).subquery("fl")
    return {
        r[0]: Decimal(r[1] or 0)
        for r in ctx.session.execute(
            select(lines.c.project_id, type_coerce(func.sum(lines.c.amount), Money())).group_by(
                lines.c.project_id
            )
        )
    }


def _findings(
    session: Session,
    settings: LedgerSettings,
    rules: ReconcileRules,
    *,
    now: datetime,
    day: date,
    at: datetime | None,
    urls: dict[str, str | None],
    scoped: bool,
) -> list[OpenFinding]:
    """The rules' findings at `day` as known at `at` (read-only), with their variance rows'
    acknowledgement as it stood then; `urls`: the selected projects' source URLs by code;
    scoped: only findings about the selected projects."""
    from pmo_ledger.ledger.reconcile.run import reconcile  # the rules: loaded when reported

    result = reconcile(
        session, settings, rules, now=now, status_date=day, as_known_at=at, write=False
    )
    found = [
        f
        for f in result.findings or []
        if not scoped or (f.subject_type == "project" and f.subject_id in urls)
    ]
    when = at or now
    v = Variance
    rows = {
        (r.rule, r.subject_type, r.subject_id, r.dimension, r.period): r
        for r in session.scalars(select(v).where(v.first_seen_at <= when))
    }
    ids = [r.id for f in found if (r := rows.get(f.key)) is not None]
    lines = _links(session, ids, at) if len(ids) <= LINE_LINKS_MAX else {}
    out = []
    for f in found:
        row = rows.get(f.key)
        project_url = urls.get(f.subject_id) if f.subject_type == "project" else None
        behind = lines.get(row.id, []) if row is not None else []
        url = behind[0] if len(behind) == 1 and behind[0] else project_url
        acked = (
            row is not None
            and row.acknowledged_at is not None
            and row.acknowledged_at <= when
            and not (
                row.escalated_at is not None and row.acknowledged_at < row.escalated_at <= when
            )
        )
        out.append(
            OpenFinding(
                finding=f,
                variance_id=row.id if row is not None else None,
                status="acknowledged" if acked else "open",
                first_seen_at=row.first_seen_at if row is not None else None,
                acknowledged_at=row.acknowledged_at if acked and row is not None else None,
                acknowledged_by=row.acknowledged_by if acked and row is not None else None,
                note=row.note if acked and row is not None else None,
                url=url or next((u for u in behind if u), None),
            )
        )
    return out


def _links(
    session: Session, variance_ids: list[int], at: datetime | None
) -> dict[int, list[str | None]]:
    """Per variance, the source URLs of the live lines behind it (`v_variance_lines`), in line
    order: a finding with one line links to that record in its source (a Salesforce timecard,
    a Workfront hour), one with many to the project's page there, else to its first line with
    a URL. As known at `at`: of those, the lines the ledger had by then (created by then; a
    line's URL is its record's address, which does not change)."""
    out: dict[int, list[str | None]] = defaultdict(list)
    v = _V_LINES.c
    al = table_of(ActualLine)
    then = [] if at is None else [v.line_id.in_(select(al.c.id).where(al.c.created_at <= at))]
    for i in range(0, len(variance_ids), _CHUNK):
        chunk = variance_ids[i : i + _CHUNK]
        query = select(v.variance_id, v.source_url).where(v.variance_id.in_(chunk), *then)
        for vid, url in session.execute(query.order_by(v.variance_id, v.line_id)):
            out[vid].append(url)
    return out


def _resources(
    ctx: RuleContext, ids: set[int], scoped: bool
) -> tuple[list[ResourceRow], list[str]]:
    """Capacity, actual and planned hours per resource and period: resources with capacity
    (scoped: those with hours or plans on the selected projects), their figures across all
    projects (a person's week is not split by portfolio)."""
    s = ctx.session
    cells: dict[int, dict[str, list[Decimal]]] = defaultdict(
        lambda: defaultdict(lambda: [ZERO, ZERO, ZERO])
    )
    cap = known_plan(ctx, table_of(ResourceCapacity))
    for rid, period, hours in s.execute(
        select(cap.resource_id, cap.period, type_coerce(func.sum(cap.hours), Hours())).group_by(
            cap.resource_id, cap.period
        )
    ):
        cells[rid][period][0] += Decimal(hours or 0)
    involved: set[int] = set()
    h = _actual_hours_by_resource(ctx).add_columns(_project_column(ctx)).subquery("h")
    for rid, period, project_id, hours in s.execute(
        select(
            h.c.resource_id, h.c.period, h.c.project_id, type_coerce(func.sum(h.c.hours), Hours())
        ).group_by(h.c.resource_id, h.c.period, h.c.project_id)
    ):
        cells[rid][period][1] += Decimal(hours or 0)
        if project_id in ids:
            involved.add(rid)
    al = known_plan(ctx, table_of(Allocation))
    for rid, period, project_id, hours in s.execute(
        select(al.resource_id, al.period, al.project_id,
               type_coerce(func.sum(al.planned_hours), Hours()))
        .where(*_planned(ctx, al), al.resource_id.is_not(None))
        .group_by(al.resource_id, al.period, al.project_id)
    ):  # fmt: skip
        cells[rid][period][2] += Decimal(hours or 0)
        if project_id in ids:
            involved.add(rid)
    keep = involved if scoped else set(cells)
    res = known_plan(ctx, table_of(Resource))
    names = {
        r.id: r
        for r in s.execute(
            select(res.id, res.source, res.external_id, res.name, res.role).where(
                res.deleted_at.is_(None)
            )
        )
        if r.id in keep
    }
    # The periods someone has capacity in (a plan beyond every calendar says nothing).
    periods = sorted({p for rid in names for p, v in cells[rid].items() if v[0]})
    rows = [
        ResourceRow(
            f"{r.source}/{r.external_id}",
            r.name,
            r.role,
            {p: (v[0], v[1], v[2]) for p, v in cells[r.id].items()},
        )
        for r in sorted(names.values(), key=lambda r: (r.name, r.source, r.external_id))
    ]
    return rows, periods


def _project_column(ctx: RuleContext) -> Any:
    """The project id column of `_actual_hours_by_resource`'s table (lines live, entries as
    known)."""
    from pmo_ledger.ledger.models import ActualLine, LedgerEntry

    table = ActualLine.__table__ if ctx.as_known_at is None else LedgerEntry.__table__
    return table.c.project_id


def _quality(
    session: Session, when: datetime, sources: list[str]
) -> tuple[list[tuple[str, str, int]], list[SourceHealth], list[Drift]]:
    q = Quarantine
    open_then = and_(
        q.first_seen_at <= when,
        or_(q.resolved_at.is_(None), q.resolved_at > when),
    )
    quarantine = [
        (src, reason, int(n))
        for src, reason, n in session.execute(
            select(q.source, q.reason, func.count())
            .where(open_then)
            .group_by(q.source, q.reason)
            .order_by(q.source, q.reason)
        )
    ]
    per_source: dict[str, int] = defaultdict(int)
    for src, _reason, n in quarantine:
        per_source[src] += n
    r = SyncRun
    done = and_(r.finished_at.is_not(None), r.finished_at <= when)
    last_ok: dict[str, datetime | None] = dict(
        session.execute(  # type: ignore[arg-type]
            select(r.connector, func.max(r.finished_at))
            .where(done, r.status == "succeeded")
            .group_by(r.connector)
        ).all()
    )
    latest = (
        select(r.connector, func.max(r.id).label("id")).where(done).group_by(r.connector)
    ).subquery("latest")
    last_status: dict[str, str] = dict(
        session.execute(select(r.connector, r.status).join(latest, latest.c.id == r.id)).all()  # type: ignore[arg-type]
    )
    names = sorted(set(sources) | set(last_ok) | set(last_status) | set(per_source))
    health = [
        SourceHealth(n, last_ok.get(n), last_status.get(n), per_source.get(n, 0)) for n in names
    ]
    ct = ControlTotal
    checks = (
        select(ct.source, ct.stream, func.max(ct.checked_at).label("at"))
        .where(ct.checked_at <= when)
        .group_by(ct.source, ct.stream)
    ).subquery("checks")
    rows = session.execute(
        select(ct.source, ct.stream, ct.checked_at, ct.source_count, ct.ledger_count,
               ct.source_amount, ct.ledger_amount, ct.source_budget, ct.ledger_budget)
        .join(checks, and_(checks.c.source == ct.source, checks.c.stream == ct.stream,
                           checks.c.at == ct.checked_at))
        .order_by(ct.source, ct.stream)
    )  # fmt: skip
    drift: dict[tuple[str, str], list[Any]] = {}
    for src, stream, at, sc, lc, sa, la, sb, lb in rows:
        d = drift.setdefault((src, stream), [at, 0, 0, ZERO, ZERO, 0])
        source_amount = Decimal(sa if sa is not None else sb or 0)
        ledger_amount = Decimal(la if la is not None else lb or 0)
        d[1] += sc
        d[2] += lc
        d[3] += source_amount
        d[4] += ledger_amount
        d[5] += int(sc != lc or source_amount != ledger_amount)
    return (
        quarantine,
        health,
        [Drift(s, st, *v) for (s, st), v in drift.items()],
    )


def status_report(
    session: Session,
    settings: LedgerSettings,
    rules: ReconcileRules,
    *,
    now: datetime,
    status_date: date | None = None,
    as_known_at: datetime | None = None,
    portfolio: str | None = None,
    program: str | None = None,
    sources: list[str] | None = None,
) -> StatusReport:
    """Everything the workbook shows (module docstring). `status_date` defaults to the date of
    `as_known_at`, else of `now`. Raises LookupError for an unknown portfolio or program, or a
    date the fiscal calendar has no period for; ValueError for an as-known-at in the future."""
    if as_known_at is not None and as_known_at > now:
        raise ValueError(f"--as-known-at {as_known_at.isoformat()} is in the future")
    when = as_known_at or now
    day = status_date or when.date()
    period, closed = period_of(session, settings.calendar, day)
    rows = _projects(session, as_known_at, portfolio, program)
    if (portfolio or program) and not rows:
        what = " and ".join(
            f"{k} {v!r}" for k, v in (("portfolio", portfolio), ("program", program)) if v
        )
        raise LookupError(f"no project in {what}")
    notes: list[str] = []
    known = as_known_at
    if known is None and aggregates.stale_sources(session):
        known = now  # stale aggregates: the entries are the truth
        notes.append("aggregates were stale: actuals read from the ledger's entries")
    ctx = RuleContext(
        session=session,
        settings=settings,
        rules=rules,
        status_date=day,
        period=period,
        last_closed=closed,
        as_known_at=known,
        project_id=None,
        projects=load_projects(session, None),
    )
    ids = {r[0] for r in rows}
    by_period = _by_period(ctx, ids)
    budget: dict[int, Decimal] = defaultdict(Decimal)
    actual: dict[int, Decimal] = defaultdict(Decimal)
    for (pid, p), (b, a) in by_period.items():
        budget[pid] += b
        if p <= period:
            actual[pid] += a
    forecasts = _forecasts(ctx)
    evms = evm_rows(ctx)
    method = rules.rule("forecast_overrun").eac
    by_code = {r[1]: r for r in rows}
    scoped = portfolio is not None or program is not None
    findings = _findings(
        session, settings, rules, now=now, day=day, at=as_known_at,
        urls={c: r[10] for c, r in by_code.items()}, scoped=scoped,
    )  # fmt: skip
    severities: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for f in findings:
        if f.finding.subject_type == "project":
            severities[f.finding.subject_id][f.finding.severity] += 1
    projects = [
        ProjectStatus(
            **dict(zip(HEAD, r, strict=True)),
            budget=budget.get(r[0], ZERO),
            actual=actual.get(r[0], ZERO),
            forecast=forecasts.get(r[0]),
            evm=evms.get(r[0]),
            eac=evms[r[0]].eac(method) if r[0] in evms else None,
            open_by_severity=dict(severities.get(r[1], {})),
        )
        for r in rows
    ]
    resources, resource_periods = _resources(ctx, ids, scoped)
    quarantine, health, drift = _quality(session, when, sources or [])
    return StatusReport(
        as_known_at=when,
        historical=as_known_at is not None,
        status_date=day,
        period=period,
        portfolio=portfolio,
        program=program,
        projects=projects,
        periods=sorted({p for (_pid, p) in by_period}),
        by_period=by_period,
        findings=findings,
        resources=resources,
        resource_periods=resource_periods,
        quarantine=quarantine,
        sources=health,
        drift=drift,
        notes=notes,
    )


@dataclass(frozen=True, slots=True)
class ProjectSchedule:
    """A project's CPM schedule and PERT figures at the status date; `deadline` is its
    planned finish (the probability of finishing by it)."""

    code: str
    name: str
    schedule: Schedule
    pert: Pert
    deadline: date | None


def project_schedules(
    session: Session,
    projects: list[ProjectStatus],
    status_date: date,
    planning: PlanningSettings,
    *,
    authority: str | None,
    as_known_at: datetime | None = None,
) -> tuple[list[ProjectSchedule], list[str]]:
    """The schedule of each project with tasks (one read of all their tasks and links, one
    network per project, as `pmo-ledger plan` computes it), and one note per project that could
    not be scheduled (a cycle, tasks from several sources and none chosen); the tasks and
    links as known at `as_known_at` (`ledger.history`)."""
    from pmo_ledger.ledger.planning.cpm import schedule
    from pmo_ledger.ledger.planning.model import PlanningError
    from pmo_ledger.ledger.planning.pert import pert
    from pmo_ledger.ledger.queries.planning import plan_data

    out: list[ProjectSchedule] = []
    notes: list[str] = []
    task = known(table_of(Task), as_known_at).c
    with_tasks = set(
        session.scalars(
            select(task.project_id)
            .where(task.project_id.in_([p.id for p in projects]), task.deleted_at.is_(None))
            .distinct()
        )
    )
    chosen = [p for p in projects if p.id in with_tasks]
    plans: dict[str, tuple[list[PlanTask], list[PlanLink], dict[str, str]]] = {}
    try:  # one read of every project's tasks, split per project below
        plans = _split(plan_data(session, [p.code for p in chosen], status_date,
                                 authority=authority, source=planning.source,
                                 as_known_at=as_known_at))  # fmt: skip
    except LookupError:
        pass  # a project with tasks from several sources: read one at a time, to name it
    for p in chosen:
        try:
            if p.code in plans:
                tasks, links, outside = plans[p.code]
            else:
                data = plan_data(session, [p.code], status_date, authority=authority,
                                 source=planning.source, as_known_at=as_known_at)  # fmt: skip
                tasks, links, outside = data.tasks, data.links, data.outside_projects
            sched = schedule(
                tasks,
                links,
                planning.calendar_for(p.code),
                status_date=status_date,
                start=p.planned_start,
                outside_projects=outside,
            )
        except (LookupError, PlanningError) as exc:
            notes.append(f"{p.code}: not scheduled: {exc}")
            continue
        out.append(ProjectSchedule(p.code, p.name, sched, pert(sched.network), p.planned_finish))
    return out, notes


def _split(data: PlanData) -> dict[str, tuple[list[PlanTask], list[PlanLink], dict[str, str]]]:
    """Per project code: its tasks, the links touching them and the project of each linked
    task outside it, as `plan_data` of that project alone gives them."""
    project_of = {t.key: t.project for t in data.tasks} | data.outside_projects
    out: dict[str, tuple[list[PlanTask], list[PlanLink], dict[str, str]]] = {
        code: ([], [], {}) for code in {t.project for t in data.tasks}
    }
    for t in data.tasks:
        out[t.project][0].append(t)
    for link in data.links:
        ends = (link.predecessor, link.successor)
        for code in {project_of.get(k) for k in ends}:
            if code in out:
                out[code][1].append(link)
                out[code][2].update(
                    {k: project_of[k] for k in ends if project_of.get(k, code) != code}
                )
    return out
