"""Charts render at the expected size, are not blank (the pixels vary) and show the critical
path's colour; 200 tasks stay one row each; SVG by suffix; other suffixes refused."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import matplotlib.image as mpimg
import numpy as np
import pytest

from pmo_ledger.ledger.planning.charts import (
    CRITICAL,
    DPI,
    NORMAL,
    UNDATED,
    _num,
    gantt,
    gantt_size,
    risk,
    scurve,
    scurve_series,
)
from pmo_ledger.ledger.planning.cpm import schedule
from pmo_ledger.ledger.planning.model import EarnedValueCurve, PeriodValue, PlanLink, PlanTask
from pmo_ledger.ledger.planning.montecarlo import simulate

D = Decimal
MONDAY = date(2025, 1, 6)


def pixels(path: Path) -> np.ndarray[Any, Any]:
    """The PNG's RGB values, 0-255."""
    return np.rint(mpimg.imread(path)[..., :3] * 255).astype(np.int64)


def has_colour(img: np.ndarray[Any, Any], hex_colour: str) -> int:
    """Pixels exactly of this colour."""
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return int(np.all(img == rgb, axis=-1).sum())


def project(n: int) -> list[PlanTask]:
    """n tasks in phases of 5 under summaries, with estimates and planned dates."""
    out = []
    for i in range(n):
        if i % 5 == 0:
            out.append(PlanTask(f"S{i}", f"Phase {i // 5 + 1}", wbs=str(i // 5 + 1)))
        start = MONDAY + timedelta(days=3 * i)
        out.append(
            PlanTask(
                f"T{i}",
                f"Task {i}",
                parent=f"S{i - i % 5}",
                wbs=f"{i // 5 + 1}.{i % 5 + 1}",
                planned_start=start,
                planned_finish=start + timedelta(days=6),
                optimistic=D(2),
                most_likely=D(3 + i % 4),
                pessimistic=D(9),
                actual_start=start if i < 3 else None,
                percent=D(40) if i < 3 else None,
            )
        )
    return out


def chain_links(n: int) -> list[PlanLink]:
    return [PlanLink(f"T{i}", f"T{i + 1}", "FS" if i % 3 else "SS", D(i % 2)) for i in range(n - 1)]


def test_a_gantt_of_the_schedule(tmp_path: Path) -> None:
    """20 tasks (24 rows): 1200 x (1.4 + 0.2 x 24) x 100 px, pixels vary, the critical colour
    and the ordinary bar colour are both there."""
    s = schedule(
        project(20),
        [*chain_links(20), PlanLink("T2", "T19", "FF", D(0))],
        status_date=date(2025, 1, 15),
    )
    img = pixels(gantt(s, tmp_path / "g.png"))
    width, height = gantt_size(len(s.rows))
    assert img.shape[:2] == (round(height * DPI), round(width * DPI)) == (620, 1200)
    assert img.std() > 20
    assert has_colour(img, CRITICAL) > 500
    assert has_colour(img, NORMAL) > 100


def test_a_gantt_of_200_tasks_keeps_a_row_each(tmp_path: Path) -> None:
    """200 tasks and 40 summaries: 240 rows of 20 px, 1200 x 4940 px, critical bars drawn."""
    s = schedule(project(200), chain_links(200), start=MONDAY)
    img = pixels(gantt(s, tmp_path / "g200.png"))
    assert img.shape[:2] == (4940, 1200)
    assert has_colour(img, CRITICAL) > 5_000 and img.std() > 20


def test_a_gantt_as_svg_and_a_bad_suffix(tmp_path: Path) -> None:
    s = schedule(project(5), chain_links(5), start=MONDAY)
    svg = gantt(s, tmp_path / "g.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and CRITICAL in svg
    with pytest.raises(ValueError, match=r"as \.png or \.svg, not 'g\.jpg'"):
        gantt(s, tmp_path / "g.jpg")
    assert not (tmp_path / "g.jpg").exists()


def test_the_risk_histogram(tmp_path: Path) -> None:
    """1000 x 550 px, bars in the ordinary colour, the deadline in the critical colour."""
    s = schedule(project(10), chain_links(10), start=MONDAY)
    sim = simulate(s.network, 2_000, seed=3)
    img = pixels(risk(sim, tmp_path / "r.png", deadline=sim.percentiles[0.8]))
    assert img.shape[:2] == (550, 1000)
    assert img.std() > 20
    assert has_colour(img, NORMAL) > 2_000 and has_colour(img, CRITICAL) > 100


def six_periods(status: date | None = None) -> list[PeriodValue]:
    """Periods ending on the 28th of January to June: PV 100 a month, EV 90 and AC 110 a
    month through April, measured on the period's end (April's on `status` when given)."""
    return [
        PeriodValue(
            f"2025-{m:02d}",
            date(2025, m, 28),
            D(100 * m),
            D(90 * m) if m <= 4 else None,
            D(110 * m) if m <= 4 else None,
            measured_on=(status or date(2025, 4, 28)) if m == 4 else None,
        )
        for m in range(1, 7)
    ]


def test_the_s_curve(tmp_path: Path) -> None:
    """Six periods, EV and AC through the fourth: 1000 x 550 px, AC drawn in the critical
    colour, PV in the ordinary one."""
    curve = EarnedValueCurve("P1", date(2025, 4, 28), six_periods(), D(600), D("733.33"), "cpi")
    img = pixels(scurve(curve, tmp_path / "s.png"))
    assert img.shape[:2] == (550, 1000)
    assert img.std() > 20
    assert has_colour(img, CRITICAL) > 100 and has_colour(img, NORMAL) > 100


def test_the_s_curve_puts_this_periods_ev_and_ac_at_the_status_date(tmp_path: Path) -> None:
    """Status 10 April, in the period ending 28 April: EV and AC end on 10 April (they were
    plotted on 28 April, after the status date); PV keeps the period ends; the y axis and
    BAC carry the currency."""
    periods = six_periods(date(2025, 4, 10))
    curve = EarnedValueCurve(
        "P1", date(2025, 4, 10), periods, D(600), D("733.33"), "cpi", currency="EUR"
    )
    pv, ev, ac = scurve_series(curve)
    assert pv[0][-1] == _num(date(2025, 6, 28))
    assert ev[0][-1] == ac[0][-1] == _num(date(2025, 4, 10))
    assert (ev[1][-1], ac[1][-1]) == (360.0, 440.0)
    svg = scurve(curve, tmp_path / "s.svg").read_text()
    assert "cumulative, EUR" in svg and "BAC 600.00 EUR" in svg


def row_y(i: float, rows: int) -> int:
    """The pixel row of task row i's centre in a chart of `rows` rows (taller than the 3-inch
    minimum): the plot runs from 95 px down to 55 px above the bottom, rows -0.6 to
    rows - 0.4."""
    height = (1.4 + 0.2 * rows) * DPI
    return round(95 + (i + 0.6) * (height - 150) / rows)


def dark(img: np.ndarray[Any, Any], below: int = 300) -> np.ndarray[Any, Any]:
    """Pixels whose R + G + B is below `below` (text, lines; not the grey planned bars)."""
    return np.asarray(img.sum(axis=-1) < below)


def arrow_pixels(img: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(np.all(img == [0x55, 0x55, 0x55], axis=-1))


def small_plan() -> list[PlanTask]:
    """Phase P (level 0) with A (3 days, level 1), the milestone M after A, B (10 days) and
    S (2 days) finishing 5 days before B does (FF, lag -5): 6 rows."""
    return [
        PlanTask("P", "Phase", wbs="1"),
        PlanTask("A", "Alpha", parent="P", wbs="1.1", most_likely=D(3)),
        PlanTask("M", "Milestone", parent="P", wbs="1.2", most_likely=D(0)),
        PlanTask("B", "Bravo", wbs="2", most_likely=D(10)),
        PlanTask("S", "Short", wbs="3", most_likely=D(2)),
        *(PlanTask(f"X{i}", f"Other {i}", wbs=f"{4 + i}", most_likely=D(1)) for i in range(4)),
    ]


def test_a_gantt_arrow_reaches_the_milestone_and_names_are_indented(tmp_path: Path) -> None:
    """A -> M: a solid arrowhead right above M's diamond (it stopped a day short, pointing
    away); A's name (level 1) starts further right than its phase's (level 0)."""
    s = schedule(small_plan(), [PlanLink("A", "M")], start=MONDAY)
    rows = [r.key for r in s.rows]
    assert rows[:3] == ["P", "A", "M"]
    img = pixels(gantt(s, tmp_path / "m.png"))
    assert img.shape[0] == 320  # 1.4 + 0.2 x 9 inches
    y = row_y(2, 9)
    band = np.all(img[y - 6 : y + 7, 340:] == [0x22, 0x22, 0x22], axis=-1)  # M: not critical
    columns = np.flatnonzero(band.any(axis=0))
    assert columns.size > 0
    x = 340 + int(columns.mean())
    head = arrow_pixels(img)[y - 16 : y - 3, x - 5 : x + 6]
    assert head.sum() >= 8, head.sum()
    lefts = [int(np.flatnonzero(dark(img)[row_y(i, 9) - 4 : row_y(i, 9) + 5, :330].any(axis=0))[0])
             for i in (0, 1)]  # fmt: skip
    assert lefts[1] >= lefts[0] + 10, lefts


def test_a_gantt_arrowhead_points_the_way_its_link_goes(tmp_path: Path) -> None:
    """B (10 days) FF -5 S (2 days): S finishes 5 days before B, so the arrow runs left from
    B's end into S's; its head is narrow at S's end and wide towards B (it always pointed
    right)."""
    s = schedule(small_plan(), [PlanLink("B", "S", "FF", D(-5))], start=MONDAY)
    assert s.row("S").early_finish < s.row("B").early_finish
    img = pixels(gantt(s, tmp_path / "ff.png"))
    y = [r.key for r in s.rows].index("S")
    band = arrow_pixels(img)[row_y(y, 9) - 6 : row_y(y, 9) + 7, 340:]
    columns = np.flatnonzero(band.any(axis=0))
    tip = int(columns.min())
    heights = band.sum(axis=0)
    assert heights[tip + 5] > heights[tip], (heights[tip : tip + 8], tip)


def test_a_gantt_of_200_tasks_repeats_its_dates(tmp_path: Path) -> None:
    """240 rows: the date labels again between rows 49 and 50 (and 99/100, ...), so no row
    is more than 50 from its dates; past 150 rows only links between critical tasks."""
    s = schedule(project(200), chain_links(200), start=MONDAY)
    img = pixels(gantt(s, tmp_path / "g200.png"))
    for k in (50, 100, 150, 200):
        y = row_y(k - 0.5, 240)
        assert dark(img, 450)[y - 3 : y + 4, 345:1170].sum() > 150, k
    y = row_y(24.5, 240)
    assert dark(img, 450)[y - 3 : y + 4, 345:1170].sum() < 40


def test_a_task_without_any_duration_is_not_drawn_as_a_milestone(tmp_path: Path) -> None:
    """N has no estimate and no dates (0 days by default): a hollow grey circle, not a
    diamond; the milestone M (an estimate of 0) keeps its diamond."""
    tasks = [PlanTask("A", "A", most_likely=D(3)), PlanTask("N", "No estimate"),
             PlanTask("M", "Milestone", most_likely=D(0))]  # fmt: skip
    s = schedule(tasks, [PlanLink("A", "N"), PlanLink("A", "M")], start=MONDAY)
    assert s.network.without_duration == ["N"] and s.row("N").milestone
    img = pixels(gantt(s, tmp_path / "n.png"))
    assert has_colour(img, UNDATED) >= 10
    plain = schedule([tasks[0], tasks[2]], [PlanLink("A", "M")], start=MONDAY)
    assert has_colour(pixels(gantt(plain, tmp_path / "m.png")), UNDATED) == 0
