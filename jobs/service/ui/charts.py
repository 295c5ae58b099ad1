"""Server-rendered SVG charts of the project page, as geometry the templates draw: the S-curve
(cumulative PV, EV and AC by fiscal period, with BAC and EAC) and the Gantt chart (bars by early
dates, the critical ones marked, the status-date line). Plain numbers only: the templates draw
them with presentation attributes and CSS classes (the CSP allows no inline style)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from pmo_ledger.ledger.planning.cpm import Schedule
from pmo_ledger.ledger.planning.model import EarnedValueCurve

WIDTH = 760
PLOT_LEFT = 90
PLOT_RIGHT = 30
PLOT_TOP = 20
PLOT_BOTTOM = 40


@dataclass
class Series:
    name: str
    css: str
    points: str  # "x,y x,y ..." for <polyline points>
    last: tuple[float, float] | None


@dataclass
class Tick:
    at: float
    label: str


@dataclass
class SCurve:
    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    bac_y: float | None
    eac_y: float | None
    status_x: float | None
    summary: str


def _nice_step(top: Decimal) -> Decimal:
    """A round step giving about five gridlines up to `top`."""
    if top <= 0:
        return Decimal(1)
    raw = top / 5
    magnitude = Decimal(10) ** (len(str(int(raw))) - 1) if raw >= 1 else Decimal(1)
    for m in (1, 2, 5, 10):
        step = magnitude * m
        if step >= raw:
            return step
    return magnitude * 10


def _short(amount: Decimal) -> str:
    a = abs(amount)
    sign = "-" if amount < 0 else ""
    if a >= 1_000_000:
        return f"{sign}{a / 1_000_000:.1f}M"
    if a >= 1_000:
        return f"{sign}{a / 1_000:.0f}k"
    return f"{sign}{a:.0f}"


def scurve(curve: EarnedValueCurve, height: int = 300) -> SCurve:
    """The S-curve's geometry."""
    periods = curve.periods
    values = [curve.bac] + ([curve.eac] if curve.eac is not None else [])
    for p in periods:
        values += [v for v in (p.pv, p.ev, p.ac) if v is not None]
    top = max([v for v in values if v is not None] + [Decimal(1)])
    step = _nice_step(top)
    ymax = step * ((top / step).to_integral_value(rounding="ROUND_CEILING"))
    plot_w = WIDTH - PLOT_LEFT - PLOT_RIGHT
    plot_h = height - PLOT_TOP - PLOT_BOTTOM
    n = max(len(periods) - 1, 1)

    def x(i: int) -> float:
        return round(PLOT_LEFT + plot_w * i / n, 1)

    def y(v: Decimal) -> float:
        return round(PLOT_TOP + plot_h - float(v / ymax) * plot_h, 1)

    series = []
    for name, css, attr in (("PV", "pv", "pv"), ("EV", "ev", "ev"), ("AC", "ac", "ac")):
        pts = [(x(i), y(v)) for i, p in enumerate(periods) if (v := getattr(p, attr)) is not None]
        series.append(
            Series(name, css, " ".join(f"{a},{b}" for a, b in pts), pts[-1] if pts else None)
        )
    every = max(1, len(periods) // 8)
    x_ticks = [Tick(x(i), p.period) for i, p in enumerate(periods) if i % every == 0]
    y_ticks = [Tick(y(step * k), _short(step * k)) for k in range(int(ymax / step) + 1)]
    status_x = None
    for i, p in enumerate(periods):
        if p.measured_on is not None and p.measured_on < p.end_on:
            status_x = x(i)
    summary = (
        f"Cumulative PV, EV and AC of {curve.project} by fiscal period to {ymax} "
        f"{curve.currency}; status date {curve.status_date}."
    )
    return SCurve(
        WIDTH, height, PLOT_LEFT, WIDTH - PLOT_RIGHT, PLOT_TOP, height - PLOT_BOTTOM, series,
        x_ticks, y_ticks, y(curve.bac),
        None if curve.eac is None else y(curve.eac), status_x, summary,
    )  # fmt: skip


@dataclass
class Bar:
    key: str
    label: str
    y: float
    x: float
    width: float
    done_width: float
    critical: bool
    summary: bool
    milestone: bool
    start: date
    finish: date
    total_float: Decimal | None
    title: str


@dataclass
class Gantt:
    width: int
    height: int
    label_width: int
    row_height: int
    bars: list[Bar]
    months: list[Tick] = field(default_factory=list)
    status_x: float | None = None
    finish: date | None = None
    more: int = 0
    #: "after" ("before") when the status date lies past the axis's end (before its start): the
    #: line is drawn at that edge and its label says so with an arrow.
    status_clipped: str = ""


#: How far past the project's own dates (as a share of their span) the status date may lie and
#: still widen the axis; further out it is clipped to the edge, so a completed project's bars
#: keep the width of the chart.
STATUS_SLACK = Decimal("0.15")


GANTT_LABEL = 240
GANTT_ROW = 22
#: Tasks drawn at most (the rest are counted below the chart).
GANTT_MAX_ROWS = 200


def gantt(sched: Schedule) -> Gantt:
    """The Gantt chart's geometry: a row per task (summaries too), bars from early start to
    early finish, the part done shaded, critical tasks marked, the status-date line."""
    rows = sched.rows[:GANTT_MAX_ROWS]
    first = min([sched.start, *(r.early_start for r in rows)])
    last = max([sched.finish, *(r.early_finish for r in rows)])
    status = sched.status_date
    clipped = ""
    if status is not None:
        slack = timedelta(days=int((last - first).days * STATUS_SLACK))
        if first - slack <= status <= last + slack:
            first, last = min(first, status), max(last, status)
        else:  # far outside the project's dates: at the edge, not stretching the axis
            clipped = "before" if status < first else "after"
            status = first if clipped == "before" else last + timedelta(days=1)
    days = max((last - first).days + 1, 1)
    plot_w = WIDTH - GANTT_LABEL - PLOT_RIGHT

    def x(d: date) -> float:
        return round(GANTT_LABEL + plot_w * (d - first).days / days, 1)

    bars = []
    for i, r in enumerate(rows):
        left = x(r.early_start)
        right = round(GANTT_LABEL + plot_w * ((r.early_finish - first).days + 1) / days, 1)
        width = max(right - left, 2.0)
        done = round(width * float(min(max(r.percent, Decimal(0)), Decimal(100))) / 100, 1)
        state = "critical, " if r.critical else ""
        bars.append(
            Bar(
                key=r.key,
                label=("  " * r.level) + r.name,
                y=PLOT_TOP + i * GANTT_ROW,
                x=left,
                width=width,
                done_width=done,
                critical=r.critical,
                summary=r.summary,
                milestone=r.milestone,
                start=r.early_start,
                finish=r.early_finish,
                total_float=r.total_float,
                title=(
                    f"{r.key} {r.name}: {r.early_start} to {r.early_finish}, {state}"
                    f"{r.percent}% done, float {'-' if r.total_float is None else r.total_float}"
                ),
            )
        )
    months: list[Tick] = []
    per_month = plot_w * 30.4 / days
    every = next((k for k in (1, 2, 3, 6, 12) if per_month * k >= 48), 24)
    d = date(first.year, first.month, 1)
    while d <= last:
        if d >= first and (d.month - 1) % every == 0:
            label = d.strftime("%b %Y") if d.month == 1 or not months else d.strftime("%b")
            months.append(Tick(x(d), label))
        d = date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    height = PLOT_TOP + len(rows) * GANTT_ROW + PLOT_BOTTOM
    return Gantt(
        WIDTH, height, GANTT_LABEL, GANTT_ROW, bars, months,
        None if status is None else x(status), sched.finish, len(sched.rows) - len(rows),
        clipped,
    )  # fmt: skip
