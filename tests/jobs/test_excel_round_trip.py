"""Issue 23 item 5's round trip, on SQLite and PostgreSQL: `pmo-ledger template` writes the
budgets and plan templates, openpyxl fills them (three projects of the sample world, budgets by
period, a small task network with three-point estimates and links), `pmo-ledger import` loads
them, `pmo-ledger report --format xlsx` writes the workbook, and the workbook read back holds
what was typed: each project's budget on the Summary, each period's on Budget vs actual (exact
Decimals), the tasks, their dates and the PERT figures on Schedule. An edited cell re-imported
changes exactly that figure, through one restatement entry.

The excel source `plans` is the budget authority, so the Summary's budget is the file's alone
(the sample world's own budgets are psa's), and `[planning] source` schedules its tasks.

The network of PRJ-0001 (status date Friday 27 June 2025, before the project starts; every task
starts no earlier than its typed planned start, Monday 7 July 2025):
- A Design 2/4/6 days, B Build 3/5/13 after A (FS), C Docs 1/2/3 after A (SS, lag 1).
- Most likely (the CPM's durations): A 7-10 July, B 11-17 July, C 8-9 July (float 6 days);
  critical A, B; finish Thursday 17 July.
- PERT along the critical path: A (2+16+6)/6 = 4, B (3+20+13)/6 = 6 -> 10 working days from
  7 July: expected finish Friday 18 July; sigma sqrt((4/6)^2 + (10/6)^2) = sqrt(116)/6 = 1.79505,
  written 1.80.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import BudgetEntry
from tests.jobs.test_cli_excel import excel_cli
from tests.jobs.test_cli_plan import Cli

CONFIG = """\
[ledger]
url = "{url}"
base_currency = "USD"
rate_sources = ["psa"]
max_rate_age = "3650d"

[ledger.authority]
projects = "psa"
labor = "psa"
expense = "psa"
hours = "psa"
revenue = "psa"
budget = "plans"

[[ledger.link_rules]]
source = "plans"
pattern = '(PRJ-\\d{{4}})'
project = "{{1}}"

[connectors.psa]
kind = "sample"
projects = 3
actuals = 30

[connectors.plans]
kind = "excel"
path = "{folder}"
cost_types = ["labor", "travel", "hardware"]

[planning]
source = "plans"

