"""`pmo-ledger plan PROJECT [PROJECT ...]`: the schedule of one project (or several, scheduled as
one network so that links between them are honoured) at a status date, from the ledger's
tasks, dependencies, progress and actuals: the CPM table, every critical path, the PERT
figures and, with `--simulate N`, the Monte Carlo risk figures (a progress bar on a terminal).

Planning (numpy, networkx) is imported inside the commands only, so `pmo-ledger --help` and
every other command start without it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy.orm import Session

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.cli.common import app_of, console, fail, ledger_reading, out, plural, table
from pmo_ledger.jobs.cli.format import line_fitted, show, wrapped
from pmo_ledger.ledger.time.dates import business_date

if TYPE_CHECKING:
    from pmo_ledger.ledger.planning.cpm import Schedule, ScheduledTask
    from pmo_ledger.ledger.planning.montecarlo import Simulation
    from pmo_ledger.ledger.planning.pert import Pert
    from pmo_ledger.ledger.queries.planning import PlanData


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Distribution(StrEnum):
    pert = "pert"
    triangular = "triangular"


COLUMNS = (
    "wbs",
    "key",
    "task",
    "state",
    "days",
    "%",
    "start",
    "finish",
    "late start",
    "late finish",
    "total float",
    "free float",
    "critical",
)
#: The table's headers (COLUMNS, short: 80 columns hold the task, its dates and float).
HEADERS = (*COLUMNS[:10], "float", "free", "crit")
DATE_HEADERS = ("start", "finish", "late start", "late finish")
#: Rows of the text histogram at most (days are grouped beyond).
HISTOGRAM_ROWS = 20
#: Monte Carlo iterations at most (8 bytes each, and the time).
MAX_ITERATIONS = 1_000_000


@dataclass
class Plan:
    """What `plan` and `chart` compute for a project at a status date."""

    data: PlanData
    schedule: Schedule
    pert: Pert
    simulation: Simulation | None = None
    #: Why the simulation asked for history runs without it.
    history_note: str | None = None


def check_iterations(n: int) -> None:
    """Exit 1 with one line when `--simulate N` asks for more than MAX_ITERATIONS."""
    if n > MAX_ITERATIONS:
        raise fail(f"--simulate: at most {MAX_ITERATIONS:,} iterations, got {n:,}")


def day_option(value: str | None, name: str) -> date | None:
    """A --date option as a date; exit 1 with one line when it is not one."""
    if value is None:
        return None
    try:
        return business_date(value)
    except ValueError as exc:
        raise fail(f"{name}: {exc}") from None


def build_plan(
    app: App,
    session: Session,
    codes: Sequence[str],
    status_date: date,
    *,
    simulate: int = 0,
    seed: int = 0,
    deadline: date | None = None,
    distribution: str | None = None,
    history: bool | None = None,
    source: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Plan:
    """Read the projects' tasks from the ledger and compute their schedule, PERT and (when
    `simulate` > 0) the simulation. Raises LookupError for an unknown project and
    PlanningError (a ValueError) for what cannot be scheduled; LookupError too when the
    projects have no tasks."""
    from pmo_ledger.ledger.planning.cpm import schedule
    from pmo_ledger.ledger.planning.history import history_scale
    from pmo_ledger.ledger.planning.model import PlanningError
    from pmo_ledger.ledger.planning.montecarlo import simulate as run_simulation
    from pmo_ledger.ledger.planning.pert import pert
    from pmo_ledger.ledger.queries.planning import history_levels, plan_data

    cfg = app.config.planning
    data = plan_data(
        session,
        codes,
        status_date,
        authority=app.settings.authority.projects,
        source=source or cfg.source,
    )
    if not data.tasks:
        raise LookupError(f"no tasks to schedule: {', '.join(codes)} has none in the ledger")
    calendars = {cfg.calendar_for(p.code) for p in data.projects}
    if len(calendars) > 1:
        raise PlanningError(
            f"{', '.join(p.code for p in data.projects)} have different calendars "
            "([planning.projects]): plan them one at a time"
        )
    calendar = calendars.pop()
    use_history = cfg.history if history is None else history
    sched = schedule(
        data.tasks,
        data.links,
        calendar,
        status_date=status_date,
        start=data.start,
        outside_projects=data.outside_projects,
    )
    result = Plan(data, sched, pert(sched.network))
    if simulate > 0:
        scale = None
        if use_history and len(data.projects) > 1:
            result.history_note = (
                "no history: a project's history scales only its own plan "
                f"({len(data.projects)} projects scheduled together)"
            )
        elif use_history:
            levels = history_levels(session, data.projects[0], status_date)
            scale = history_scale(levels, calendar, cfg.history_min_tasks)
            if scale is None:
                where = ", ".join(f"{lv.level} {lv.code}" for lv in levels)
                result.history_note = (
                    f"no history: fewer than {cfg.history_min_tasks} finished tasks in {where}"
                )
        result.simulation = run_simulation(
            sched.network,
            simulate,
            seed=seed,
            distribution=(distribution or cfg.distribution),  # type: ignore[arg-type]
            history=scale,
            deadline=deadline,
            progress=progress,
        )
    return result


@contextmanager
def simulation_progress(iterations: int) -> Iterator[Callable[[int], None] | None]:
    """A progress bar for the simulation on a terminal (nothing otherwise)."""
    c = console()
    if not c.is_terminal or iterations <= 0:
        yield None
        return
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=c,
        transient=True,
    ) as bar:
        task = bar.add_task("simulate", total=iterations)
        yield lambda done: bar.update(task, completed=done)


def plan(
    ctx: typer.Context,
    projects: Annotated[
        list[str], typer.Argument(metavar="PROJECT", help="Project code(s), scheduled together.")
    ],
    status_date: Annotated[
        str | None,
        typer.Option("--status-date", metavar="DATE", help="Progress as of this date (today)."),
    ] = None,
    deadline: Annotated[
        str | None,
        typer.Option("--deadline", metavar="DATE", help="The probability of finishing by it."),
    ] = None,
    simulate: Annotated[
        int,
        typer.Option(
            "--simulate", metavar="N", min=0, help="Monte Carlo iterations (at most 1,000,000)."
        ),
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", metavar="S", help="Monte Carlo seed.")] = 0,
    distribution: Annotated[
        Distribution | None,
        typer.Option("--distribution", help="Task durations (default: [planning] distribution)."),
    ] = None,
    history: Annotated[
        bool | None,
        typer.Option(
            "--history/--no-history",
            help="Scale durations by the ledger's actual/planned history ([planning] history).",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="SOURCE",
            help="Schedule this source's tasks (default: [planning] source, else the projects "
            "authority's, else the only source with tasks).",
        ),
    ] = None,
    confidence: Annotated[
        list[float] | None,
        typer.Option(
            "--confidence",
            metavar="P",
            help="Also the date finished by with confidence P (0 < P < 1), e.g. 0.9; repeatable.",
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """Print a project's schedule at a status date: early and late dates, floats, every
    critical path, PERT figures and, with --simulate N, the Monte Carlo risk figures."""
    app = app_of(ctx)
    day = day_option(status_date, "--status-date") or datetime.now(UTC).date()
    limit = day_option(deadline, "--deadline")
    check_iterations(simulate)
    levels = tuple(confidence or ())
    bad = [p for p in levels if not 0 < p < 1]
    if bad:
        raise fail(f"--confidence: a confidence is between 0 and 1 (exclusive), got {bad[0]:g}")
    if fmt is Format.csv:
        simulate = 0  # the CSV is the schedule table: nothing would show the simulation
    runs = simulate if fmt is Format.table else 0
    with ledger_reading(ctx) as session, simulation_progress(runs) as bar:
        result = build_plan(
            app,
            session,
            projects,
            day,
            simulate=simulate,
            seed=seed,
            deadline=limit,
            distribution=distribution.value if distribution else None,
            history=history,
            source=source,
            progress=bar,
        )
    if fmt is Format.json:
        out(json.dumps(plan_json(result, limit, levels), indent=2))
    elif fmt is Format.csv:
        out(schedule_csv(result.schedule).rstrip("\n"))
    else:
        print_plan(result, limit, levels)


# --- output ---------------------------------------------------------------------------------


def say(text: str) -> None:
    """One line of prose, wrapped at spaces within the width (a date is never split)."""
    out(line_fitted(text))


def _d(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def _row_cells(r: ScheduledTask) -> list[str]:
    return [
        r.wbs or "",
        r.key,
        "  " * r.level + r.name,
        r.state,
        str(r.duration),
        str(r.percent),
        _d(r.early_start),
        _d(r.early_finish),
        _d(r.late_start),
        _d(r.late_finish),
        "" if r.total_float is None else str(r.total_float),
        "" if r.free_float is None else str(r.free_float),
        "yes" if r.critical else "",
    ]


def schedule_csv(sched: Schedule) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow([c.replace(" ", "_").replace("%", "percent") for c in COLUMNS])
    for r in sched.rows:
        w.writerow([*_row_cells(r)[:2], r.name, *_row_cells(r)[3:]])
    return buf.getvalue()


def print_plan(result: Plan, deadline: date | None, levels: Sequence[float] = ()) -> None:
    sched, data = result.schedule, result.data
    names = ", ".join(f"{p.code} {p.name}" for p in data.projects)
    planned = [p.planned_finish for p in data.projects if p.planned_finish is not None]
    say(
        f"{names}: status date {_d(sched.status_date)}, start {_d(sched.start)}, "
        f"finish {_d(sched.finish)}" + (f" (planned {_d(max(planned))})" if planned else "")
    )
    t = table(None, *HEADERS, numeric=("days", "%", "float", "free"))
    for column in t.columns:
        if column.header in DATE_HEADERS:
            column.no_wrap = True
    for r in sched.rows:
        t.add_row(*_row_cells(r), style="bold" if r.summary else None)
    show(t, narrow_drops=("key", "late start", "late finish", "free", "state", "wbs"))
    labels = sched.network.label
    for i, path in enumerate(sched.critical_paths, 1):
        head = "critical path" if sched.critical_path_count == 1 else f"critical path {i}"
        out(wrapped(f"{head}: ", " -> ".join(labels(k) for k in path)))
    if sched.critical_path_count > len(sched.critical_paths):
        say(
            f"... {sched.critical_path_count} critical paths in all (the first "
            f"{len(sched.critical_paths)} shown)"
        )
    print_pert(result.pert, deadline, levels)
    if result.simulation is not None:
        print_simulation(result.simulation, deadline, levels)
        if result.history_note:
            say(result.history_note)
    for note in notes(result):
        say(note)


def _pct(q: float) -> str:
    """0.9 -> 'P90', 0.975 -> 'P97.5'."""
    return f"P{q * 100:g}"


def print_pert(p: Pert, deadline: date | None, levels: Sequence[float] = ()) -> None:
    from pmo_ledger.ledger.planning.pert import four

    line = (
        f"PERT: expected finish {_d(p.expected_finish)} ({four(p.mean)} working days, "
        f"sd {four(p.sd)}); 80% by {_d(p.finish_for(0.8))}, 95% by {_d(p.finish_for(0.95))}"
    )
    if deadline is not None:
        line += f"; P(finish by {_d(deadline)}) = {p.probability(deadline)}"
    say(line)
    if levels:
        say("PERT: " + ", ".join(f"{_pct(q)} by {_d(p.finish_for(q))}" for q in levels))
    if p.without_estimates:
        say(
            f"PERT: {plural(p.without_estimates, 'task')} without a three-point estimate "
            "counted with O = M = P"
        )


def print_simulation(sim: Simulation, deadline: date | None, levels: Sequence[float] = ()) -> None:
    head = f"Monte Carlo: {sim.iterations:,} iterations ({sim.distribution}, seed {sim.seed})"
    if sim.history is not None:
        h = sim.history
        head += (
            f", durations x the {h.level} {h.code}'s history ({len(h.ratios)} finished "
            f"tasks, mean actual/planned {h.mean:.2f})"
        )
    say(head)
    days = dict(sim.percentiles) | {q: sim.finish_for(q) for q in levels}
    pcts = ", ".join(f"{_pct(q)} {_d(d)}" for q, d in sorted(days.items()))
    line = f"  {pcts}; mean {sim.mean_days:.2f} working days, sd {sim.sd_days:.2f}"
    if deadline is not None:
        line += f"; P(finish by {_d(deadline)}) = {sim.probability(deadline):.1%}"
    say(line)
    t = table("Criticality index", "task", "critical in", numeric=("critical in",))
    label = sim.network.label
    for key, share in sorted(sim.criticality.items(), key=lambda kv: (-kv[1], kv[0])):
        if share > 0:
            t.add_row(label(key), f"{share:.1%}")
    if t.row_count:
        show(t)
    hist = sim.histogram()
    step = max(1, -(-len(hist) // HISTOGRAM_ROWS))
    rows = [(hist[i][0], sum(c for _, c in hist[i : i + step])) for i in range(0, len(hist), step)]
    peak = max(c for _, c in rows)
    say("Finish dates" + (f" ({step} working days a row)" if step > 1 else "") + ":")
    for day, count in rows:
        bar = "#" * max(1, round(40 * count / peak))
        out(f"  {_d(day)} {bar:<40} {count / sim.iterations:6.1%}")


def notes(result: Plan) -> list[str]:
    """What the operator should know: links not honoured, tasks without a duration."""
    sched = result.schedule
    lines = []
    skipped = [
        f"{code}: " + ", ".join(f"{src} {plural(n, 'task')}" for src, n in others.items())
        for code, others in result.data.not_scheduled.items()
        if others
    ]
    if skipped:
        lines.append(
            "not scheduled (other sources' copies): " + "; ".join(skipped) + " (see --source)"
        )
    for o in sched.outside:
        where = f" of project {o.project}" if o.project else ""
        lines.append(
            f"not honoured: {o.link.predecessor} {o.link.type} {o.link.successor}: "
            f"task {o.missing}{where} is not loaded (name its project too to schedule both)"
        )
    if sched.network.without_duration:
        keys = ", ".join(sched.network.without_duration[:10])
        more = len(sched.network.without_duration) - 10
        lines.append(
            f"no estimate or planned dates (0 days): {keys}"
            + (f" and {more} more" if more > 0 else "")
        )
    return lines


def plan_json(result: Plan, deadline: date | None, levels: Sequence[float] = ()) -> dict[str, Any]:
    from pmo_ledger.ledger.planning.pert import four

    sched, p, sim = result.schedule, result.pert, result.simulation
    rows: list[dict[str, Any]] = [
        dict(zip(("wbs", "key", "name"), (r.wbs, r.key, r.name), strict=True))
        | {
            "project": r.project,
            "level": r.level,
            "summary": r.summary,
            "milestone": r.milestone,
            "state": r.state,
            "duration_days": str(r.duration),
            "percent": str(r.percent),
            "early_start": _d(r.early_start),
            "early_finish": _d(r.early_finish),
            "late_start": _d(r.late_start) or None,
            "late_finish": _d(r.late_finish) or None,
            "total_float": None if r.total_float is None else str(r.total_float),
            "free_float": None if r.free_float is None else str(r.free_float),
            "critical": r.critical,
        }
        for r in sched.rows
    ]
    doc: dict[str, Any] = {
        "projects": [p.code for p in result.data.projects],
        "sources": result.data.sources,
        "not_scheduled": result.data.not_scheduled,
        "status_date": _d(sched.status_date),
        "start": _d(sched.start),
        "finish": _d(sched.finish),
        "tasks": rows,
        "critical_paths": sched.critical_paths,
        "critical_path_count": sched.critical_path_count,
        "pert": {
            "mean_days": str(four(p.mean)),
            "sd_days": str(four(p.sd)),
            "expected_finish": _d(p.expected_finish),
            "p80": _d(p.finish_for(0.8)),
            "p95": _d(p.finish_for(0.95)),
            "path": p.path,
            "probability": str(p.probability(deadline)) if deadline else None,
            "confidence": {f"{q:g}": _d(p.finish_for(q)) for q in levels},
            "tasks_without_estimates": p.without_estimates,
            "tasks": {
                k: {"expected_days": str(four(t.expected)), "sd_days": str(four(t.sd))}
                for k, t in p.tasks.items()
            },
        },
        "outside_links": [
            {
                "predecessor": o.link.predecessor,
                "successor": o.link.successor,
                "type": o.link.type,
                "missing": o.missing,
                "project": o.project,
            }
            for o in sched.outside
        ],
        "tasks_without_duration": sched.network.without_duration,
    }
    if sim is not None:
        doc["simulation"] = {
            "iterations": sim.iterations,
            "seed": sim.seed,
            "distribution": sim.distribution,
            "percentiles": {f"p{round(q * 100)}": _d(d) for q, d in sim.percentiles.items()},
            "mean_days": round(sim.mean_days, 4),
            "sd_days": round(sim.sd_days, 4),
            "probability": round(sim.probability(deadline), 4) if deadline else None,
            "confidence": {f"{q:g}": _d(sim.finish_for(q)) for q in levels},
            "criticality": {k: round(v, 4) for k, v in sim.criticality.items()},
            "histogram": [[_d(d), c] for d, c in sim.histogram()],
            "history_note": result.history_note,
            "history": None
            if sim.history is None
            else {
                "level": sim.history.level,
                "code": sim.history.code,
                "tasks": len(sim.history.ratios),
                "mean_ratio": round(sim.history.mean, 4),
            },
        }
    return doc
