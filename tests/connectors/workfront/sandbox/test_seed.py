"""The demo account makes sense: a WBS tree per project, dependency chains of every type
whose dates respect their links, a cross-project link, rates, statuses and the links to the
PSA sample projects."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from pmo_ledger.connectors.workfront.sandbox import AS_OF, DemoSeed, FakeWorkfront, seed_demo


@pytest.fixture(autouse=True)
def _seeded(seed: DemoSeed) -> None:
    """Every test here reads the seeded `store`."""


def _day(moment: object) -> date:
    assert isinstance(moment, datetime)
    return moment.date()


def _workdays_between(first: date, last: date) -> int:
    """Working days from `first` to `last` (positive when `last` is later)."""
    step = 1 if last >= first else -1
    days, day = 0, first
    while day != last:
        day += timedelta(days=step)
        if day.weekday() < 5:
            days += step
    return days


def test_psa_codes_link_six_projects(store: FakeWorkfront, seed: DemoSeed) -> None:
    """PRJ-0001..PRJ-0006 are in DE:PSA Project Code; two projects are Workfront's own."""
    codes = sorted(
        str(r["DE:PSA Project Code"]) for r in store.rows("PROJ") if r["DE:PSA Project Code"]
    )
    assert codes == [f"PRJ-000{n}" for n in range(1, 7)]
    assert store.count("PROJ") == 8


def test_projects_sit_in_programs_and_portfolios(store: FakeWorkfront) -> None:
    """Every project names a program of its own portfolio."""
    for project in store.rows("PROJ"):
        program = store.get("PRGM", str(project["programID"]))
        assert program["portfolioID"] == project["portfolioID"]


def test_wbs_tree(store: FakeWorkfront, seed: DemoSeed) -> None:
    """Each project has 4 phases and 12 leaf tasks; a leaf's parent is a phase of the same
    project whose WBS number prefixes the leaf's."""
    project = seed.projects["PRJ-0001"]
    tasks = [t for t in store.rows("TASK") if t["projectID"] == project]
    phases = [t for t in tasks if t["parentID"] is None]
    leaves = [t for t in tasks if t["parentID"] is not None]
    assert (len(phases), len(leaves)) == (4, 12)
    for leaf in leaves:
        parent = store.get("TASK", str(leaf["parentID"]))
        assert parent["projectID"] == project
        assert str(leaf["wbs"]).startswith(f"{parent['wbs']}.")


def test_links_of_every_type_and_their_dates(store: FakeWorkfront, seed: DemoSeed) -> None:
    """The links are fs, ss, ff and sf with lags, and each successor's planned dates respect
    its link (in working days)."""
    links = store.rows("PRED")
    assert {link["predecessorType"] for link in links} == {"fs", "ss", "ff", "sf"}
    assert {link["lagDays"] for link in links} >= {Decimal(0), Decimal(2), Decimal(5)}
    for link in links:
        pred = store.get("TASK", str(link["predecessorID"]))
        succ = store.get("TASK", str(link["successorID"]))
        if pred["projectID"] != succ["projectID"]:
            continue
        lag = int(Decimal(str(link["lagDays"])))
        p_start, p_end = _day(pred["plannedStartDate"]), _day(pred["plannedCompletionDate"])
        s_start, s_end = _day(succ["plannedStartDate"]), _day(succ["plannedCompletionDate"])
        gap = {
            "fs": _workdays_between(p_end, s_start) - 1,
            "ss": _workdays_between(p_start, s_start),
            "ff": _workdays_between(p_end, s_end),
            "sf": _workdays_between(p_start, s_end) + 1,
        }[str(link["predecessorType"])]
        assert gap >= lag, (link, gap)


def test_cross_project_link(store: FakeWorkfront, seed: DemoSeed) -> None:
    """One link joins PRJ-0001's solution design to PRJ-0002's first build sprint."""
    link = store.get("PRED", seed.cross_project_link)
    pred = store.get("TASK", str(link["predecessorID"]))
    succ = store.get("TASK", str(link["successorID"]))
    assert (pred["name"], pred["projectID"]) == ("Solution design", seed.projects["PRJ-0001"])
    assert (succ["name"], succ["projectID"]) == ("Build sprint 1", seed.projects["PRJ-0002"])


def test_three_point_durations_bracket_the_estimate(store: FakeWorkfront) -> None:
    """Optimistic <= duration <= pessimistic for every task."""
    assert store.count("TASK") == 128
    for task in store.rows("TASK"):
        low, mid, high = (
            Decimal(str(task[k]))
            for k in ("DE:Optimistic Duration", "duration", "DE:Pessimistic Duration")
        )
        assert low <= mid <= high and low < high


def test_rates_from_user_or_role(store: FakeWorkfront) -> None:
    """Some people have their own costPerHour, the others only their role's."""
    people = [u for u in store.rows("USER") if u["roleID"]]
    own = [u for u in people if u["costPerHour"] is not None]
    assert 0 < len(own) < len(people)
    assert all(store.get("ROLE", str(u["roleID"]))["costPerHour"] for u in people)


def test_hours_span_months_and_statuses(store: FakeWorkfront) -> None:
    """Hours fall in at least six months up to AS_OF, in statuses APP, SUB and REJ, with and
    without actualCost."""
    hours = store.rows("HOUR")
    months = {(h["entryDate"].year, h["entryDate"].month) for h in hours}  # type: ignore[union-attr]
    assert len(months) >= 6
    assert max(h["entryDate"] for h in hours) <= AS_OF  # type: ignore[type-var]
    assert {h["status"] for h in hours} == {"APP", "SUB", "REJ"}
    assert {h["actualCost"] is None for h in hours} == {True, False}


def test_stamps_are_never_after_the_account_clock(store: FakeWorkfront) -> None:
    """No lastUpdateDate of the seed lies after the clock (a cursor could skip past it)."""
    now = store.now()
    assert store.count("HOUR") == 303
    for code in ("PROJ", "TASK", "HOUR", "EXPNS", "USER"):
        assert all(r["lastUpdateDate"] <= now for r in store.rows(code))  # type: ignore[operator]


def test_seed_is_deterministic() -> None:
    """The same seed makes the same account."""
    first, second = FakeWorkfront(), FakeWorkfront()
    seed_demo(first, hours=200)
    seed_demo(second, hours=200)
    for code in ("PROJ", "TASK", "PRED", "HOUR", "EXPNS", "JRNLE"):
        assert first.rows(code) == second.rows(code)
