"""Control totals (`ledger.control_totals`): the ledger's counts, amounts, hours and current
budgets per source project key and currency, the drift per measure, and what `control_total`
and `v_sync_health` keep of it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger.control_totals import (
    Drift,
    Figures,
    Measure,
    budget_totals,
    compare,
    ledger_totals,
    ledger_totals_by_period,
    record,
)
from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetLine,
    BudgetVersion,
    ControlTotal,
    SyncState,
)
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord
from tests.builders import T0, actual, add_project, load, settings

D = Decimal


def budget(ref: str, key: str, kind: str, number: int, *lines: BudgetLineRecord) -> BudgetRecord:
    """A version of project `ref` planned over January to March 2025."""
    return BudgetRecord(
        external_id=key,
        project_ref=ref,
        kind=kind,  # type: ignore[arg-type]
        number=number,
        effective_from=date(2025, 1, 1),
        planned_start=date(2025, 1, 10),
        planned_finish=date(2025, 3, 20),
        lines=lines,
    )


def bline(key: str, amount: str, currency: str = "USD", **kw: Any) -> BudgetLineRecord:
    return BudgetLineRecord(external_id=key, amount=D(amount), currency=currency, **kw)


def test_ledger_totals_count_amount_and_hours_of_the_live_lines(session: Session) -> None:
    """Live lines of one source and stream per project key and currency: count, amount and
    hours exactly; deleted lines, other streams and other sources stay out."""
    add_project(session, "P1")
    load(
        session,
        [
            actual("a1", "100.25", hours=D("7.25")),
            actual("a2", "50.10", hours=D("0.125")),
            actual("a3", "30.00", currency="EUR"),
            actual("a4", "5.00", project_ref="ZZ", hours=D("1")),
            actual("a5", "70.00", hours=D("3")),
        ],
        stream="timecards",
    )
    load(session, deletions=["a5"], stream="timecards")
    load(session, [actual("x1", "999.00", hours=D("9"))], stream="expenses")
    load(session, [actual("e1", "999.00", hours=D("9"))], source="erp", stream="timecards")
    assert ledger_totals(session, "psa", "timecards") == {
        ("P1", "USD"): Figures(2, D("150.35"), D("7.375")),
        ("P1", "EUR"): Figures(1, D("30.00"), None),
        ("ZZ", "USD"): Figures(1, D("5.00"), D("1")),
    }


def test_totals_by_period_sum_stated_amounts_and_count_lines_that_are_not_zero(
    session: Session,
) -> None:
    """Both ledger sides of verify: an amount the ledger valued from hours (valuation_rate)
    is not summed; a line a reversal brought to zero is counted for a source that lists such
    lines (Salesforce), and not for one whose totals don't (SAP: count_zero=False)."""
    add_project(session, "P1")
    load(
        session,
        [
            actual("a1", "100.25"),
            actual("a2", "40.00", hours=D("2")),
            actual("a3", "0.00"),
            actual("a4", "0.00", hours=D("1.5")),
        ],
        stream="timecards",
    )
    session.execute(
        update(ActualLine).where(ActualLine.external_id == "a2").values(valuation_rate=D("20"))
    )
    both = Figures(3, D("100.25"), D("3.5"))
    nz = {"count_zero": False}
    assert ledger_totals(session, "psa", "timecards", **nz) == {("P1", "USD"): both}
    assert ledger_totals_by_period(session, "psa", "timecards", **nz) == {
        ("P1", "USD", "2025-10"): both
    }
    every = Figures(4, D("100.25"), D("3.5"))
    assert ledger_totals(session, "psa", "timecards") == {("P1", "USD"): every}
    assert ledger_totals_by_period(session, "psa", "timecards") == {("P1", "USD", "2025-10"): every}


def test_budget_totals_read_the_live_current_version_and_count_source_lines(
    session: Session,
) -> None:
    """A budget stream's ledger side: the live lines of each project's live, not superseded
    current version; a line phased over three periods counts once and sums exactly; the
    baseline, a superseded and a deleted version stay out."""
    for code, ref in (("P1", "a1"), ("P2", "a2"), ("P3", "a3")):
        add_project(session, code, ref=ref)
    cfg = settings(budget_phasing="linear")
    records = [
        budget("a1", "a1/baseline", "baseline", 1, bline("L1", "1000.00", period="2025-01")),
        budget(
            "a1",
            "a1/current",
            "current",
            2,
            bline("L1", "1000.00", period="2025-01", hours=D("10.5")),
            bline("L2", "100.00", hours=D("1")),  # linear: 33.33 + 33.33 + 33.34
            bline("L3", "200.00", currency="EUR", period="2025-02"),
        ),
        budget("a2", "a2/cur1", "current", 1, bline("M1", "400.00", period="2025-01")),
        budget("a3", "a3/current", "current", 2, bline("N1", "900.00", period="2025-01")),
    ]
    load(session, records, stream="budgets", cfg=cfg)
    load(
        session,
        [budget("a2", "a2/cur2", "current", 2, bline("M1", "450.00", period="2025-01"))],
        deletions=["a3/current"],
        stream="budgets",
        cfg=cfg,
        deletion_kind="budget",
    )
    phased = session.scalars(
        select(BudgetLine.external_id)
        .join(BudgetVersion, BudgetVersion.id == BudgetLine.version_id)
        .where(BudgetVersion.external_id == "a1/current", BudgetLine.external_id.like("L2%"))
        .order_by(BudgetLine.external_id)
    ).all()
    assert phased == ["L2@2025-01", "L2@2025-02", "L2@2025-03"]
    assert budget_totals(session, "psa", "budgets") == {
        ("a1", "USD"): Figures(2, D("1100.00"), D("11.5")),
        ("a1", "EUR"): Figures(1, D("200.00"), None),
        ("a2", "USD"): Figures(1, D("450.00"), None),
    }
    assert budget_totals(session, "psa", "other") == {}


