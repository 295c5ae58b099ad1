"""`pmo-ledger chart gantt|scurve|risk PROJECT --out FILE.png|.svg`: the Gantt chart of the
schedule, the S-curve of earned value by fiscal period, or the Monte Carlo histogram, drawn
with matplotlib's Agg canvas (no display needed). Planning and matplotlib are imported inside
the command only."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from pmo_ledger.jobs.cli.common import app_of, fail, ledger_reading, out
from pmo_ledger.jobs.cli.plan import (
    build_plan,
    check_iterations,
    day_option,
    simulation_progress,
)


class Kind(StrEnum):
    gantt = "gantt"
    scurve = "scurve"
    risk = "risk"


def chart(
    ctx: typer.Context,
    kind: Annotated[Kind, typer.Argument(metavar="KIND", help="gantt, scurve or risk.")],
    project: Annotated[str, typer.Argument(metavar="PROJECT", help="Project code.")],
    out_file: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="FILE.png or FILE.svg.", dir_okay=False)
    ],
    status_date: Annotated[
        str | None,
        typer.Option("--status-date", metavar="DATE", help="Progress as of this date (today)."),
    ] = None,
    deadline: Annotated[
        str | None, typer.Option("--deadline", metavar="DATE", help="Risk: the deadline line.")
    ] = None,
    simulate: Annotated[
        int,
        typer.Option(
            "--simulate", metavar="N", min=1, help="Risk: iterations (at most 1,000,000)."
        ),
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", metavar="S", help="Risk: the seed.")] = 0,
    source: Annotated[
        str | None,
        typer.Option("--source", metavar="SOURCE", help="Schedule this source's tasks."),
    ] = None,
) -> None:
    """Draw a chart of a project: its Gantt chart, its earned value S-curve or its schedule
    risk histogram."""
    app = app_of(ctx)
    if out_file.suffix.lower() not in (".png", ".svg"):
        raise fail(f"--out: a chart is written as .png or .svg, not {out_file.name!r}")
    day = day_option(status_date, "--status-date") or datetime.now(UTC).date()
    limit = day_option(deadline, "--deadline")
    check_iterations(simulate)
    from pmo_ledger.ledger.planning import charts

    with ledger_reading(ctx) as session:
        if kind is Kind.scurve:
            from pmo_ledger.ledger.queries.planning import earned_value_curve, plan_project

            curve = earned_value_curve(
                session, app.settings, app.config.reconcile, plan_project(session, project), day
            )
            charts.scurve(curve, out_file)
            out(f"S-curve of {project} ({len(curve.periods)} periods) written to {out_file}")
            return
        runs = simulate if kind is Kind.risk else 0
        with simulation_progress(runs) as bar:
            result = build_plan(
                app,
                session,
                [project],
                day,
                simulate=runs,
                seed=seed,
                deadline=limit,
                source=source,
                progress=bar,
            )
        if kind is Kind.gantt:
            name = result.data.projects[0].name
            charts.gantt(
                result.schedule,
                out_file,
                title=f"{project} {name}: status {day}, finish {result.schedule.finish}",
            )
            rows = len(result.schedule.rows)
            out(f"Gantt chart of {project} ({rows} tasks) written to {out_file}")
        else:
            assert result.simulation is not None
            charts.risk(
                result.simulation,
                out_file,
                deadline=limit,
                title=f"{project}: simulated finish dates at status {day}",
            )
            out(f"risk chart of {project} ({runs:,} iterations) written to {out_file}")
