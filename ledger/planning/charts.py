"""Charts with matplotlib's Agg canvas (no display, no pyplot state): the Gantt chart of a
schedule, the S-curve of a project's earned value and the histogram of a Monte Carlo run.
The file's suffix (.png or .svg) picks the format.

Gantt: one row per task in WBS order, names left-aligned and indented by WBS level under their
summaries (black brackets); the scheduled bar (early dates; actual dates for work done) over a
thin grey planned bar, the part complete darker, critical tasks in `CRITICAL`, milestones as
diamonds (a task with no duration at all as a hollow circle), dependency arrows behind the bars
(from the predecessor's end of the link to the successor's, heads along the last segment), the
status date as a dashed line. Rows are a fixed height, so 200 or 500 tasks stay readable (the
image grows taller, the dates repeat every DATE_EVERY rows, and past ALL_LINKS_UP_TO rows only
links between critical tasks are drawn).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
EARNED = "#17becf"
ARROW = "#555555"
UNDATED = "#8c564b"
DPI = 100
WIDTH_IN = 12.0
#: The plot's left edge and width (figure fractions); task names left of it.
AXES_LEFT, AXES_WIDTH = 0.28, 0.70
#: Task names start here (figure fraction), indented by LEVEL_INDENT per WBS level.
LABEL_LEFT, LEVEL_INDENT = 0.008, 0.012
LABEL_CHARS = 52
#: Arrowhead length, and the gap kept before a milestone's diamond (pixels).
ARROW_PX, MILESTONE_PX = 7.0, 5.0
#: Half a task bar's height (pixels): vertical arrows stop on its edge.
BAR_HALF_PX = 5.5
MILESTONE_SIZE = 36
#: Every link is drawn up to this many rows; beyond, only links between critical tasks.
ALL_LINKS_UP_TO = 150
#: The date labels are repeated every this many rows.
DATE_EVERY = 50
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
    """Write the Gantt chart of a schedule to `out` (.png or .svg). Bars, brackets, arrows and
    milestones are drawn as one collection each and the task names as plain texts, so 500
    tasks render in a few seconds (a bar or a tick object per row took several times longer)."""
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    rows = sched.rows
    fig = _figure(*gantt_size(len(rows)))
    top, bottom = 0.95 / fig.get_figheight(), 0.55 / fig.get_figheight()
    ax = fig.add_axes((AXES_LEFT, bottom, AXES_WIDTH, 1 - top - bottom))
    y_of = {r.key: i for i, r in enumerate(rows)}
    boxes: list[tuple[float, float, float, float, str]] = []  # x0, x1, y centre, height, colour
    brackets: list[list[tuple[float, float]]] = []
    milestones: list[tuple[float, float, str]] = []
    undated: list[tuple[float, float]] = []
    no_duration = set(sched.network.without_duration)
    for i, r in enumerate(rows):
        if r.planned_start and r.planned_finish and not r.summary:
            boxes.append((_num(r.planned_start), _num(_end(r.planned_finish)), i + 0.28, 0.18,
                          PLANNED))  # fmt: skip
        start, finish = _num(r.early_start), _num(_end(r.early_finish))
        if r.summary:
            boxes.append((start, finish, i - 0.05, 0.14, SUMMARY))
            brackets += [[(x, i - 0.12), (x, i + 0.22)] for x in (start, finish)]
        elif r.key in no_duration:
            undated.append((finish, i))
        elif r.milestone:
            milestones.append((finish, i, CRITICAL if r.critical else SUMMARY))
        else:
            colour, done = (CRITICAL, CRITICAL_DONE) if r.critical else (NORMAL, NORMAL_DONE)
            boxes.append((start, finish, i, 0.5, colour))
            share = float(r.percent) / 100
            if share > 0:
                boxes.append((start, start + (finish - start) * share, i, 0.2, done))
    ax.add_collection(_rectangles(boxes))
    if brackets:
        ax.add_collection(LineCollection(brackets, colors=SUMMARY, linewidths=1.5, zorder=3))
    if milestones:
        ax.scatter([m[0] for m in milestones], [m[1] for m in milestones], marker="D",
                   s=MILESTONE_SIZE, c=[m[2] for m in milestones], zorder=4,
                   linewidths=0)  # fmt: skip
    if undated:
        ax.scatter([u[0] for u in undated], [u[1] for u in undated], marker="o", s=28,
                   facecolors="white", edgecolors=UNDATED, linewidths=1.2,
                   zorder=4)  # fmt: skip
    xs = [b[0] for b in boxes] + [b[1] for b in boxes] + [m[0] for m in milestones]
    xs += [u[0] for u in undated]
    if sched.status_date is not None:
        xs.append(_num(_end(sched.status_date)))
        ax.axvline(xs[-1], color=STATUS, linestyle="--", linewidth=1.2, zorder=5)
    low, high = (min(xs), max(xs)) if xs else (_num(sched.start), _num(sched.start) + 1)
    pad = max(1.0, (high - low) * 0.01)
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(len(rows) - 0.4, -0.6)
    # Data units per pixel: arrowheads are a fixed size on screen.
    x_px = (high - low + 2 * pad) / (AXES_WIDTH * fig.get_figwidth() * DPI)
    y_px = 1 / (ROW_IN * DPI)
    segments, heads = _arrows(sched, y_of, {r.key: r for r in rows}, x_px, y_px)
    if segments:
        thin = 0.5 if len(rows) > ALL_LINKS_UP_TO else 0.8
        ax.add_collection(LineCollection(segments, colors=ARROW, linewidths=thin, zorder=1))
        from matplotlib.collections import PolyCollection

        ax.add_collection(PolyCollection(heads, facecolors=ARROW, linewidths=0, zorder=4))
    ax.set_yticks([])
    names = blended_transform_factory(fig.transFigure, ax.transData)
    for i, r in enumerate(rows):
        ax.text(LABEL_LEFT + LEVEL_INDENT * r.level, i, _label(r), transform=names, ha="left",
                va="center", fontsize=7,
                fontweight="bold" if r.summary else "normal")  # fmt: skip
    _date_axis(ax)
    ax.tick_params(axis="x", labelsize=7, labeltop=True, top=True)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    _repeat_dates(ax, len(rows))
    legend: list[Artist] = [
        Patch(color=CRITICAL, label="critical"),
        Patch(color=NORMAL, label="not critical"),
        Patch(color=PLANNED, label="planned"),
        Patch(color=NORMAL_DONE, label="% complete"),
        Line2D([], [], color=SUMMARY, marker="D", linestyle="", markersize=5, label="milestone"),
    ]
    if undated:
        legend.append(
            Line2D(
                [],
                [],
                color=UNDATED,
                marker="o",
                markerfacecolor="white",
                linestyle="",
                markersize=5,
                label="no estimate or dates",
            )
        )
    if sched.status_date is not None:
        legend.append(Line2D([], [], color=STATUS, linestyle="--", label="status date"))
    if len(rows) > ALL_LINKS_UP_TO:
        legend.append(Line2D([], [], color=ARROW, linewidth=0.5, label="critical links only"))
    fig.legend(handles=legend, loc="upper right", ncol=len(legend), fontsize=7, frameon=False,
               bbox_to_anchor=(0.99, 1 - 0.08 / fig.get_figheight()))  # fmt: skip
    fig.suptitle(title or f"Schedule: finish {sched.finish.isoformat()}", fontsize=10, x=0.02,
                 y=1 - 0.15 / fig.get_figheight(), ha="left", va="top")  # fmt: skip
    return _save(fig, out)


def _repeat_dates(ax: Axes, rows: int) -> None:
    """The date labels again every DATE_EVERY rows (between the top and bottom axes), on a
    white band, so a row of a long chart is never far from its dates."""
    import matplotlib.dates as mdates

    if rows <= DATE_EVERY:
        return
    low, high = ax.get_xlim()
    ticks = [t for t in ax.xaxis.get_major_locator()() if low <= t <= high]
    for k in range(DATE_EVERY, rows - DATE_EVERY // 5, DATE_EVERY):
        ax.axhline(k - 0.5, color="#cccccc", linewidth=0.6, zorder=1)
        for t in ticks:
            day = mdates.num2date(t).date()  # type: ignore[no-untyped-call]
            ax.text(t, k - 0.5, day.isoformat(), ha="center", va="center", fontsize=6,
                    color="#444444", zorder=6, clip_on=True,
                    bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5})  # fmt: skip


def _rectangles(boxes: list[tuple[float, float, float, float, str]]) -> Any:
    """One collection of filled rectangles (x0, x1, y centre, height, colour), in order."""
    from matplotlib.collections import PolyCollection

    verts = [
        [(x0, y - h / 2), (x0, y + h / 2), (x1, y + h / 2), (x1, y - h / 2)]
        for x0, x1, y, h, _ in boxes
    ]
    return PolyCollection(verts, facecolors=[b[4] for b in boxes], linewidths=0, zorder=2)


def _label(r: ScheduledTask) -> str:
    text = f"{r.wbs} {r.name}" if r.wbs else r.name
    width = LABEL_CHARS - 3 * r.level
    return text if len(text) <= width else text[: width - 1] + "…"


def _link_x(r: ScheduledTask, at_finish: bool) -> float:
    """Where a link meets a task: a milestone's diamond, else its bar's start or end."""
    if r.milestone:
        return _num(_end(r.early_finish))
    return _num(_end(r.early_finish)) if at_finish else _num(r.early_start)


Point = tuple[float, float]


def _arrows(
    sched: Schedule, y_of: dict[str, int], rows: dict[str, ScheduledTask], x_px: float, y_px: float
) -> tuple[list[list[Point]], list[list[Point]]]:
    """Elbow connectors from the predecessor's end of each link to the successor's end, and
    their heads (triangles of ARROW_PX pixels) along the last segment: horizontal into the
    bar's end, or vertical onto its edge when the two ends share an x. Past ALL_LINKS_UP_TO
    rows, only the links between critical tasks."""
    few = len(y_of) <= ALL_LINKS_UP_TO
    segments: list[list[Point]] = []
    heads: list[list[Point]] = []
    length, half = ARROW_PX, ARROW_PX / 2.2
    for pred, succ, kind in sched.links:
        p, s = rows.get(pred), rows.get(succ)
        if p is None or s is None or not (few or (p.critical and s.critical)):
            continue
        x0 = _link_x(p, kind in ("FS", "FF"))
        x1 = _link_x(s, kind in ("FF", "SF"))
        y0, y1 = y_of[pred], y_of[succ]
        gap = MILESTONE_PX if s.milestone else 0.0
        if abs(x1 - x0) < length * x_px and y0 != y1:
            # Straight down (or up) onto the bar's edge, or the diamond's tip.
            down = 1.0 if y1 > y0 else -1.0
            edge = y1 - down * ((gap or BAR_HALF_PX) * y_px)
            segments.append([(x0, y0), (x1, edge)])
            tip, base = (x1, edge), edge - down * length * y_px
            heads.append([tip, (x1 - half * x_px, base), (x1 + half * x_px, base)])
            continue
        right = 1.0 if x1 >= x0 else -1.0
        tip_x = x1 - right * gap * x_px
        segments.append([(x0, y0), (x0, y1), (tip_x, y1)])
        base = tip_x - right * length * x_px
        heads.append([(tip_x, y1), (base, y1 - half * y_px), (base, y1 + half * y_px)])
    return segments, heads


def scurve_series(
    curve: EarnedValueCurve,
) -> list[tuple[list[float], list[float], str, str, str]]:
    """(x day numbers, values, colour, line style, label) of PV, EV and AC: PV at each
    period's end, EV and AC on the day they were measured (the status date in its period)."""
    past = [p for p in curve.periods if p.ev is not None]
    return [
        (
            [_num(p.end_on) for p in curve.periods],
            [float(p.pv) for p in curve.periods],
            NORMAL,
            "--",
            "PV (planned value)",
        ),
        (
            [_num(p.as_of) for p in past],
            [float(p.ev or 0) for p in past],
            EARNED,
            "-",
            "EV (earned value)",
        ),
        (
            [_num(p.as_of) for p in past],
            [float(p.ac or 0) for p in past],
            CRITICAL,
            "-",
            "AC (actual cost)",
        ),
    ]


