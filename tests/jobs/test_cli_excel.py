"""`pmo-ledger template` and `pmo-ledger import` on SQLite and PostgreSQL: the template opens
with its validations and round-trips once filled in; a dry run lists each line with its
amounts and writes nothing; `pmo-ledger plan` schedules an imported plan; bad files get one
line."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Base, BudgetLine, ProgressSnapshot
from tests.connectors.excel.books import budget, budgets_file, plan_file, task
from tests.jobs.test_cli_plan import Cli

CONFIG = """\
[ledger]
url = "{url}"
base_currency = "USD"

[connectors.plans]
kind = "excel"
path = "{folder}"
cost_types = ["labor", "travel", "hardware"]

[logging]
level = "ERROR"
"""


@pytest.fixture
def cli(engine: Engine, tmp_path: Path) -> Cli:
    folder = tmp_path / "inbox"
    folder.mkdir()
    path = tmp_path / "pmo-ledger.toml"
    url = engine.url.render_as_string(hide_password=False)
    path.write_text(CONFIG.format(url=url, folder=folder))
    return Cli(path)


def _counts(engine: Engine) -> dict[str, int]:
    """Rows of every ledger table."""
    with Session(engine) as s:
        return {
            t.name: int(s.execute(text(f"SELECT count(*) FROM {t.name}")).scalar_one())
            for t in Base.metadata.sorted_tables
        }


def _lines(engine: Engine) -> dict[str, Decimal]:
    with Session(engine) as s:
        rows = s.execute(
            select(BudgetLine.external_id, BudgetLine.amount).where(BudgetLine.deleted_at.is_(None))
        ).all()
    return {k: Decimal(v) for k, v in rows}


def test_the_budgets_template_has_its_validations_and_round_trips(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    """The template lists the connector's cost types (and labor) and the kinds as drop-downs,
    freezes its header, keeps Period as text and has an Instructions sheet; filled in with
    openpyxl it imports to the exact amounts."""
    out = tmp_path / "budgets.xlsx"
    result = cli.run("template", "budgets", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        f"wrote the budgets template to {out} (cost types: labor, travel, hardware)"
    )
    book = load_workbook(out)
    assert book.sheetnames == ["Budgets", "Instructions"]
    ws = book["Budgets"]
    assert [c.value for c in ws[1]][:6] == [
        "Project",
        "Cost type",
        "Period",
        "From",
        "To",
        "Amount",
    ]
    assert ws.freeze_panes == "A2"
    lists = {
        str(v.sqref): v.formula1 for v in ws.data_validations.dataValidation if v.type == "list"
    }
    assert lists == {
        "B2:B5001": '"labor,travel,hardware"',
        "I2:I5001": '"baseline,current,forecast,plan"',
    }
    assert ws.column_dimensions["C"].width > 0
    assert "Load it with: pmo-ledger import budgets FILE.xlsx [--dry-run]" in [
        c.value for c in book["Instructions"]["A"]
    ]
    ws.append(["PRJ-0001", "hardware", "2025-04", None, None, 1234.56, "USD", "Current"])
    ws.append(["PRJ-0001", "labor", None, date(2025, 4, 1), date(2025, 5, 31), 0.1 + 0.2,
               "USD", "Current"])  # fmt: skip
    book.save(out)
    result = cli.run("import", "budgets", str(out))
    assert result.exit_code == 0, result.output
    assert _lines(engine) == {
        "budgets/PRJ-0001/Current/hardware/2025-04": Decimal("1234.56"),
        "budgets/PRJ-0001/Current/labor/2025-04-01..2025-05-31@2025-04": Decimal("0.15"),
        "budgets/PRJ-0001/Current/labor/2025-04-01..2025-05-31@2025-05": Decimal("0.15"),
    }


def test_the_plan_template_has_link_types(cli: Cli, tmp_path: Path) -> None:
    out = tmp_path / "plan.xlsx"
    assert cli.run("template", "plan", "--out", str(out)).exit_code == 0
    book = load_workbook(out)
    assert book.sheetnames == ["Plan", "Dependencies", "Instructions"]
    links = book["Dependencies"].data_validations.dataValidation
    assert [(str(v.sqref), v.formula1) for v in links if v.type == "list"] == [
        ("C2:C5001", '"FS,SS,FF,SF"')
    ]
    percent = [
        v for v in book["Plan"].data_validations.dataValidation if str(v.sqref) == "K2:K5001"
    ]
    assert [(v.type, v.formula1, v.formula2) for v in percent] == [("decimal", "0", "1")]


def test_a_dry_run_lists_each_change_with_amounts_and_writes_nothing(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    """After an import, an edited file's dry run shows the added, changed and reversed lines
    with old -> new amounts; every ledger table keeps its row count and the lines their amounts."""
    path = budgets_file(
        tmp_path / "fy25.xlsx",
        budget("PRJ-0001", "labor", "2025-01", "1000.10"),
        budget("PRJ-0001", "labor", "2025-02", "2000.20"),
        budget("PRJ-0001", "travel", "2025-02", "300.00"),
    )
    assert cli.run("import", "budgets", str(path)).exit_code == 0
    before, lines = _counts(engine), _lines(engine)
    budgets_file(
        path,
        budget("PRJ-0001", "labor", "2025-01", "1000.10"),
        budget("PRJ-0001", "labor", "2025-02", "2500.00"),
        budget("PRJ-0001", "travel", "2025-03", "45.50"),
    )
    result = cli.run("import", "budgets", str(path), "--dry-run")
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[:4] == [
        "would add 1, change 1 and reverse 1 budget lines (1 unchanged)",
        "  change   PRJ-0001     labor        2025-02  2,000.20 -> 2,500.00 USD (Current)",
        "  add      PRJ-0001     travel       2025-03  - -> 45.50 USD (Current)",
        "  reverse  PRJ-0001     travel       2025-02  300.00 -> - USD (Current)",
    ]
    assert "plans: dry run: nothing was written" in result.output
    assert _counts(engine) == before
    assert _lines(engine) == lines


def test_a_file_with_bad_cells_is_refused_whole_one_line_per_problem(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    """The import prints every bad cell and the duplicate with both rows, exits 1 and loads
    nothing of the file, not even its good version; a dry run says the same."""
    path = budgets_file(
        tmp_path / "fy25.xlsx",
        budget("PRJ-0001", "labor", "2025-01", "abc"),
        budget("PRJ-0002", "labor", "2025-01", "5.00"),
        budget("PRJ-0003", "labor", "2025-01", "1.00"),
        budget("PRJ-0003", "labor", "2025-01", "2.00"),
    )
    before = _counts(engine)
    for args in (("import", "budgets", str(path)), ("import", "budgets", str(path), "--dry-run")):
        result = cli.run(*args)
        assert result.exit_code == 1, result.output
        assert result.output.splitlines()[:2] == [
            "problem: [fy25.xlsx]Budgets!F2: 'abc' is not an amount",
            "problem: [fy25.xlsx]Budgets!F5: PRJ-0003 / Current / labor/2025-01 is also on "
            "row 4 of Budgets",
        ]
        assert "fy25.xlsx: refused (2 problems)" in result.output
        assert _lines(engine) == {}
        assert _counts(engine) == before


def test_plan_schedules_an_imported_plan(cli: Cli, tmp_path: Path) -> None:
    """A (5 days) -> B (3) FS, A -> C (2) SS + 1 day, B and C -> D (1), status date Monday
    3 March 2025: A runs 4-10 March, B 11-13, C 5-6 (late 12-13, 5 days of float), D 14."""
    path = plan_file(
        tmp_path / "net.xlsx",
        [task("A", "Design", "4", "5", "6"), task("B", "Build", "2", "3", "10"),
         task("C", "Docs", "1", "2", "3"), task("D", "Launch", "1", "1", "1")],
        [{"predecessor": "A", "successor": "B"},
         {"predecessor": "A", "successor": "C", "type": "SS", "lag": Decimal(1)},
         {"predecessor": "B", "successor": "D"}, {"predecessor": "C", "successor": "D"}],
    )  # fmt: skip
    assert cli.run("import", "plan", str(path)).exit_code == 0
    result = cli.run("plan", "PRJ-0001", "--status-date", "2025-03-03", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = [line.split(",") for line in result.output.splitlines()]
    head = rows[0]
    pick = [
        head.index(c)
        for c in ("key", "start", "finish", "late_start", "late_finish", "total_float")
    ]
    assert [[r[i] for i in pick] for r in rows[1:]] == [
        ["net/A", "2025-03-04", "2025-03-10", "2025-03-04", "2025-03-10", "0.00"],
        ["net/B", "2025-03-11", "2025-03-13", "2025-03-11", "2025-03-13", "0.00"],
        ["net/C", "2025-03-05", "2025-03-06", "2025-03-12", "2025-03-13", "5.00"],
        ["net/D", "2025-03-14", "2025-03-14", "2025-03-14", "2025-03-14", "0.00"],
    ]


def test_a_file_that_is_not_a_workbook_gets_one_line(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "budget.xlsx"
    path.write_text("project,amount\n")
    result = cli.run("import", "budgets", str(path))
    assert (result.exit_code, result.output) == (1, "error: budget.xlsx: is not an xlsx workbook\n")


def test_import_needs_an_excel_connector(engine: Engine, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    url = engine.url.render_as_string(hide_password=False)
    config.write_text(f'[ledger]\nurl = "{url}"\nbase_currency = "USD"\n')
    path = budgets_file(tmp_path / "b.xlsx", budget("P1", "labor", "2025-01", "1"))
    result = Cli(config).run("import", "budgets", str(path))
    assert result.exit_code == 2
    assert "name the excel connector with --source (configured: none" in result.output


def test_the_status_date_defaults_to_the_workbook_save_date(
    cli: Cli, engine: Engine, tmp_path: Path
) -> None:
    """No Status date column: percent complete is dated the day the file was saved (its
    "modified" property), so a re-import of the same file appends no progress."""
    path = plan_file(
        tmp_path / "p.xlsx", [task("A", "Design", "1", "2", "3", percent=Decimal(40))], []
    )
    saved = load_workbook(path).properties.modified
    assert isinstance(saved, datetime)
    assert cli.run("import", "plan", str(path)).exit_code == 0
    assert cli.run("import", "plan", str(path)).exit_code == 0
    with Session(engine) as s:
        points = s.execute(select(ProgressSnapshot.status_date, ProgressSnapshot.percent)).all()
    assert [(d, Decimal(p)) for d, p in points] == [(saved.date(), Decimal(40))]


def test_unknown_projects_are_listed_and_refuse_the_file(engine: Engine, tmp_path: Path) -> None:
    """With another source as the projects authority, a code no ledger project takes is
    named by the import and by its dry run; the file is refused (exit 1), nothing loaded,
    not even the version of the project a rule places."""
    config = tmp_path / "c.toml"
    url = engine.url.render_as_string(hide_password=False)
    config.write_text(
        f'[ledger]\nurl = "{url}"\nbase_currency = "USD"\n'
        '[ledger.authority]\nprojects = "psa"\nlabor = "psa"\nexpense = "psa"\n'
        'hours = "psa"\nrevenue = "psa"\nbudget = "plans"\n'
        '[[ledger.link_rules]]\nsource = "plans"\nobject_type = "project"\n'
        'pattern = "(?P<code>PRJ-0001)"\nproject = "{code}"\n'
        '[connectors.psa]\nkind = "sample"\n'
        f'[connectors.plans]\nkind = "excel"\npath = "{tmp_path}"\n[logging]\nlevel = "ERROR"\n'
    )
    assert Cli(config).run("sync", "psa").exit_code == 0
    path = budgets_file(
        tmp_path / "b.xlsx",
        budget("PRJ-0042", "labor", "2025-01", "1"),
        budget("PRJ-0001", "labor", "2025-01", "2"),
        budget("PRJ-0043", "labor", "2025-01", "3"),
    )
    before = _counts(engine)
    for dry in ((), ("--dry-run",)):
        result = Cli(config).run("import", "budgets", str(path), *dry)
        assert result.exit_code == 1, result.output
        assert [ln for ln in result.output.splitlines() if ln.startswith("unknown")] == [
            f"unknown project: {code} (add a [[ledger.link_rules]] or `pmo-ledger map` it to "
            "a ledger project)"
            for code in ("PRJ-0042", "PRJ-0043")
        ]
        assert "b.xlsx: refused (2 problems)" in result.output
        assert [k for k in _lines(engine) if k.startswith("b/")] == []
        assert _counts(engine) == before
