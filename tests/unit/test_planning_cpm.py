"""The critical path method over hand-computed networks: the four link types with lags and a
lead, a calendar with holidays, durations from planned dates, progress at a status date, ties,
summaries, cycles and links to tasks that are not loaded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from pmo_ledger.ledger.planning.calendar import Timeline, WorkCalendar
from pmo_ledger.ledger.planning.cpm import Schedule, schedule
from pmo_ledger.ledger.planning.model import CycleError, PlanLink, PlanningError, PlanTask
from pmo_ledger.ledger.planning.settings import PlanningSettings

D = Decimal
MONDAY = date(2025, 1, 6)  # day 0 of every network here


def task(key: str, days: int | str | None = None, **kw: object) -> PlanTask:
    """A task whose most-likely duration is `days` working days."""
    most = None if days is None else D(days)
    return PlanTask(key=key, name=f"Task {key}", most_likely=most, **kw)  # type: ignore[arg-type]


def link(p: str, s: str, kind: str = "FS", lag: int | str = 0) -> PlanLink:
    return PlanLink(p, s, kind, D(lag))  # type: ignore[arg-type]


#: The worked example of docs/planning.md: every link type, a positive lag and a lead.
TEXTBOOK_TASKS = [
    task("A", 3),
    task("B", 4),
    task("C", 5),
    task("D", 2),
    task("E", 4),
    task("F", 3),
]
TEXTBOOK_LINKS = [
    link("A", "B", "FS", 2),
    link("A", "C", "SS", 1),
    link("B", "D", "FF", 1),
    link("C", "E", "SF", 4),
    link("A", "E", "FS", -1),
    link("D", "F", "FS"),
    link("E", "F", "FS"),
]


def figures(s: Schedule) -> dict[str, tuple[object, ...]]:
    """key -> (ES, EF, LS, LF in days, total float, free float, critical)."""
    return {
        r.key: (
            r.es / 100,
            r.ef / 100,
            (r.ls or 0) / 100,
            (r.lf or 0) / 100,
            r.total_float,
            r.free_float,
            r.critical,
        )
        for r in s.rows
    }


def test_textbook_network_with_all_four_link_types() -> None:
    """Forward: B = A.EF + 2 = 5; C = A.ES + 1 = 1; D finishes >= B.EF + 1 = 10 so starts 8;
    E: the lead A.EF - 1 = 2 beats the SF (C.ES + 4 - 4 = 1); F = max(D.EF, E.EF) = 10, ends 13.
    Backward from 13: E.LF = 10; C.LS <= E.LF - 4 = 6; D.LF = 10; B.LF <= D.LF - 1 = 9;
    A.LF = min(B.LS - 2 = 3, C.LS - 1 + 3 = 8, E.LS + 1 = 7) = 3."""
    s = schedule(TEXTBOOK_TASKS, TEXTBOOK_LINKS, start=MONDAY)
    assert figures(s) == {
        "A": (0, 3, 0, 3, D("0.00"), D("0.00"), True),
        "B": (5, 9, 5, 9, D("0.00"), D("0.00"), True),
        "C": (1, 6, 6, 11, D("5.00"), D("1.00"), False),
        "D": (8, 10, 8, 10, D("0.00"), D("0.00"), True),
        "E": (2, 6, 6, 10, D("4.00"), D("4.00"), False),
        "F": (10, 13, 10, 13, D("0.00"), D("0.00"), True),
    }
    assert s.critical_paths == [["A", "B", "D", "F"]]
    assert s.finish == date(2025, 1, 22)  # day 12: Wednesday of the third week
    dates = {r.key: (r.early_start, r.early_finish, r.late_start, r.late_finish) for r in s.rows}
    assert dates["B"] == (
        date(2025, 1, 13),
        date(2025, 1, 16),
        date(2025, 1, 13),
        date(2025, 1, 16),
    )
    assert dates["C"] == (date(2025, 1, 7), date(2025, 1, 13), date(2025, 1, 14), date(2025, 1, 20))


def test_a_holiday_moves_the_work_after_it() -> None:
    """Monday 20 January off: F starts on Tuesday 21 and the project ends Thursday 23."""
    cal = PlanningSettings(holidays=[date(2025, 1, 20)]).calendar_for("P1")
    s = schedule(TEXTBOOK_TASKS, TEXTBOOK_LINKS, cal, start=MONDAY)
    f = s.row("F")
    assert (f.early_start, f.early_finish, s.finish) == (
        date(2025, 1, 21),
        date(2025, 1, 23),
        date(2025, 1, 23),
    )


def test_a_project_calendar_replaces_the_global_one_where_set() -> None:
    """P2 works Saturdays (its weekend is Sunday only) and keeps the global holidays."""
    settings = PlanningSettings(
        holidays=[date(2025, 1, 7)], projects={"P2": {"weekend": ["sunday"]}}
    )
    p1, p2 = settings.calendar_for("P1"), settings.calendar_for("P2")
    assert (
        p1.working_days(MONDAY, date(2025, 1, 12)),
        p2.working_days(MONDAY, date(2025, 1, 12)),
    ) == (4, 5)
    only = PlanningSettings(holidays=[date(2025, 1, 7)], projects={"P3": {"holidays": []}})
    assert only.calendar_for("P3").working_days(MONDAY, date(2025, 1, 10)) == 5


def test_a_week_without_a_working_day_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one working day"):
        PlanningSettings(
            weekend=list(
                ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
            )
        )


def test_durations_come_from_planned_dates_in_working_days() -> None:
    """6-14 January is 7 working days, 6 with Thursday 9 a holiday; a task with neither an
    estimate nor dates lasts 0 and is listed."""
    tasks = [
        task("X", planned_start=MONDAY, planned_finish=date(2025, 1, 14)),
        task("Y"),
    ]
    s = schedule(tasks, [link("X", "Y")], start=MONDAY)
    assert (s.row("X").duration, s.network.without_duration) == (D("7.00"), ["Y"])
    cal = WorkCalendar(holidays=frozenset({date(2025, 1, 9)}))
    assert schedule(tasks, [], cal).row("X").duration == D("6.00")


def test_fractional_durations_share_a_day() -> None:
    """1.5 + 1.5 days: the second task starts mid-day 1 and ends with day 2 (Wednesday)."""
    s = schedule([task("A", "1.5"), task("B", "1.5")], [link("A", "B")], start=MONDAY)
    b = s.row("B")
    assert (b.es, b.ef, b.early_start, b.early_finish) == (
        150,
        300,
        date(2025, 1, 7),
        date(2025, 1, 8),
    )


def test_progress_at_the_status_date() -> None:
    """Status Tuesday 14 January (end of day 6). P (5 days) finished on Friday 10: fixed.
    Q (4 days) started Monday 13 and is 50% done: 2 days remain from Wednesday 15 (day 7),
    to Thursday 16. R (3 days) follows Q: Friday 17 to Tuesday 21. S (2 days, no
    predecessor) was planned for Monday 6 but has not started: it cannot start in the past,
    so it runs Wednesday 15 - Thursday 16, with float to the finish."""
    tasks = [
        task("P", 5, actual_start=MONDAY, actual_finish=date(2025, 1, 10), percent=D(100)),
        task("Q", 4, actual_start=date(2025, 1, 13), percent=D(50)),
        task("R", 3),
        task("S", 2, planned_start=MONDAY, planned_finish=date(2025, 1, 7)),
    ]
    s = schedule(tasks, [link("P", "Q"), link("Q", "R")], status_date=date(2025, 1, 14))
    rows = {r.key: r for r in s.rows}
    assert [rows[k].state for k in "PQRS"] == ["done", "started", "open", "open"]
    assert (rows["P"].early_start, rows["P"].early_finish, rows["P"].total_float) == (
        MONDAY,
        date(2025, 1, 10),
        None,
    )
    q = rows["Q"]
    assert (q.early_start, q.early_finish, q.duration, q.total_float) == (
        date(2025, 1, 13),
        date(2025, 1, 16),
        D("2.00"),
        D("0.00"),
    )
    assert (rows["R"].early_start, rows["R"].early_finish) == (date(2025, 1, 17), date(2025, 1, 21))
    assert (rows["S"].early_start, rows["S"].early_finish, rows["S"].total_float) == (
        date(2025, 1, 15),
        date(2025, 1, 16),
        D("3.00"),
    )
    assert s.finish == date(2025, 1, 21)
    assert s.critical_paths == [["Q", "R"]]


def test_without_a_status_date_actuals_are_ignored() -> None:
    """A plan: P is scheduled from its estimate even though it has actual dates."""
    p = task("P", 2, actual_start=MONDAY, actual_finish=date(2025, 1, 20))
    s = schedule([p], [], start=MONDAY)
    assert (s.row("P").state, s.finish) == ("open", date(2025, 1, 7))


def test_ties_give_every_critical_path() -> None:
    """Two branches of 5 days between S and E: both are critical, both listed."""
    tasks = [task("S", 1), task("X1", 3), task("X2", 2), task("Y1", 2), task("Y2", 3), task("E", 1)]
    links = [
        link("S", "X1"),
        link("X1", "X2"),
        link("X2", "E"),
        link("S", "Y1"),
        link("Y1", "Y2"),
        link("Y2", "E"),
    ]
    s = schedule(tasks, links, start=MONDAY)
    assert sorted(s.critical_paths) == [["S", "X1", "X2", "E"], ["S", "Y1", "Y2", "E"]]
    assert s.critical_path_count == 2
    assert all(r.critical for r in s.rows)


def test_a_milestone_sits_at_the_end_of_its_predecessor() -> None:
    """A 0-day task after 3 days is on day 2 (Wednesday), both its start and finish."""
    s = schedule([task("A", 3), task("M", 0)], [link("A", "M")], start=MONDAY)
    m = s.row("M")
    assert (m.milestone, m.early_start, m.early_finish, m.critical) == (
        True,
        date(2025, 1, 8),
        date(2025, 1, 8),
        True,
    )


def test_summaries_roll_up_and_links_to_them_reach_their_leaves() -> None:
    """Phase 1 holds A and B; a link from the phase to C waits for both leaves; the summary
    spans its leaves and is not scheduled itself."""
    tasks = [
        PlanTask("1", "Phase 1", wbs="1"),
        task("A", 2, parent="1", wbs="1.1"),
        task("B", 4, parent="1", wbs="1.2"),
        task("C", 1, wbs="2"),
    ]
    s = schedule(tasks, [link("1", "C")], start=MONDAY)
    assert [(r.key, r.level, r.summary) for r in s.rows] == [
        ("1", 0, True),
        ("A", 1, False),
        ("B", 1, False),
        ("C", 0, False),
    ]
    phase = s.row("1")
    assert (phase.early_start, phase.early_finish, phase.total_float) == (
        MONDAY,
        date(2025, 1, 9),
        D("0.00"),
    )
    assert (s.row("C").es, s.row("A").total_float) == (400, D("2.00"))


def test_a_cycle_names_its_tasks() -> None:
    """A -> B -> C -> A is refused, naming the three tasks in order; D is not named."""
    tasks = [task(k, 1) for k in "ABCD"]
    links = [link("A", "B"), link("B", "C"), link("C", "A", "SS", 2), link("C", "D")]
    with pytest.raises(CycleError) as caught:
        schedule(tasks, links, start=MONDAY)
    assert caught.value.cycles == [["A", "B", "C"]]
    assert str(caught.value) == (
        "the dependencies form a cycle: A (Task A) -> B (Task B) -> C (Task C) -> A (Task A)"
    )


def test_a_task_linked_to_itself_is_a_cycle() -> None:
    with pytest.raises(CycleError, match=r"a cycle: A \(Task A\) -> A \(Task A\)"):
        schedule([task("A", 1)], [link("A", "A")], start=MONDAY)


def test_a_link_to_a_task_not_loaded_is_reported_not_used() -> None:
    """B waits on OTHER.T01 of another project: not loaded, so reported with its project."""
    s = schedule(
        [task("B", 2)],
        [link("OTHER.T01", "B", "FS", 5)],
        start=MONDAY,
        outside_projects={"OTHER.T01": "PRJ-0002"},
    )
    assert s.row("B").es == 0
    assert [(o.missing, o.project) for o in s.outside] == [("OTHER.T01", "PRJ-0002")]


def test_a_cross_project_link_is_honoured_when_both_are_loaded() -> None:
    tasks = [task("P1.A", 3, project="P1"), task("P2.B", 2, project="P2")]
    s = schedule(tasks, [link("P1.A", "P2.B")], start=MONDAY)
    assert (s.row("P2.B").es, s.outside) == (300, [])


def test_bad_estimates_are_refused_with_the_task_named() -> None:
    bad = PlanTask("A", "Build", optimistic=D(5), most_likely=D(3), pessimistic=D(8))
    with pytest.raises(PlanningError, match=r"A \(Build\): expected optimistic <= most likely"):
        schedule([bad], [], start=MONDAY)
    with pytest.raises(PlanningError, match="no task has a planned or actual start"):
        schedule([task("A", 1)], [])


def test_the_timeline_counts_working_days_both_ways() -> None:
    """From Monday 6 January: Saturday 11 maps to Monday 13 (day 5); Friday 3 is day -1."""
    tl = Timeline(WorkCalendar(), MONDAY)
    assert (tl.index(date(2025, 1, 11)), tl.day(5), tl.index(date(2025, 1, 3))) == (
        5,
        date(2025, 1, 13),
        -1,
    )
    assert (tl.index(date(2025, 1, 4)), tl.day(-1), tl.finish_date(500)) == (
        0,
        date(2025, 1, 3),
        date(2025, 1, 10),
    )


def test_a_summary_percent_weighs_its_leaves_by_duration() -> None:
    """A (2 days) done, B (6 days) not started: the phase is (2 x 100 + 6 x 0) / 8 = 25% done,
    and `started` since some of it is done."""
    tasks = [
        PlanTask("1", "Phase 1", wbs="1"),
        task("A", 2, parent="1", actual_start=MONDAY, actual_finish=date(2025, 1, 7)),
        task("B", 6, parent="1"),
    ]
    s = schedule(tasks, [link("A", "B")], status_date=date(2025, 1, 8))
    phase = s.row("1")
    assert (phase.percent, phase.state) == (D("25.00"), "started")
    assert (phase.early_start, phase.early_finish) == (MONDAY, date(2025, 1, 16))


def test_two_links_between_one_pair_are_one_step_of_the_path() -> None:
    """A (2 days) -> B (3 days) by FS and by FF: one critical path A -> B, counted once; a
    link from the summary S (holding only A) to B lands on the same pair: still one path,
    and one drawn link per pair and type."""
    s = schedule([task("A", 2), task("B", 3)], [link("A", "B"), link("A", "B", "FF")], start=MONDAY)
    assert (s.critical_paths, s.critical_path_count, s.finish_offset) == ([["A", "B"]], 1, 500)
    tasks = [PlanTask("S", "Summary"), task("A", 2, parent="S"), task("B", 3)]
    s2 = schedule(tasks, [link("S", "B"), link("A", "B")], start=MONDAY)
    assert (s2.critical_paths, s2.critical_path_count) == ([["A", "B"]], 1)
    assert s2.links == [("A", "B", "FS")]