def test_compare_names_a_drift_in_hours_alone() -> None:
    """Same count and amount, other hours: the group drifts in hours and nothing else."""
    (d,) = compare(
        [(("P1", "USD"), Figures(2, D("150.35"), D("9.375")))],
        {("P1", "USD"): Figures(2, D("150.35"), D("7.375"))},
    )
    assert (d.count_drift, d.amount_drift, d.hours_drift) == (0, D("0"), D("2.000"))
    assert d.drifted_measures == [Measure("hours", D("9.375"), D("7.375"))]


def test_compare_hours_only_where_the_source_states_them() -> None:
    """A stream without source hours compares none; with them, a group only the ledger has
    compares its hours against 0."""
    (quiet,) = compare(
        [(("P1", "USD"), Figures(1, D("5.00")))], {("P1", "USD"): Figures(1, D("5.00"), D("8"))}
    )
    assert (quiet.source_hours, quiet.ledger_hours, quiet.drifted) == (None, None, False)
    assert [m.name for m in quiet.measures] == ["count", "amount"]
    stated, extra = compare(
        [(("P1", "USD"), Figures(1, D("5.00"), D("8")))],
        {("P1", "USD"): Figures(1, D("5.00"), D("8")), ("P2", "USD"): Figures(1, D("1.00"))},
    )
    assert not stated.drifted
    assert [(m.name, m.source, m.ledger) for m in extra.drifted_measures] == [
        ("count", D(0), D(1)),
        ("amount", D(0), D("1.00")),
    ]
    assert (extra.source_hours, extra.ledger_hours) == (D(0), D(0))


def test_compare_calls_a_budget_streams_money_budget() -> None:
    """On a budget stream the money measure is named budget."""
    (d,) = compare(
        [(("a1", "USD"), Figures(1, D("55000.00")))],
        {("a1", "USD"): Figures(1, D("50000.00"))},
        "budget",
    )
    assert [(m.name, m.drift) for m in d.drifted_measures] == [("budget", D("5000.00"))]


def _state(session: Session, stream: str) -> None:
    session.add(SyncState(connector="psa", stream=stream, updated_at=T0))


def test_control_total_and_sync_health_keep_hours_and_budgets(session: Session) -> None:
    """Stored figures keep hours and budgets (NULL where not compared); v_sync_health sums the
    latest check's drift per measure and counts the groups that drift, which a move between
    projects (+5 and -5) does not hide."""
    for stream in ("timecards", "budgets"):
        _state(session, stream)
    timecards = [
        Drift("P1", "USD", 2, D("105.00"), 2, D("100.00"), D("8.25"), D("8.00")),
        Drift("P2", "USD", 1, D("20.00"), 1, D("25.00"), D("4"), D("4")),
        Drift("P3", "USD", 1, D("1.00"), 1, D("1.00"), D("2"), D("2")),
    ]
    budgets = [
        Drift("a1", "USD", 1, D("55000.00"), 1, D("50000.00"), money_measure="budget"),
    ]
    record(session, "psa", "timecards", timecards, T0)
    record(session, "psa", "budgets", budgets, T0)
    session.commit()
    stored = session.execute(
        select(
            ControlTotal.stream,
            ControlTotal.project_ref,
            ControlTotal.source_amount,
            ControlTotal.ledger_amount,
            ControlTotal.source_hours,
            ControlTotal.ledger_hours,
            ControlTotal.source_budget,
            ControlTotal.ledger_budget,
        ).order_by(ControlTotal.id)
    ).all()
    assert [tuple(r) for r in stored] == [
        ("timecards", "P1", D("105.00"), D("100.00"), D("8.25"), D("8.00"), None, None),
        ("timecards", "P2", D("20.00"), D("25.00"), D("4"), D("4"), None, None),
        ("timecards", "P3", D("1.00"), D("1.00"), D("2"), D("2"), None, None),
        ("budgets", "a1", None, None, None, None, D("55000.00"), D("50000.00")),
    ]
    rows = session.execute(
        text(
            "SELECT stream, count_drift, amount_drift, hours_drift, budget_drift, drifted_groups"
            " FROM v_sync_health WHERE connector = 'psa' ORDER BY stream"
        )
    ).all()

    def exact(value: object) -> Decimal | None:  # TEXT on SQLite, numeric on PostgreSQL
        return None if value is None else D(str(value))

    assert [(r[0], r[1], *(exact(v) for v in r[2:5]), r[5]) for r in rows] == [
        ("budgets", 0, None, None, D("5000.00"), 1),
        ("timecards", 0, D("0.00"), D("0.25"), None, 2),
    ]