def scurve(curve: EarnedValueCurve, out: Path) -> Path:
    """Write the S-curve (cumulative PV, EV and AC by fiscal period, BAC and EAC) to `out`;
    the legend sits right of the plot, clear of the lines; the y axis names the currency."""
    fig = _figure(10, 5.5)
    ax = fig.add_axes((0.13, 0.16, 0.62, 0.76))
    for xs, ys, colour, style, label in scurve_series(curve):
        ax.plot(xs, ys, color=colour, linestyle=style, marker="o", markersize=3, label=label)
    money = f"{{:,.2f}} {curve.currency}".rstrip()
    ax.axhline(float(curve.bac), color=SUMMARY, linewidth=1, label=f"BAC {money.format(curve.bac)}")
    if curve.eac is not None:
        ax.axhline(
            float(curve.eac),
            color="#ff7f0e",
            linestyle=":",
            linewidth=1.5,
            label=f"EAC {money.format(curve.eac)} ({curve.eac_method})",
        )
    ax.axvline(
        _num(curve.status_date),
        color=STATUS,
        linestyle="--",
        linewidth=1,
        label=f"status date {curve.status_date.isoformat()}",
    )
    x = [_num(p.end_on) for p in curve.periods]
    ax.set_xticks(x)
    ax.set_xticklabels([p.period for p in curve.periods], rotation=45, ha="right", fontsize=7)
    ax.yaxis.set_major_formatter("{x:,.0f}")
    ax.set_ylabel(f"cumulative, {curve.currency}" if curve.currency else "cumulative")
    ax.grid(color="#e5e5e5", linewidth=0.6)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    ax.set_title(
        f"{curve.project}: earned value by fiscal period, status {curve.status_date}", fontsize=10
    )
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
