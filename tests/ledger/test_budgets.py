"""Budget versions, phasing and budget_entry history (rules 3, 11), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.fx.rates import upsert_rates
from pmo_ledger.ledger.models import Base, BudgetEntry, BudgetLine, BudgetVersion, Project
from pmo_ledger.ledger.quarantine import Held
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, ProjectRecord
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write.budgets import apply_budgets, split_evenly
from pmo_ledger.ledger.write.context import WriteContext
from pmo_ledger.ledger.write.stats import ApplyStats
from pmo_ledger.ledger.write.structure import apply_projects

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(days=1)
T2 = T0 + timedelta(days=2)


def ctx(session: Session, at: datetime = T0, **kw: Any) -> WriteContext:
    """A 'psa' batch context, USD base, manual rates."""
    settings = LedgerSettings(base_currency="USD", rate_sources=["manual"], **kw)
    return WriteContext(session, settings, "psa", recorded_at=at)


def line(external_id: str = "L1", amount: str = "1000.00", **kw: Any) -> BudgetLineRecord:
    """A USD budget line of labor cost."""
    values: dict[str, Any] = {"currency": "USD", "cost_type": "labor"} | kw
    return BudgetLineRecord(external_id=external_id, amount=Decimal(amount), **values)


def budget(*lines: BudgetLineRecord, external_id: str = "b1", **kw: Any) -> BudgetRecord:
    """A current version of project 'a1' planned over January-March 2025."""
    values: dict[str, Any] = {
        "kind": "current",
        "effective_from": date(2025, 1, 1),
        "planned_start": date(2025, 1, 10),
        "planned_finish": date(2025, 3, 20),
    } | kw
    return BudgetRecord(external_id=external_id, project_ref="a1", lines=lines, **values)


def apply(
    session: Session,
    records: Sequence[BudgetRecord],
    deletions: Sequence[str] = (),
    *,
    at: datetime = T0,
    held: list[Held] | None = None,
    **kw: Any,
) -> ApplyStats:
    """Apply budget records of 'psa' stream 'budgets'."""
    return apply_budgets(
        ctx(session, at, **kw), "budgets", records, deletions, held=[] if held is None else held
    )


@pytest.fixture
def p1(session: Session) -> int:
    """Project P1, source key 'a1'."""
    record = ProjectRecord(external_id="a1", code="P1", name="Project P1")
    apply_projects(ctx(session), "projects", [record], held=[])
    return session.execute(select(Project.id).where(Project.code == "P1")).scalar_one()


def lines(session: Session) -> list[tuple[Any, ...]]:
    """(external_id, period, amount, phasing, deleted) of every budget line, by id."""
    bl = BudgetLine
    rows = session.execute(
        select(
            bl.external_id, bl.period, bl.amount, bl.phasing, bl.deleted_at.is_not(None)
        ).order_by(bl.id)
    )
    return [tuple(r) for r in rows]


def entries(session: Session) -> list[tuple[Any, ...]]:
    """(line external_id, reason, period, amount_delta) of every budget entry, by id."""
    rows = session.execute(
        select(
            BudgetLine.external_id, BudgetEntry.reason, BudgetEntry.period, BudgetEntry.amount_delta
        )
        .join(BudgetLine, BudgetLine.id == BudgetEntry.budget_line_id)
        .order_by(BudgetEntry.id)
    )
    return [tuple(r) for r in rows]


def assert_entries_match_lines(session: Session) -> None:
    """For every budget line, its entries sum to its live values (0 once deleted)."""
    be, bl = BudgetEntry, BudgetLine
    sums = {
        r[0]: r[1:]
        for r in session.execute(
            select(
                be.budget_line_id,
                func.sum(be.amount_delta),
                func.sum(func.coalesce(be.base_delta, 0)),
                func.sum(func.coalesce(be.hours_delta, 0)),
            ).group_by(be.budget_line_id)
        )
    }
    zero = Decimal(0)
    for row in session.execute(select(bl)).scalars():
        live = row.deleted_at is None
        want = (
            (row.amount, row.base_amount or zero, row.hours or zero) if live else (zero, zero, zero)
        )
        assert sums.get(row.id, (zero, zero, zero)) == want, row.external_id


# --- phasing ---------------------------------------------------------------------------------


def test_split_evenly_puts_the_remainder_in_the_last_share() -> None:
    """1000.00 in 3 shares is 333.33, 333.33, 333.34; 10 hours 3.3333, 3.3333, 3.3334."""
    assert split_evenly(Decimal("1000.00"), Decimal("10"), "USD", 3) == [
        (Decimal("333.33"), Decimal("3.3333")),
        (Decimal("333.33"), Decimal("3.3333")),
        (Decimal("333.34"), Decimal("3.3334")),
    ]


def test_linear_phasing_over_three_months(session: Session, p1: int) -> None:
    """A period-less 1000.00 over January-March is 333.33, 333.33, 333.34, phasing linear."""
    apply(session, [budget(line())], budget_phasing="linear")
    assert lines(session) == [
        ("L1@2025-01", "2025-01", Decimal("333.3300"), "linear", False),
        ("L1@2025-02", "2025-02", Decimal("333.3300"), "linear", False),
        ("L1@2025-03", "2025-03", Decimal("333.3400"), "linear", False),
    ]


def test_lump_phasing_puts_everything_in_the_planned_start_period(
    session: Session, p1: int
) -> None:
    """With lump phasing the whole amount lands in the period of planned_start."""
    apply(session, [budget(line(), planned_start=date(2025, 2, 3))], budget_phasing="lump")
    assert lines(session) == [("L1@2025-02", "2025-02", Decimal("1000.0000"), "lump", False)]


def test_linear_without_dates_falls_back_to_lump_on_effective_from(
    session: Session, p1: int
) -> None:
    """Linear phasing without planned dates is a lump in the effective_from period."""
    record = budget(
        line(), planned_start=None, planned_finish=None, effective_from=date(2025, 4, 1)
    )
    apply(session, [record], budget_phasing="linear")
    assert lines(session) == [("L1@2025-04", "2025-04", Decimal("1000.0000"), "lump", False)]


def test_line_with_a_period_is_stored_as_the_source_phased_it(session: Session, p1: int) -> None:
    """A line that states its period keeps its id and period, phasing 'source'."""
    apply(session, [budget(line(period="2025-05"))])
    assert lines(session) == [("L1", "2025-05", Decimal("1000.0000"), "source", False)]


def test_line_counts_and_project(session: Session, p1: int) -> None:
    """Lines carry the version's project and count for the budget authority."""
    apply(session, [budget(line(period="2025-05"))])
    row = session.execute(select(BudgetLine.project_id, BudgetLine.counts)).one()
    assert tuple(row) == (p1, True)


