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
    gantt,
    gantt_size,
    _num,
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


def test_the_s_curve(tmp_path: Path) -> None:
    """Six periods, EV and AC through the fourth: 1000 x 550 px, AC drawn in the critical
    colour, PV in the ordinary one."""
    periods = [
        PeriodValue(
            f"2025-{m:02d}",
            date(2025, m, 28),
            D(100 * m),
            D(90 * m) if m <= 4 else None,
            D(110 * m) if m <= 4 else None,
        )
        for m in range(1, 7)
    ]
    curve = EarnedValueCurve("P1", date(2025, 4, 28), periods, D(600), D("733.33"), "cpi")
    img = pixels(scurve(curve, tmp_path / "s.png"))
    assert img.shape[:2] == (550, 1000)
    assert img.std() > 20
    assert has_colour(img, CRITICAL) > 100 and has_colour(img, NORMAL) > 100


def test_the_s_curve_puts_this_periods_ev_and_ac_at_the_status_date(tmp_path: Path) -> None:
    """Status 10 April, in the period ending 28 April: EV and AC end on 10 April (they were
    plotted on 28 April, after the status date); PV keeps the period ends; the y axis and
    BAC carry the currency."""
    periods = [
        PeriodValue(
            f"2025-{m:02d}",
            date(2025, m, 28),
            D(100 * m),
            D(90 * m) if m <= 4 else None,
            D(110 * m) if m <= 4 else None,
            measured_on=date(2025, 4, 10) if m == 4 else date(2025, m, 28) if m < 4 else None,
        )
        for m in range(1, 7)
    ]
    curve = EarnedValueCurve(
        "P1", date(2025, 4, 10), periods, D(600), D("733.33"), "cpi", currency="EUR"
    )
    pv, ev, ac = scurve_series(curve)
    assert pv[0][-1] == _num(date(2025, 6, 28))
    assert ev[0][-1] == ac[0][-1] == _num(date(2025, 4, 10))
    assert (ev[1][-1], ac[1][-1]) == (360.0, 440.0)
    svg = scurve(curve, tmp_path / "s.svg").read_text()
    assert "cumulative, EUR" in svg and "BAC 600.00 EUR" in svg
