"""PERT figures to four decimals, the Monte Carlo simulation (reproducible for a seed,
converging on a chain to the analytic mean and variance, criticality, deadlines) and history
scaling on a planted late team, all computed by hand."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise

import numpy as np
import pytest

from pmo_ledger.ledger.planning.calendar import WorkCalendar
from pmo_ledger.ledger.planning.history import FinishedTask, HistoryLevel, history_scale
from pmo_ledger.ledger.planning.model import PlanLink, PlanTask
from pmo_ledger.ledger.planning.montecarlo import simulate
from pmo_ledger.ledger.planning.network import Network, build_network
from pmo_ledger.ledger.planning.pert import four, pert

D = Decimal
MONDAY = date(2025, 1, 6)


def est(key: str, o: int | None, m: int, p: int | None) -> PlanTask:
    """A task with an optimistic, most-likely and pessimistic duration (working days)."""
    return PlanTask(
        key,
        key,
        optimistic=None if o is None else D(o),
        most_likely=D(m),
        pessimistic=None if p is None else D(p),
    )


def chain(*tasks: PlanTask) -> Network:
    links = [PlanLink(a.key, b.key) for a, b in pairwise(tasks)]
    return build_network(tasks, links, WorkCalendar(), start=MONDAY)


def test_pert_along_a_chain_to_four_decimals() -> None:
    """A (2, 4, 6): te 4, sd 4/6; B (3, 6, 15): te (3 + 24 + 15) / 6 = 7, sd 12/6 = 2. Mean 11
    days, variance 4/9 + 4 = 40/9, sd 2.1082. By day 12 (end of Wednesday 22 January:
    13 days): z = 2 / 2.1082 = 0.9487, P = 0.8286; by Tuesday 21 (12 days): z = 0.4743,
    P = 0.6824; by Monday 20 (11 days, the mean): 0.5000."""
    r = pert(chain(est("A", 2, 4, 6), est("B", 3, 6, 15)))
    assert (r.mean, r.variance, four(r.sd)) == (11, Fraction(40, 9), D("2.1082"))
    assert [(t.key, four(t.expected), four(t.sd)) for t in r.tasks.values()] == [
        ("A", D("4.0000"), D("0.6667")),
        ("B", D("7.0000"), D("2.0000")),
    ]
    assert r.probability(date(2025, 1, 22)) == D("0.8286")
    assert r.probability(date(2025, 1, 21)) == D("0.6824")
    assert r.probability(date(2025, 1, 20)) == D("0.5000")
    assert r.probability(date(2025, 1, 17)) == D("0.3176")  # 10 days: z = -0.4743
    assert r.path == ["A", "B"] and r.without_estimates == 0


def test_the_date_for_a_confidence() -> None:
    """95%: 11 + 1.6449 x 2.1082 = 14.47 days: the work ends on day 14, Friday 24 January;
    50%: 11 days, Monday 20."""
    r = pert(chain(est("A", 2, 4, 6), est("B", 3, 6, 15)))
    assert (r.finish_for(0.95), r.finish_for(0.5), r.expected_finish) == (
        date(2025, 1, 24),
        date(2025, 1, 20),
        date(2025, 1, 20),
    )
    with pytest.raises(ValueError, match="between 0 and 1"):
        r.finish_for(1.0)


def test_tasks_without_estimates_count_as_certain_and_are_counted() -> None:
    """C has only a most-likely 5: O = M = P = 5, no variance; the output says 1 such task."""
    r = pert(chain(est("A", 2, 4, 6), est("C", None, 5, None)))
    assert (r.mean, r.variance, r.without_estimates) == (9, Fraction(4, 9), 1)


def test_pert_takes_the_tied_path_with_the_most_variance() -> None:
    """X (4, 4, 4) and Y (1, 4, 7) run side by side: both critical, Y's variance (1) is used."""
    tasks = [est("X", 4, 4, 4), est("Y", 1, 4, 7)]
    r = pert(build_network(tasks, [], WorkCalendar(), start=MONDAY))
    assert (sorted(r.paths), r.path, r.variance) == ([["X"], ["Y"]], ["Y"], 1)


def test_a_started_task_keeps_the_variance_of_what_remains() -> None:
    """B (3, 6, 15) half done at the status date: O, M, P halve to 1.5, 3, 7.5."""
    tasks = [
        PlanTask(
            "B",
            "B",
            optimistic=D(3),
            most_likely=D(6),
            pessimistic=D(15),
            actual_start=MONDAY,
            percent=D(50),
        ),
    ]
    r = pert(build_network(tasks, [], WorkCalendar(), status_date=MONDAY))
    assert (r.tasks["B"].expected, r.variance) == (Fraction(7, 2), 1)


# --- Monte Carlo ----------------------------------------------------------------------------


def _beta_variance(o: float, m: float, p: float) -> float:
    """The PERT-beta's variance: (P - O)^2 a b / ((a + b)^2 (a + b + 1)), a + b = 6."""
    a, b = 1 + 4 * (m - o) / (p - o), 1 + 4 * (p - m) / (p - o)
    return (p - o) ** 2 * a * b / 252


def test_the_same_seed_gives_the_same_simulation() -> None:
    net = chain(est("A", 2, 4, 6), est("B", 3, 6, 15))
    one, two = simulate(net, 3_000, seed=11), simulate(net, 3_000, seed=11)
    other = simulate(net, 3_000, seed=12)
    assert np.array_equal(one.finishes, two.finishes)
    assert one.percentiles == two.percentiles and one.histogram() == two.histogram()
    assert not np.array_equal(one.finishes, other.finishes)


