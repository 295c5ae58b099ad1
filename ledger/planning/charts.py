"""Charts with matplotlib's Agg canvas (no display, no pyplot state): the Gantt chart of a
schedule, the S-curve of a project's earned value and the histogram of a Monte Carlo run.
The file's suffix (.png or .svg) picks the format.

Gantt: one row per task in WBS order, leaves indented under their summaries (black brackets);
the scheduled bar (early dates; actual dates for work done) over a thin grey planned bar, the
part complete darker, critical tasks in `CRITICAL`, milestones as diamonds, dependency arrows
(from the predecessor's end of the link to the successor's), the status date as a dashed line.
Rows are a fixed height, so 200 or 500 tasks stay readable (the image grows taller).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from pmo_ledger.ledger.planning.model import EarnedValueCurve

if TYPE_CHECKING:
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pmo_ledger.ledger.planning.cpm import Schedule, ScheduledTask
    from pmo_ledger.ledger.planning.montecarlo import Simulation

#: The critical path's colour (and its part complete, darker).
CRITICAL, CRITICAL_DONE = "#d62728", "#8b1a1a"
NORMAL, NORMAL_DONE = "#1f77b4", "#0d3c61"
PLANNED = "#b0b0b0"
SUMMARY = "#222222"
STATUS = "#2ca02c"
DPI = 100
WIDTH_IN = 12.0
ROW_IN = 0.2  # inches per task row
FORMATS = (".png", ".svg")


def _num(day: date) -> float:
    """A date as matplotlib's day number."""
    import matplotlib.dates as mdates

    return float(mdates.date2num(day))  # type: ignore[no-untyped-call]


def _date_axis(ax: Axes) -> None:
    """Concise automatic date ticks on the x axis."""
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, out: Path) -> Path:
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"a chart is written as .png or .svg, not {out.name!r}")
    fig.savefig(out, dpi=DPI, format=out.suffix.lower()[1:])
    return out


def gantt_size(rows: int) -> tuple[float, float]:
    """The Gantt chart's size in inches for `rows` task rows."""
    return WIDTH_IN, max(3.0, 1.4 + ROW_IN * rows)


def _end(day: date) -> date:
    """A bar ending with `day` ends at the start of the next."""
    return day + timedelta(days=1)