[logging]
level = "ERROR"
"""
STATUS = "2025-06-27"
#: What is typed into the budgets template: project, cost type, period, amount.
BUDGETS = [
    ("PRJ-0001", "labor", "2025-07", "12500.10"),
    ("PRJ-0001", "labor", "2025-08", "8000.05"),
    ("PRJ-0001", "travel", "2025-08", "999.99"),
    ("PRJ-0002", "hardware", "2025-07", "45000.00"),
    ("PRJ-0002", "labor", "2025-09", "0.01"),
    ("PRJ-0003", "labor", "2025-10", "31415.92"),
]
#: Task, name, planned start, optimistic, most likely, pessimistic, % complete.
TASKS = [
    ("A", "Design", date(2025, 7, 7), 2, 4, 6),
    ("B", "Build", date(2025, 7, 7), 3, 5, 13),
    ("C", "Docs", date(2025, 7, 7), 1, 2, 3),
]
LINKS = [("A", "B", "FS", 0), ("A", "C", "SS", 1)]


@pytest.fixture
def cli(engine: Engine, tmp_path: Path) -> Cli:
    c = excel_cli(engine, tmp_path, CONFIG)
    result = c.run("sync", "psa")
    assert result.exit_code == 0, result.output
    return c


def _template(cli: Cli, kind: str, out: Path) -> None:
    result = cli.run("template", kind, "--out", str(out))
    assert result.exit_code == 0, result.output


def _fill_budgets(path: Path, rows: list[tuple[str, str, str, str]]) -> None:
    """Types the rows under the template's header (Project, Cost type, Period, From, To,
    Amount, Currency, Version), amounts as numbers, periods as text."""
    book = load_workbook(path)
    ws = book["Budgets"]
    for i, (project, cost_type, period, amount) in enumerate(rows, start=2):
        for c, value in enumerate(
            (project, cost_type, period, None, None, float(amount), "USD", "Current"), start=1
        ):
            ws.cell(i, c, value)
    book.save(path)


def _import(cli: Cli, kind: str, path: Path) -> str:
    result = cli.run("import", kind, str(path))
    assert result.exit_code == 0, result.output
    return result.output


def _report(cli: Cli, out: Path) -> object:
    result = cli.run("report", "--format", "xlsx", "--out", str(out), "--status-date", STATUS)
    assert result.exit_code == 0, result.output
    return load_workbook(out, data_only=True)


def _money(value: object) -> Decimal:
    """A money cell as the exact Decimal it shows (written at the currency's 2 decimals)."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


def _budgets(book: object) -> tuple[dict[str, Decimal], dict[tuple[str, str], Decimal]]:
    summary = book["Summary"]  # type: ignore[index]
    per_project = {
        row[1].value: _money(row[4].value)
        for row in summary.iter_rows(min_row=5)
        if row[0].value == "Project"
    }
    bva = book["Budget vs actual"]  # type: ignore[index]
    per_period = {
        (row[0].value, row[1].value): _money(row[2].value)
        for row in bva.iter_rows(min_row=5)
        if row[0].value and row[2].value
    }
    return per_project, per_period


def _restatements(engine: Engine) -> list[tuple[str, Decimal]]:
    with Session(engine) as s:
        rows = s.execute(
            select(BudgetEntry.period, BudgetEntry.amount_delta).where(
                BudgetEntry.reason == "restate"
            )
        ).all()
    return [(p, Decimal(a)) for p, a in rows]


def test_template_fill_import_report_reads_back_what_was_typed(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    budgets, plan = tmp_path / "budgets.xlsx", tmp_path / "plan.xlsx"
    _template(cli, "budgets", budgets)
    _template(cli, "plan", plan)
    _fill_budgets(budgets, BUDGETS)
    book = load_workbook(plan)
    ws = book["Plan"]
    for i, (task, name, start, o, m, p) in enumerate(TASKS, start=2):
        # Task ID, Project, Parent, Name, WBS, Planned start, Planned finish, O, M, P
        for c, value in enumerate((task, "PRJ-0001", None, name, f"1.{i - 1}", start, None,
                                   o, m, p), start=1):  # fmt: skip
            ws.cell(i, c, value)
    deps = book["Dependencies"]
    for i, link in enumerate(LINKS, start=2):
        for c, value in enumerate(link, start=1):
            deps.cell(i, c, value)
    book.save(plan)
    _import(cli, "budgets", budgets)
    _import(cli, "plan", plan)

    wb = _report(cli, tmp_path / "status.xlsx")
    per_project, per_period = _budgets(wb)
    assert per_project == {
        "PRJ-0001": Decimal("21500.14"),
        "PRJ-0002": Decimal("45000.01"),
        "PRJ-0003": Decimal("31415.92"),
    }
    assert {k: v for k, v in per_period.items() if v} == {
        ("PRJ-0001", "2025-07"): Decimal("12500.10"),
        ("PRJ-0001", "2025-08"): Decimal("9000.04"),
        ("PRJ-0002", "2025-07"): Decimal("45000.00"),
        ("PRJ-0002", "2025-09"): Decimal("0.01"),
        ("PRJ-0003", "2025-10"): Decimal("31415.92"),
    }
    sched = wb["Schedule"]  # type: ignore[index]
    rows = [[c.value for c in row[:14]] for row in sched.iter_rows(min_row=5) if row[0].value]
    project = next(r for r in rows if r[0] == "PRJ-0001" and r[1] is None)
    tasks = {r[2]: r for r in rows if r[0] == "PRJ-0001" and r[1] is not None}
    assert sorted(tasks) == ["Build", "Design", "Docs"]
    day = lambda d: d.date() if isinstance(d, datetime) else d  # noqa: E731
    assert [(tasks[n][1], day(tasks[n][5]), day(tasks[n][6]), tasks[n][9]) for n in
            ("Design", "Build", "Docs")] == [
        ("1.1", date(2025, 7, 7), date(2025, 7, 10), "yes"),
        ("1.2", date(2025, 7, 11), date(2025, 7, 17), "yes"),
        ("1.3", date(2025, 7, 8), date(2025, 7, 9), "no"),
    ]  # fmt: skip
    assert Decimal(str(tasks["Docs"][8])) == Decimal(6)
    assert day(project[10]) == date(2025, 7, 18)
    assert Decimal(str(project[11])) == Decimal("1.8")  # 1.795 at the sheet's 2 decimals
    assert {r[0] for r in rows} == {"PRJ-0001"}, "the sample world's own tasks are psa's"

    # One cell edited: PRJ-0002's July hardware 45000.00 -> 45250.50.
    _fill_budgets(budgets, [(*b[:3], "45250.50") if b[:3] == BUDGETS[3][:3] else b
                            for b in BUDGETS])  # fmt: skip
    assert _restatements(engine) == []
    _import(cli, "budgets", budgets)
    assert _restatements(engine) == [("2025-07", Decimal("250.50"))]
    again, again_period = _budgets(_report(cli, tmp_path / "again.xlsx"))
    assert again == {**per_project, "PRJ-0002": Decimal("45250.51")}
    assert again_period == {**per_period, ("PRJ-0002", "2025-07"): Decimal("45250.50")}