@pytest.mark.parametrize("distribution", ["pert", "triangular"])
def test_a_chain_converges_to_the_analytic_mean_and_variance(distribution: str) -> None:
    """A (2, 4, 6) -> B (3, 6, 15) -> C (1, 2, 9), 200,000 iterations. PERT-beta: mean
    4 + 7 + 3 = 14 days; (a, b) = (3, 3), (2, 4), (1.5, 4.5), variance
    16 x 9 / 252 + 144 x 8 / 252 + 64 x 6.75 / 252 = 4/7 + 32/7 + 12/7 = 48/7. Triangular:
    mean (O + M + P) / 3 = 4 + 8 + 4 = 16, variance (O^2 + M^2 + P^2 - OM - OP - MP) / 18 =
    12/18 + 117/18 + 57/18 = 31/3."""
    spec = [(2, 4, 6), (3, 6, 15), (1, 2, 9)]
    net = chain(*(est(k, o, m, p) for k, (o, m, p) in zip("ABC", spec, strict=True)))
    sim = simulate(net, 200_000, seed=3, distribution=distribution)  # type: ignore[arg-type]
    if distribution == "pert":
        mean = sum((o + 4 * m + p) / 6 for o, m, p in spec)
        var = sum(_beta_variance(o, m, p) for o, m, p in spec)
        assert (mean, round(var, 4)) == (14, 6.8571)
    else:
        mean = sum((o + m + p) / 3 for o, m, p in spec)
        var = sum((o * o + m * m + p * p - o * m - o * p - m * p) / 18 for o, m, p in spec)
        assert (mean, round(var, 4)) == (16, 10.3333)
    assert sim.mean_days == pytest.approx(mean, abs=0.02)
    assert sim.sd_days**2 == pytest.approx(var, rel=0.02)


def test_criticality_index_of_parallel_branches() -> None:
    """B (5, 6, 7) always outlasts A (1, 2, 3): B critical in every iteration, A in none;
    with certain durations every figure is the CPM's."""
    net = build_network([est("A", 1, 2, 3), est("B", 5, 6, 7)], [], WorkCalendar(), start=MONDAY)
    sim = simulate(net, 2_000, seed=1)
    assert sim.criticality == {"A": 0.0, "B": 1.0}
    fixed = simulate(chain(est("A", 3, 3, 3), est("B", 2, 2, 2)), 100, seed=1)
    assert set(fixed.percentiles.values()) == {date(2025, 1, 10)}
    assert fixed.histogram() == [(date(2025, 1, 10), 100)]
    assert (fixed.probability(date(2025, 1, 10)), fixed.probability(date(2025, 1, 9))) == (1.0, 0.0)


def test_the_deadline_probability_counts_iterations() -> None:
    """A (0, 5, 10) symmetric PERT-beta: half the iterations finish by 5 days, within 1%."""
    sim = simulate(chain(est("A", 0, 5, 10)), 40_000, seed=5)
    assert sim.probability(date(2025, 1, 10)) == pytest.approx(0.5, abs=0.01)


def test_progress_is_reported_per_chunk() -> None:
    seen: list[int] = []
    simulate(chain(est("A", 1, 2, 3)), 5_000, seed=1, chunk=2_000, progress=seen.append)
    assert seen == [2_000, 4_000, 5_000]
    with pytest.raises(ValueError, match="at least 1 iteration"):
        simulate(chain(est("A", 1, 2, 3)), 0)


# --- history ------------------------------------------------------------------------------


def _late(n: int, planned: int, actual: int) -> list[FinishedTask]:
    """n finished tasks planned for `planned` working days that took `actual` (from Mondays)."""
    cal = WorkCalendar()
    out = []
    for i in range(n):
        start = MONDAY + timedelta(weeks=4 * i)
        out.append(
            FinishedTask(start, _after(cal, start, planned), start, _after(cal, start, actual))
        )
    return out


def _after(cal: WorkCalendar, start: date, days: int) -> date:
    day = start
    while cal.working_days(start, day) < days:
        day += timedelta(days=1)
    return day


def test_a_team_that_runs_20_percent_late_is_forecast_that_way() -> None:
    """Every finished task of the project took 12 days for 10 planned: ratio 1.2. A chain of
    two certain 10-day tasks then finishes after 24 days in every iteration."""
    scale = history_scale([HistoryLevel("project", "P1", _late(5, 10, 12))], WorkCalendar(), 5)
    assert scale is not None and (scale.level, scale.ratios) == ("project", (1.2,) * 5)
    sim = simulate(chain(est("A", 10, 10, 10), est("B", 10, 10, 10)), 1_000, seed=2, history=scale)
    assert sim.mean_days == pytest.approx(24.0)
    unscaled = simulate(chain(est("A", 10, 10, 10), est("B", 10, 10, 10)), 1_000, seed=2)
    assert unscaled.mean_days == 20.0


def test_history_falls_back_to_the_program_then_the_portfolio_then_none() -> None:
    """2 finished tasks in the project (< 5): the program's 6 are used; with too few
    everywhere, no scale."""
    levels = [
        HistoryLevel("project", "P1", _late(2, 10, 15)),
        HistoryLevel("program", "PG", _late(6, 10, 11)),
        HistoryLevel("portfolio", "PF", _late(9, 10, 10)),
    ]
    scale = history_scale(levels, WorkCalendar(), 5)
    assert scale is not None and (scale.level, scale.code, round(scale.mean, 4)) == (
        "program",
        "PG",
        1.1,
    )
    assert history_scale(levels[:1], WorkCalendar(), 5) is None
