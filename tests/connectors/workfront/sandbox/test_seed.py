"""The demo account makes sense: a WBS tree per project, dependency chains of every type
whose dates respect their links, a cross-project link, rates, statuses and the links to the
PSA sample projects; with `psa` (the demo's), its hours on those projects are the PSA's
timecards but for the planted unsent hours."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.sample import SampleConnector, SampleSettings
from pmo_ledger.connectors.sample.world import World
from pmo_ledger.connectors.workfront.sandbox import AS_OF, DemoSeed, FakeWorkfront, seed_demo
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import DEMO_PSA
from pmo_ledger.connectors.workfront.sandbox.seed import UNSENT
from pmo_ledger.ledger.records import ActualRecord, FxRateRecord


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


# --- the demo's Workfront: the PSA's timecards (seed_demo(psa=DEMO_PSA)) -----------------------


@pytest.fixture(scope="module")
def mirrored() -> tuple[FakeWorkfront, DemoSeed]:
    store = FakeWorkfront()
    return store, seed_demo(store, psa=DEMO_PSA)


def _psa_settings() -> SampleSettings:
    """config/demo.toml's PSA."""
    return SampleSettings(seed=DEMO_PSA.seed, projects=DEMO_PSA.projects,
                          actuals=DEMO_PSA.actuals)  # fmt: skip


def _psa_read(stream: str) -> list[object]:
    """A stream of config/demo.toml's PSA, read through the sample connector."""
    connector = SampleConnector(_psa_settings(), ConnectorContext("psa"))
    return [r for page in connector.extract(stream, ReadRequest()) for r in page.records]


def _psa_labor() -> dict[str, ActualRecord]:
    """The PSA's labor lines by ID."""
    lines = _psa_read("actuals")
    return {r.external_id: r for r in lines
            if isinstance(r, ActualRecord) and r.cost_type == "labor"}  # fmt: skip


def _usd(rates: dict[tuple[str, date], Decimal], currency: str, day: date) -> Decimal:
    """1 `currency` in USD on `day` at the PSA's monthly corporate rates."""
    return Decimal(1) if currency == "USD" else rates[(currency, day.replace(day=1))]


def _psa_rates() -> dict[tuple[str, date], Decimal]:
    records = _psa_read("fx_rates")
    return {(r.from_ccy, r.valid_from): r.rate for r in records
            if isinstance(r, FxRateRecord) and r.to_ccy == "USD"}  # fmt: skip


def test_every_psa_timecard_is_an_approved_hour_of_the_same_person_day_and_cost(
    mirrored: tuple[FakeWorkfront, DemoSeed],
) -> None:
    """Each of the PSA's 2,092 labor lines is one approved hour on the project of its code:
    its person (the USER with the sample resource's e-mail), day and hours, and an actualCost
    in the project's currency (EUR, USD, GBP; PRJ-0004's null: USD) worth the line's amount in
    USD at the PSA's rates, to a cent."""
    store, seed = mirrored
    psa, rates = _psa_labor(), _psa_rates()
    assert len(psa) == 2092
    assert sorted(seed.mirrored.values()) == sorted(psa)
    code_of = {v: k for k, v in seed.projects.items()}
    currency_of = {r["ID"]: r["currency"] or "USD" for r in store.rows("PROJ")}
    users = {r["ID"]: r for r in store.rows("USER")}
    worst = Decimal(0)
    for hour_id, line_id in seed.mirrored.items():
        hour, line = store.get("HOUR", hour_id), psa[line_id]
        project = str(hour["projectID"])
        assert code_of[project] == line.project_ref
        assert users[str(hour["ownerID"])]["emailAddr"] == seed_email(line.resource_ref)
        assert hour["status"] == "APP"
        assert (hour["entryDate"], hour["hours"]) == (line.posted_on, line.hours)
        assert store.get("TASK", str(hour["taskID"]))["projectID"] == project
        cost = Decimal(str(hour["actualCost"]))
        assert cost == cost.quantize(Decimal("0.01"))
        usd = cost * _usd(rates, str(currency_of[project]), line.posted_on)
        assert line.amount is not None
        worst = max(worst, abs(usd - line.amount * _usd(rates, line.currency, line.posted_on)))
    assert worst <= Decimal("0.01")
    # Not one currency per line: the projects' currencies differ from the people's.
    projects = {str(store.get("HOUR", h)["projectID"]) for h in seed.mirrored}
    assert {currency_of[p] for p in projects} == {"EUR", "USD", "GBP"}
    assert {psa[line].currency for line in seed.mirrored.values()} == {"EUR", "USD", "GBP"}