def gantt(sched: Schedule, out: Path, *, title: str = "") -> Path:
    """Write the Gantt chart of a schedule to `out` (.png or .svg)."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    rows = sched.rows
    fig = _figure(*gantt_size(len(rows)))
    top, bottom = 0.95 / fig.get_figheight(), 0.55 / fig.get_figheight()
    ax = fig.add_axes((0.28, bottom, 0.70, 1 - top - bottom))
    y_of = {r.key: i for i, r in enumerate(rows)}
    num = _num
    for i, r in enumerate(rows):
        if r.planned_start and r.planned_finish and not r.summary:
            ax.barh(
                i + 0.28,
                num(_end(r.planned_finish)) - num(r.planned_start),
                left=num(r.planned_start),
                height=0.18,
                color=PLANNED,
                linewidth=0,
            )
        start, finish = num(r.early_start), num(_end(r.early_finish))
        if r.summary:
            _bracket(ax, i, start, finish)
        elif r.milestone:
            ax.plot(
                [finish],
                [i],
                marker="D",
                markersize=6,
                linestyle="none",
                color=CRITICAL if r.critical else SUMMARY,
            )
        else:
            colour, done = (CRITICAL, CRITICAL_DONE) if r.critical else (NORMAL, NORMAL_DONE)
            ax.barh(i, finish - start, left=start, height=0.5, color=colour, linewidth=0)
            share = float(r.percent) / 100
            if share > 0:
                ax.barh(
                    i, (finish - start) * share, left=start, height=0.2, color=done, linewidth=0
                )
    segments, heads = _arrows(sched, y_of, {r.key: r for r in rows})
    if segments:
        ax.add_collection(LineCollection(segments, colors="#555555", linewidths=0.6, zorder=1))
        ax.scatter(
            [h[0] for h in heads],
            [h[1] for h in heads],
            marker=">",
            s=9,
            color="#555555",
            zorder=2,
            linewidths=0,
        )
    if sched.status_date is not None:
        ax.axvline(num(_end(sched.status_date)), color=STATUS, linestyle="--", linewidth=1.2)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([_label(r) for r in rows], fontsize=7)
    for tick, r in zip(ax.get_yticklabels(), rows, strict=True):
        if r.summary:
            tick.set_fontweight("bold")
    ax.set_ylim(len(rows) - 0.4, -0.6)
    _date_axis(ax)
    ax.tick_params(axis="x", labelsize=7, labeltop=True, top=True)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    legend: list[Artist] = [
        Patch(color=CRITICAL, label="critical"),
        Patch(color=NORMAL, label="not critical"),
        Patch(color=PLANNED, label="planned"),
        Patch(color=NORMAL_DONE, label="% complete"),
    ]
    if sched.status_date is not None:
        legend.append(Line2D([], [], color=STATUS, linestyle="--", label="status date"))
    fig.legend(
        handles=legend,
        loc="upper right",
        ncol=5,
        fontsize=7,
        frameon=False,
        bbox_to_anchor=(0.99, 1 - 0.08 / fig.get_figheight()),
    )
    fig.suptitle(
        title or f"Schedule: finish {sched.finish.isoformat()}",
        fontsize=10,
        x=0.02,
        y=1 - 0.15 / fig.get_figheight(),
        ha="left",
        va="top",
    )
    return _save(fig, out)


def _label(r: ScheduledTask) -> str:
    text = f"{r.wbs} {r.name}" if r.wbs else r.name
    text = text if len(text) <= 42 else text[:41] + "…"
    return "   " * r.level + text


def _bracket(ax: Axes, y: float, start: float, finish: float) -> None:
    ax.barh(y - 0.05, finish - start, left=start, height=0.14, color=SUMMARY, linewidth=0)
    for x in (start, finish):
        ax.plot([x, x], [y - 0.12, y + 0.22], color=SUMMARY, linewidth=1.5)


def _arrows(
    sched: Schedule, y_of: dict[str, int], rows: dict[str, ScheduledTask]
) -> tuple[list[list[tuple[float, float]]], list[tuple[float, float]]]:
    """Elbow connectors from the predecessor's end of each link to the successor's end."""

    num = _num
    segments: list[list[tuple[float, float]]] = []
    heads: list[tuple[float, float]] = []
    for pred, succ, kind in sched.links:
        p, s = rows.get(pred), rows.get(succ)
        if p is None or s is None:
            continue
        x0 = num(_end(p.early_finish)) if kind in ("FS", "FF") else num(p.early_start)
        x1 = num(s.early_start) if kind in ("FS", "SS") else num(_end(s.early_finish))
        y0, y1 = y_of[pred], y_of[succ]
        segments.append([(x0, y0), (x0, y1), (x1, y1)])
        heads.append((x1, y1))
    return segments, heads


def scurve(curve: EarnedValueCurve, out: Path) -> Path:
    """Write the S-curve (cumulative PV, EV and AC by fiscal period, BAC and EAC) to `out`."""
    fig = _figure(10, 5.5)
    ax = fig.add_subplot()
    x = [_num(p.end_on) for p in curve.periods]
    ax.plot(
        x,
        [float(p.pv) for p in curve.periods],
        color=NORMAL,
        linestyle="--",
        marker="o",
        markersize=3,
        label="PV (planned value)",
    )
    past = [p for p in curve.periods if p.ev is not None]
    ax.plot(
        [_num(p.end_on) for p in past],
        [float(p.ev or 0) for p in past],
        color=STATUS,
        marker="o",
        markersize=3,
        label="EV (earned value)",
    )
    ax.plot(
        [_num(p.end_on) for p in past],
        [float(p.ac or 0) for p in past],
        color=CRITICAL,
        marker="o",
        markersize=3,
        label="AC (actual cost)",
    )
    ax.axhline(float(curve.bac), color=SUMMARY, linewidth=1, label=f"BAC {curve.bac:,.2f}")
    if curve.eac is not None:
        ax.axhline(
            float(curve.eac),
            color="#ff7f0e",
            linestyle=":",
            linewidth=1.5,
            label=f"EAC {curve.eac:,.2f} ({curve.eac_method})",
        )
    ax.axvline(_num(curve.status_date), color=STATUS, linestyle="--", linewidth=1)
    ax.set_xticks(x)
    ax.set_xticklabels([p.period for p in curve.periods], rotation=45, ha="right", fontsize=7)
    ax.yaxis.set_major_formatter("{x:,.0f}")
    ax.grid(color="#e5e5e5", linewidth=0.6)
    ax.legend(fontsize=8, loc="upper left")
    ax.set_title(
        f"{curve.project}: earned value by fiscal period, status {curve.status_date}", fontsize=10
    )
    fig.tight_layout()
    return _save(fig, out)


def risk(sim: Simulation, out: Path, *, deadline: date | None = None, title: str = "") -> Path:
    """Write the Monte Carlo histogram of finish dates with P50/P80/P95 and the deadline."""

    fig = _figure(10, 5.5)
    ax = fig.add_subplot()
    hist = sim.histogram()
    share = [c / sim.iterations * 100 for _, c in hist]
    ax.bar(
        [_num(d) for d, _ in hist],
        share,
        width=0.8,
        color=NORMAL,
        label=f"{sim.iterations:,} iterations ({sim.distribution})",
    )
    styles: Sequence[tuple[float, str]] = ((0.5, "#555555"), (0.8, "#ff7f0e"), (0.95, "#9467bd"))
    for q, colour in styles:
        day = sim.percentiles[q]
        ax.axvline(
            _num(day),
            color=colour,
            linestyle="--",
            linewidth=1.3,
            label=f"P{round(q * 100)} {day.isoformat()}",
        )
    deadline = deadline or sim.deadline
    if deadline is not None:
        chance = sim.probability(deadline)
        ax.axvline(
            _num(deadline),
            color=CRITICAL,
            linewidth=2,
            label=f"deadline {deadline.isoformat()}: {chance:.0%} likely",
        )
    _date_axis(ax)
    ax.set_ylabel("% of iterations finishing that day")
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.legend(fontsize=8, loc="upper right")
    ax.set_title(title or "Schedule risk: simulated finish dates", fontsize=10)
    fig.tight_layout()
    return _save(fig, out)