# --- history ---------------------------------------------------------------------------------


def test_restated_line_adds_one_entry_with_the_delta(session: Session, p1: int) -> None:
    """1000.00 restated to 1200.00 adds one restate entry of +200.00."""
    apply(session, [budget(line(period="2025-02"))])
    apply(session, [budget(line(period="2025-02", amount="1200.00"))], at=T1)
    assert entries(session) == [
        ("L1", "insert", "2025-02", Decimal("1000.0000")),
        ("L1", "restate", "2025-02", Decimal("200.0000")),
    ]
    assert_entries_match_lines(session)


def test_line_moving_period_is_reversed_and_rewritten(session: Session, p1: int) -> None:
    """A line moved from February to March gets a reversal in Feb plus the full line in Mar."""
    apply(session, [budget(line(period="2025-02"))])
    apply(session, [budget(line(period="2025-03"))], at=T1)
    assert entries(session) == [
        ("L1", "insert", "2025-02", Decimal("1000.0000")),
        ("L1", "restate", "2025-02", Decimal("-1000.0000")),
        ("L1", "restate", "2025-03", Decimal("1000.0000")),
    ]
    assert_entries_match_lines(session)


def test_line_missing_from_the_resent_version_is_deleted(session: Session, p1: int) -> None:
    """A line the re-sent version no longer has is deleted with a reversal."""
    apply(session, [budget(line("L1", period="2025-02"), line("L2", "50.00", period="2025-02"))])
    apply(session, [budget(line("L1", period="2025-02"))], at=T1)
    assert lines(session)[1] == ("L2", "2025-02", Decimal("50.0000"), "source", True)
    assert entries(session)[-1] == ("L2", "delete", "2025-02", Decimal("-50.0000"))
    assert_entries_match_lines(session)


def test_unchanged_version_writes_nothing(session: Session, p1: int) -> None:
    """Replaying a version changes no row count and no updated_at."""
    record = budget(line(), line("L2", "10.00", hours=Decimal("3")))
    apply(session, [record])
    before = {
        t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
        for t in Base.metadata.sorted_tables
    }
    stats = apply(session, [record], at=T1)
    after = {
        t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
        for t in Base.metadata.sorted_tables
    }
    assert (stats.written, stats.unchanged, stats.entries) == (0, 1, 0)
    assert after == before
    assert set(session.execute(select(BudgetLine.updated_at)).scalars()) == {T0}