def seed_email(resource: str | None) -> str:
    """The e-mail the sample gives a resource (RES-0007: <first>.<last>.7@example.com)."""
    world = World(_psa_settings())
    return next(r.email for r in world.resources if r.key == resource)


def test_the_planted_unsent_hours(mirrored: tuple[FakeWorkfront, DemoSeed]) -> None:
    """UNSENT: 40 weekdays of 6 approved hours on PRJ-0001 (EUR) at 112.00, 2025-03-03 to
    2025-04-25, inside the PSA's planned dates of PRJ-0001 (2025-02-02..2025-04-28), by a
    contractor who is no sample resource; nothing else is logged on the PSA's projects."""
    store, seed = mirrored
    hours = [store.get("HOUR", h) for h in seed.unsent_hours]
    assert len(hours) == 40
    assert {(h["projectID"], h["ownerID"], h["status"], h["hours"], h["actualCost"])
            for h in hours} == {(seed.projects["PRJ-0001"], seed.contractor, "APP",
                                 Decimal(6), Decimal("672.00"))}  # fmt: skip
    days = sorted(h["entryDate"] for h in hours)  # type: ignore[type-var]
    assert (UNSENT.first, UNSENT.last) == (date(2025, 3, 3), date(2025, 4, 25))
    assert (days[0], days[-1]) == (UNSENT.first, UNSENT.last)
    assert all(d.weekday() < 5 for d in days)  # type: ignore[union-attr]
    assert seed.contractor not in seed.psa_users.values()
    linked = {seed.projects[f"PRJ-000{n}"] for n in range(1, 7)}
    on_psa_projects = {r["ID"] for r in store.rows("HOUR") if r["projectID"] in linked}
    assert on_psa_projects == set(seed.mirrored) | set(seed.unsent_hours)


def test_workfront_only_projects_keep_their_hours(
    mirrored: tuple[FakeWorkfront, DemoSeed],
) -> None:
    """The Workfront-only projects' hours (statuses APP, SUB, REJ, no actualCost) are the
    same with the PSA's timecards or without; the general hours, the deleted and re-logged
    hours (journaled) and the null-currency project stay."""
    store, seed = mirrored
    plain_store = FakeWorkfront()
    plain = seed_demo(plain_store)

    def own(s: FakeWorkfront, d: DemoSeed) -> list[tuple[object, ...]]:
        mine = {d.projects["Workfront Rollout"], d.projects["Service Desk Consolidation"]}
        return sorted((r["projectID"], r["taskID"], r["ownerID"], r["entryDate"], r["hours"],
                       r["status"], r["actualCost"])
                      for r in s.rows("HOUR") if r["projectID"] in mine)  # fmt: skip

    kept = own(store, seed)
    assert kept == own(plain_store, plain)
    assert len(kept) == 658
    assert {row[5] for row in kept} == {"APP", "SUB", "REJ"}
    assert len(seed.general_hours) == 3
    assert len(seed.deleted_hours) == len(seed.relogged_hours) == 5
    deletions = [e for e in store.rows("JRNLE") if e["changeType"] == "D"]
    assert sorted(e["subObjID"] for e in deletions) == sorted(seed.deleted_hours)  # type: ignore[type-var]
    assert store.get("PROJ", seed.projects["PRJ-0004"])["currency"] is None


def test_the_mirrored_account_clock_is_after_its_last_hour(
    mirrored: tuple[FakeWorkfront, DemoSeed],
) -> None:
    """The PSA posts until October 2025: the account's clock starts the day after the PSA's
    last day (2025-12-31), and no stamp lies after it; the seed is deterministic."""
    store, _ = mirrored
    now = store.now()
    assert datetime(2026, 1, 1, 14, tzinfo=UTC) <= now < datetime(2026, 1, 1, 15, tzinfo=UTC)
    assert max(r["entryDate"] for r in store.rows("HOUR")) == date(2025, 10, 24)  # type: ignore[type-var]
    for code in ("HOUR", "USER", "JRNLE"):
        assert all(r["lastUpdateDate"] <= now for r in store.rows(code)  # type: ignore[operator]
                   if "lastUpdateDate" in r)  # fmt: skip
    again = FakeWorkfront()
    seed_demo(again, psa=DEMO_PSA)
    for code in ("USER", "HOUR", "JRNLE"):
        assert again.rows(code) == store.rows(code)
