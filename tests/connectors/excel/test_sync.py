"""Workbooks through the sync runner into the ledger, on SQLite and PostgreSQL: exact budgets
and plans, a removed row reversed, a changed cell restated alone, an unchanged file writing
nothing, bad cells quarantined without losing the rest, a folder of two files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import (
    BudgetEntry,
    BudgetLine,
    BudgetVersion,
    Quarantine,
    Task,
    TaskDependency,
)
from tests.connectors.excel.books import budget, budgets_file, plan_file, task

#: Every table an excel run may write to (a replay must leave them as they are).
TABLES = ("project", "project_link", "budget_version", "budget_line", "budget_entry", "task",
          "task_dependency", "progress_snapshot", "quarantine")  # fmt: skip


def make_app(engine: Engine, tmp_path: Path, path: Path) -> App:
    data = {
        "ledger": {"url": engine.url.render_as_string(hide_password=False), "base_currency": "USD"},
        "connectors": {"plans": {"kind": "excel", "path": str(path)}},
    }
    return App(parse_config(data, {}, tmp_path), None, _engine=engine)


def sync(engine: Engine, tmp_path: Path, path: Path) -> Any:
    result = run_sync(make_app(engine, tmp_path, path), "plans")
    assert result.status == "succeeded", result.message
    return result


def counts(engine: Engine) -> dict[str, int]:
    with Session(engine) as s:
        return {t: int(s.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}


def live_lines(engine: Engine) -> dict[str, Decimal]:
    with Session(engine) as s:
        rows = s.execute(
            select(BudgetLine.external_id, BudgetLine.amount).where(BudgetLine.deleted_at.is_(None))
        ).all()
    return {k: Decimal(v) for k, v in rows}


def entries(engine: Engine) -> list[tuple[str, str, Decimal]]:
    """(line key, reason, amount delta) of every budget entry, oldest first."""
    with Session(engine) as s:
        rows = s.execute(
            select(BudgetLine.external_id, BudgetEntry.reason, BudgetEntry.amount_delta)
            .join(BudgetLine, BudgetLine.id == BudgetEntry.budget_line_id)
            .order_by(BudgetEntry.id)
        ).all()
    return [(k, r, Decimal(a)) for k, r, a in rows]


ROWS = (
    budget("PRJ-0001", "labor", "2025-01", "1000.10"),
    budget("PRJ-0001", "labor", "2025-02", "2000.20"),
    budget("PRJ-0001", "travel", "2025-02", 0.1 + 0.2),
    budget("PRJ-0002", "software", "2025-03", "99.99", currency="EUR"),
)


def test_a_workbook_loads_exact_budgets(engine: Engine, tmp_path: Path) -> None:
    """Four rows, two versions: lines and entries hold the exact amounts."""
    path = budgets_file(tmp_path / "fy25.xlsx", *ROWS)
    sync(engine, tmp_path, path)
    assert live_lines(engine) == {
        "fy25/PRJ-0001/Current/labor/2025-01": Decimal("1000.10"),
        "fy25/PRJ-0001/Current/labor/2025-02": Decimal("2000.20"),
        "fy25/PRJ-0001/Current/travel/2025-02": Decimal("0.30"),
        "fy25/PRJ-0002/Current/software/2025-03": Decimal("99.99"),
    }
    assert sum(a for _, _, a in entries(engine)) == Decimal("3100.59")
    with Session(engine) as s:
        kinds = s.execute(select(BudgetVersion.external_id, BudgetVersion.kind)).all()
    assert sorted(kinds) == [
        ("fy25/PRJ-0001/Current", "current"),
        ("fy25/PRJ-0002/Current", "current"),
    ]


def test_a_changed_cell_restates_only_its_line(engine: Engine, tmp_path: Path) -> None:
    """2000.20 -> 2500.00: one restate entry of +499.80, nothing else."""
    path = budgets_file(tmp_path / "fy25.xlsx", *ROWS)
    sync(engine, tmp_path, path)
    before = entries(engine)
    budgets_file(path, ROWS[0], budget("PRJ-0001", "labor", "2025-02", "2500.00"), *ROWS[2:])
    sync(engine, tmp_path, path)
    assert entries(engine)[len(before) :] == [
        ("fy25/PRJ-0001/Current/labor/2025-02", "restate", Decimal("499.80"))
    ]


def test_a_removed_row_and_a_removed_version_are_reversed(engine: Engine, tmp_path: Path) -> None:
    """Dropping the travel row reverses that line; dropping PRJ-0002's only row deletes its
    version and reverses its line; the other lines are untouched."""
    path = budgets_file(tmp_path / "fy25.xlsx", *ROWS)
    sync(engine, tmp_path, path)
    before = entries(engine)
    budgets_file(path, *ROWS[:2])
    sync(engine, tmp_path, path)
    assert sorted(entries(engine)[len(before) :]) == [
        ("fy25/PRJ-0001/Current/travel/2025-02", "delete", Decimal("-0.30")),
        ("fy25/PRJ-0002/Current/software/2025-03", "delete", Decimal("-99.99")),
    ]
    assert set(live_lines(engine)) == {
        "fy25/PRJ-0001/Current/labor/2025-01",
        "fy25/PRJ-0001/Current/labor/2025-02",
    }
    with Session(engine) as s:
        gone = s.scalar(
            select(BudgetVersion.deleted_at).where(
                BudgetVersion.external_id == "fy25/PRJ-0002/Current"
            )
        )
    assert gone is not None


def test_an_unchanged_file_writes_nothing(engine: Engine, tmp_path: Path) -> None:
    """A second run over the same budget and plan workbooks changes no ledger table."""
    folder = tmp_path / "in"
    folder.mkdir()
    budgets_file(folder / "fy25.xlsx", *ROWS)
    plan_file(folder / "plan.xlsx", [task("A", "Design", "1", "2", "3", percent=Decimal(40))],
              [])  # fmt: skip
    sync(engine, tmp_path, folder)
    first = counts(engine)
    result = sync(engine, tmp_path, folder)
    assert counts(engine) == first
    assert sum(s.stats.written + s.stats.deleted for s in result.streams) == 0


def test_a_bad_cell_refuses_the_file_and_the_ledger_keeps_what_it_had(
    engine: Engine, tmp_path: Path
) -> None:
    """A later edit with text in an amount refuses the whole file: the bad version and the
    good version it also changed keep their lines as they were, nothing is reversed, and
    the bad cell is named in quarantine with the other version held as refused."""
    path = budgets_file(tmp_path / "fy25.xlsx", *ROWS)
    sync(engine, tmp_path, path)
    lines = live_lines(engine)
    before = counts(engine)
    budgets_file(path, ROWS[0], budget("PRJ-0001", "labor", "2025-02", "twenty"),
                 budget("PRJ-0002", "software", "2025-03", "100.00", currency="EUR"))  # fmt: skip
    result = sync(engine, tmp_path, path)
    assert live_lines(engine) == lines  # travel not reversed, 99.99 not restated
    assert lines["fy25/PRJ-0002/Current/software/2025-03"] == Decimal("99.99")
    assert {t: n for t, n in counts(engine).items() if t != "quarantine"} == {
        t: n for t, n in before.items() if t != "quarantine"
    }
    assert sum(s.stats.written + s.stats.deleted for s in result.streams) == 0
    with Session(engine) as s:
        held = s.execute(
            select(Quarantine.stream, Quarantine.external_id, Quarantine.reason,
                   Quarantine.payload).where(Quarantine.status == "open")
            .order_by(Quarantine.stream, Quarantine.external_id)
        ).all()  # fmt: skip
    bad = "[fy25.xlsx]Budgets!F3: 'twenty' is not an amount"
    refused = "fy25.xlsx: refused, nothing of it loaded"
    assert [(st, k, r, p["problems"]) for st, k, r, p in held] == [
        ("budgets", "fy25/PRJ-0001/Current", "bad_amount", [bad]),
        ("budgets", "fy25/PRJ-0002/Current", "refused_file", [refused, bad]),
        ("projects", "PRJ-0001", "refused_file", [refused, bad]),
        ("projects", "PRJ-0002", "refused_file", [refused, bad]),
    ]
    budgets_file(path, *ROWS)  # fixed: the file loads again, its holds resolve
    sync(engine, tmp_path, path)
    with Session(engine) as s:
        still = s.scalars(select(Quarantine.external_id).where(Quarantine.status == "open"))
        assert list(still) == []


def test_a_folder_of_two_files_and_a_plan(engine: Engine, tmp_path: Path) -> None:
    """Two budget files of a folder load side by side; the plan's tasks keep their estimates
    and links."""
    folder = tmp_path / "in"
    folder.mkdir()
    budgets_file(folder / "east.xlsx", budget("PRJ-0001", "labor", "2025-01", "10.00"))
    budgets_file(folder / "west.xlsx", budget("PRJ-0001", "labor", "2025-01", "20.00"))
    plan_file(folder / "plan.xlsx",
              [task("A", "Design", "1", "2", "3"), task("B", "Build", "2", "4", "8")],
              [{"predecessor": "A", "successor": "B", "type": "FS", "lag": Decimal(1)}])  # fmt: skip
    sync(engine, tmp_path, folder)
    assert live_lines(engine) == {
        "east/PRJ-0001/Current/labor/2025-01": Decimal("10.00"),
        "west/PRJ-0001/Current/labor/2025-01": Decimal("20.00"),
    }
    with Session(engine) as s:
        tasks = s.execute(
            select(
                Task.external_id, Task.optimistic_days, Task.most_likely_days, Task.pessimistic_days
            ).order_by(Task.external_id)
        ).all()
        links = s.execute(select(TaskDependency.external_id, TaskDependency.lag_days)).all()
    assert [(k, Decimal(o), Decimal(m), Decimal(p)) for k, o, m, p in tasks] == [
        ("plan/A", Decimal(1), Decimal(2), Decimal(3)),
        ("plan/B", Decimal(2), Decimal(4), Decimal(8)),
    ]
    assert [(k, Decimal(lag)) for k, lag in links] == [("plan/A->B/FS", Decimal(1))]