def test_version_deletion_reverses_its_lines(session: Session, p1: int) -> None:
    """A deleted version gets deleted_at and every line a reversal."""
    apply(session, [budget(line())])
    stats = apply(session, [], ["b1"], at=T1)
    deleted_at = session.execute(select(BudgetVersion.deleted_at)).scalar()
    assert (stats.deleted, deleted_at) == (1, T1)
    assert all(row[4] for row in lines(session))
    assert_entries_match_lines(session)


def test_invalid_resent_version_reverses_the_loaded_one(session: Session, p1: int) -> None:
    """A loaded version re-sent invalid is held, deleted and its lines reversed (rule 5)."""
    apply(session, [budget(line(period="2025-02"))])
    held: list[Held] = []
    apply(session, [budget(line(period="2025-02", currency="ZZZ"))], at=T1, held=held)
    assert [(h.external_id, h.reason) for h in held] == [("b1", "unknown_currency")]
    assert session.execute(select(BudgetVersion.deleted_at)).scalar() == T1
    assert entries(session)[-1] == ("L1", "delete", "2025-02", Decimal("-1000.0000"))
    assert_entries_match_lines(session)


def test_entries_match_lines_after_many_changes(session: Session, p1: int) -> None:
    """After inserts, restatements, moves, re-phasing and deletions, entries equal lines."""
    apply(session, [budget(line(), line("L2", "99.99", hours=Decimal("7.5"), period="2025-01"))])
    apply(session, [budget(line(amount="1500.00"), line("L2", "99.99", period="2025-02"))], at=T1)
    apply(session, [budget(line(amount="1500.00"), planned_finish=date(2025, 6, 30))], at=T2)
    apply(session, [budget(line(), external_id="b2", number=2)], at=T2)
    apply(session, [], ["b2"], at=T2 + timedelta(days=1))
    assert_entries_match_lines(session)


# --- versions --------------------------------------------------------------------------------


def test_higher_current_version_supersedes_the_lower_one(session: Session, p1: int) -> None:
    """Current v2 supersedes v1; a re-sent v0 is loaded already superseded."""
    apply(session, [budget(line(), external_id="v1", number=1)])
    apply(session, [budget(line(), external_id="v2", number=2)], at=T1)
    apply(session, [budget(line(), external_id="v0", number=0)], at=T2)
    rows = session.execute(
        select(BudgetVersion.external_id, BudgetVersion.superseded_at).order_by(
            BudgetVersion.number
        )
    ).all()
    assert [tuple(r) for r in rows] == [("v0", T2), ("v1", T1), ("v2", None)]


def test_baselines_are_not_superseded(session: Session, p1: int) -> None:
    """Two baselines both stay unsuperseded: the status date picks between them."""
    apply(session, [budget(line(), external_id="v1", kind="baseline")])
    apply(session, [budget(line(), external_id="v2", kind="baseline", number=2)], at=T1)
    superseded = set(session.execute(select(BudgetVersion.superseded_at)).scalars())
    assert superseded == {None}


def test_unmapped_budget_is_held_and_not_loaded(session: Session) -> None:
    """A budget of an unknown project is held 'unmapped' and writes nothing."""
    held: list[Held] = []
    apply(session, [budget(line())], held=held)
    assert [(h.external_id, h.reason) for h in held] == [("b1", "unmapped")]
    assert session.execute(select(func.count()).select_from(BudgetVersion)).scalar() == 0


def test_invalid_budgets_are_held_while_the_rest_load(session: Session, p1: int) -> None:
    """Unknown currency, bad period and duplicate lines are held; the good version loads."""
    held: list[Held] = []
    apply(
        session,
        [
            budget(line(currency="ZZZ"), external_id="x1"),
            budget(line(period="2025-99"), external_id="x2"),
            budget(line(), line(), external_id="x3"),
            budget(line(), external_id="ok"),
        ],
        held=held,
    )
    assert {h.external_id: h.reason for h in held} == {
        "x1": "unknown_currency",
        "x2": "bad_period",
        "x3": "duplicate_line",
    }
    assert list(session.execute(select(BudgetVersion.external_id)).scalars()) == ["ok"]


def test_base_amount_uses_the_rate_of_the_period_end(session: Session, p1: int) -> None:
    """A January EUR line converts at the rate in force on January 31."""
    upsert_rates(
        session,
        "manual",
        [
            ("corporate", "EUR", "USD", date(2025, 1, 1), Decimal("1.10")),
            ("corporate", "EUR", "USD", date(2025, 1, 31), Decimal("1.20")),
        ],
        T0,
    )
    apply(session, [budget(line(amount="1000.00", currency="EUR", period="2025-01"))])
    row = session.execute(select(BudgetLine.rate, BudgetLine.base_amount)).one()
    assert tuple(row) == (Decimal("1.20000000"), Decimal("1200.0000"))
