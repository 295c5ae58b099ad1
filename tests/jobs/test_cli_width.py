"""Terminal output fits 80 columns, and the sync summary's counts add up (issue 18 item 6).

With COLUMNS=80 (as at an 80-column terminal) every line of the sync summary, `runs`,
`runs show`, `connectors`, `reconcile` (its summary and its report), `variances`,
`quarantine list`, `report`, `fx` and `map` is at most 80 characters, with long project names,
keys and amounts in the hundreds of millions, and every value is still whole (folded cells
joined); the summary's legend says what its columns count and the figures of every stream add
up by it.
"""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.logconfig import reset_logging
from pmo_ledger.ledger.records import BudgetLineRecord, BudgetRecord, ProjectRecord
from pmo_ledger.ledger.time.periods import ensure_periods
from tests.builders import actual, load
from tests.jobs.test_cli import CONFIG, write_config
from tests.jobs.test_cli_sync import Ledger, ok, row
from tests.ledger.reconcile.portfolio import CFG, NOW

#: The summary's count columns, after `stream`.
COUNTS = ("read", "new", "changed", "same", "held", "other")


def narrow(ledger: Ledger, *args: str, code: int = 0) -> str:
    """`pmo-ledger ARGS...` with COLUMNS=80; its stdout, every line checked to fit."""
    assert ledger.config is not None
    try:
        result: Result = CliRunner(env={"COLUMNS": "80"}).invoke(
            make_cli(), ["--config", str(ledger.config), *args]
        )
    finally:
        reset_logging()
    stdout = ok(result, code)
    wide = [line for line in stdout.splitlines() if len(line) > 80]
    assert not wide, "\n".join(wide)
    return stdout


@pytest.fixture
def ledger(engine: Engine, tmp_path: Path) -> Ledger:
    """An ERP-like connector whose projects are not the authority (its actuals wait under
    UNMAPPED, written and quarantined) and which rejects every 10th line."""
    return Ledger(engine, tmp_path).configure({"erp": "reject_every = 10\n", "demo": ""})


def test_the_sync_summary_fits_80_columns_and_adds_up(ledger: Ledger) -> None:
    stdout = narrow(ledger, "sync", "erp")
    assert "read = new + changed + same + held + other" in stdout
    actuals = row(stdout, "actuals")
    figures = dict(zip(COUNTS, (int(c.replace(",", "")) for c in actuals[1:7]), strict=True))
    assert figures["read"] == 200  # 180 records and 20 rejected lines
    assert figures["held"] == 20  # the rejected lines: the others are written
    assert figures["new"] == 180
    assert figures["read"] == sum(v for k, v in figures.items() if k != "read")
    # 180 actual lines under UNMAPPED, and the tasks and allocations of unknown projects
    assert "300 of the records written or unchanged wait for a mapping" in stdout
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) >= 7 and cells[1].replace(",", "").isdigit():
            counts = [int(c.replace(",", "")) for c in cells[1:7]]
            assert counts[0] == sum(counts[1:]), line


def test_runs_and_connectors_fit_80_columns(ledger: Ledger) -> None:
    narrow(ledger, "sync", "erp")
    narrow(ledger, "runs")
    narrow(ledger, "runs", "show", "1")
    narrow(ledger, "connectors")


# --- reconcile, variances, quarantine, report, fx and mapping (both engines) -----------------

#: Two projects with long names and amounts in the hundreds of millions; ERP postings on long
#: WBS keys wait on UNMAPPED (quarantined 'unmapped').
NAMES = {
    "PRJ-2025-000417": "Northwind Traders ERP migration and data warehouse consolidation",
    "PRJ-2025-000418": "Contoso Pharmaceuticals clinical trial platform rollout, EMEA",
}
WBS = [f"WBS-EMEA-2025-000123.04.{i:02d}" for i in range(3)]
RULES = """
[reconcile.rules.budget_overrun]
amount = 100
high_amount = 0
"""


@pytest.fixture
def portfolio(engine: Engine, tmp_path: Path) -> Ledger:
    """Each project: 12,500,000.00 labor budget in each of 2025-09 and 2025-10 and two
    98,765,432.10 labor actuals (123,456.50 h each), one in each period."""
    with Session(engine) as s:
        ensure_periods(s, CFG.calendar, date(2025, 1, 1), date(2025, 12, 31))
        load(s, [ProjectRecord(external_id=c, code=c, name=n) for c, n in NAMES.items()],
             stream="projects", cfg=CFG, at=NOW)  # fmt: skip
        for code in NAMES:
            lines = tuple(
                BudgetLineRecord(external_id=f"{code}/labor/{p}", amount=Decimal("12500000.00"),
                                 currency="USD", cost_type="labor", period=p)
                for p in ("2025-09", "2025-10")
            )  # fmt: skip
            budget = BudgetRecord(external_id=f"{code}/CUR", project_ref=code, kind="current",
                                  effective_from=date(2025, 1, 1), lines=lines)  # fmt: skip
            load(s, [budget], stream="budgets", cfg=CFG, at=NOW)
            spent = [
                actual(f"{code}/{day}", "98765432.10", project_ref=code, cost_type="labor",
                       posted_on=day, hours=Decimal("123456.50"))
                for day in (date(2025, 9, 15), date(2025, 10, 2))
            ]  # fmt: skip
            load(s, spent, cfg=CFG, at=NOW)
        postings = [
            actual(f"4900012345-{i}", "4567890.12", project_ref=key, project_ref_type="wbs",
                   cost_type="subcontractors")
            for i, key in enumerate(WBS)
        ]  # fmt: skip
        load(s, postings, source="erp", stream="postings", cfg=CFG, at=NOW)
    url = engine.url.render_as_string(hide_password=False)
    return Ledger(engine, tmp_path, write_config(tmp_path, url, CONFIG + RULES))


def cells_by_row(stdout: str, starts: int = 0) -> list[list[str]]:
    """The rows of the tables in `stdout`, each cell's lines joined with a space: a row
    starts on a line whose cell `starts` is not empty."""
    rows: list[list[str]] = []
    for line in stdout.splitlines():
        if not line.startswith("│"):
            continue
        cells = [c.strip() for c in line.strip("│").split("│")]
        if cells[starts] or not rows or len(rows[-1]) != len(cells):
            rows.append(cells)
        else:
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
    return rows


def squashed(text: str) -> str:
    """`text` without whitespace: a folded cell joined compares equal to the whole value."""
    return "".join(text.split())


def test_reconcile_and_variances_fit_80_columns_and_keep_every_message(
    portfolio: Ledger,
) -> None:
    said = " ".join(narrow(portfolio, "reconcile").split())  # its lines, joined again
    assert said.startswith("reconciled period ")
    assert said.split("): ", 1)[1] == (
        "budget_overrun 4, forecast_overrun 0, burn_rate 0, hours_overrun 0, over_allocation 0, "
        "under_utilization 0, source_disagreement 0, data_quality 2, released_overrun 0 "
        "variances: 6 opened, "
        "0 updated, 0 unchanged, 0 escalated, 0 reopened, 0 resolved"
    )
    listed = json.loads(ok(portfolio.run("variances", "--format", "json")))["items"]
    assert len(listed) == 6
    table = narrow(portfolio, "variances")
    rows = cells_by_row(table)
    assert len(rows) == 6
    for cells, v in zip(rows, listed, strict=True):
        assert cells[0] == str(v["id"])
        assert cells[1] == f"{v['rule']} {v['period'] or 'to date'}"
        assert cells[2] == f"{v['severity']} {v['status']}"
        assert squashed(cells[3]) == squashed(v["message"])  # whole, wrapped
    assert any("197530864.20" in v["message"] for v in listed)
    report = narrow(portfolio, "reconcile", "--status-date", "2025-10-20")
    found = cells_by_row(report, starts=1)  # a rule over its period, a severity
    assert len(found) == 6
    assert {squashed(r[2]) for r in found} == {squashed(v["message"]) for v in listed}


def test_the_report_fits_80_columns_with_whole_amounts(portfolio: Ledger) -> None:
    with Session(portfolio.engine) as s:  # and a posting on no project: no key to map
        nowhere = actual("4900012399-0", "7654321.98", project_ref=None, cost_type="travel")
        load(s, [nowhere], source="erp", stream="postings", cfg=CFG, at=NOW)
    stdout = narrow(portfolio, "report")
    rows = cells_by_row(stdout, starts=1)  # a project's code, then its name under it
    projects = {r[0].split()[0]: r for r in rows}
    for code, name in NAMES.items():
        project, budget, spent, variance, hours = projects[code]
        assert project == f"{code} {name}"
        assert (budget, spent, variance, hours) == (
            "25000000.00", "197530864.20", "-172530864.20", "246913.00"
        )  # fmt: skip
    assert projects["total"][1:] == ["50000000.00", "395061728.40", "-345061728.40", "493826.00"]
    prose = stdout.split("└", 1)[1]
    for key in WBS:
        said, command = prose.split(f"Unmapped: 1 erp posting (4567890.12 USD) on wbs {key} ")[1]\
            .split("map with: ")[:2]  # fmt: skip
        assert " ".join(said.split()) == "waits on UNMAPPED, quarantined 'unmapped';"
        # the test's configuration path is longer than a line: it breaks, nothing is lost
        assert squashed(command).startswith(
            squashed(f"pmo-ledger --config {portfolio.config} map add erp wbs {key} PROJECT_CODE")
        )
    # the key-less line folds like the others and suggests no command
    said = prose.split("Unmapped: 1 erp posting (7654321.98 USD) on no project ")[1]
    said = said.split("Unmapped:")[0].split("Only the authority's lines count")[0]
    assert " ".join(said.split()) == "waits on UNMAPPED, quarantined 'unmapped'"


def test_quarantine_fx_and_mapping_fit_80_columns(portfolio: Ledger, tmp_path: Path) -> None:
    entries = cells_by_row(narrow(portfolio, "quarantine", "list"))
    assert [(r[2], r[3]) for r in entries] == [
        (f"4900012345-{i}", "unmapped") for i in (2, 1, 0)
    ]  # newest first; the stream column goes first when narrow
    assert [squashed(r[4]) for r in entries] == [
        squashed(f"no project for wbs '{k}'") for k in WBS[::-1]
    ]
    rates = tmp_path / "rates-2025-10-month-end.csv"
    rates.write_text(
        "from_ccy,to_ccy,valid_from,rate,rate_type\n"
        "EUR,USD,2025-10-01,1.08765432,month-end-average\n"
        "JPY,USD,2025-10-01,0.00667123,month-end-average\n",
        encoding="utf-8",
    )
    imported = narrow(portfolio, "fx", "import", str(rates))
    assert squashed(imported) == squashed(
        f"imported 2 rates from {rates}; 0 lines converted, 0 restated"
    )
    listed = cells_by_row(narrow(portfolio, "fx", "list"))
    assert sorted(r[-1] for r in listed) == ["0.00667123", "1.08765432"]
    unmapped = cells_by_row(narrow(portfolio, "map", "list", "--unmapped"))
    assert [(r[2], r[3], r[4]) for r in unmapped] == [(k, "1", "4567890.12 USD") for k in WBS]
    moved = narrow(portfolio, "map", "add", "erp", "wbs", WBS[0], "PRJ-2025-000417",
                   "--cost-type", "subcontractors")  # fmt: skip
    assert " ".join(moved.split()) == (
        f"mapped erp wbs {WBS[0]} -> PRJ-2025-000417 as subcontractors; 1 line re-pointed "
        "UNMAPPED -> PRJ-2025-000417: 1 line, 4567890.12 USD"
    )
    maps = cells_by_row(narrow(portfolio, "map", "list"))
    assert [r for r in maps if r[0] == "psa"] == [
        ["psa", "project", code, code, "authority"] for code in NAMES
    ]  # the links fit whole
    # the cost object map's key folds; its origin (the least needed) goes; no task: no column
    assert [squashed(" ".join(r)) for r in maps if r[0] == "erp"] == [
        squashed(f"erp wbs {WBS[0]} PRJ-2025-000417 subcontractors")
    ]
    resolved = cells_by_row(narrow(portfolio, "quarantine", "list", "--status", "resolved"))
    assert [(r[2], r[-2]) for r in resolved] == [("4900012345-0", "remapped")]


def test_plan_fits_80_columns_with_its_dates_whole(ledger: Ledger) -> None:
    """`plan` with the simulation, a deadline and a confidence: every line fits 80 columns
    (prose wraps at spaces, the table drops its key, late dates, free float, state and WBS
    columns), every date is whole on its line and the task names stay whole."""
    ok(ledger.run("sync", "demo"))
    ok(ledger.run("sync", "erp"))
    stdout = narrow(
        ledger,
        "plan",
        "PRJ-0001",
        "--status-date",
        "2025-03-14",
        "--deadline",
        "2025-05-01",
        "--simulate",
        "300",
        "--confidence",
        "0.9",
    )
    dates = re.findall(r"(?<![\d-])20\d\d-[\d-]*", stdout)
    assert len(dates) > 20 and all(len(d) == 10 for d in dates), dates
    assert "│   Solution design │" in stdout and "│   Go-live         │" in stdout
    assert (
        "critical path: PRJ-0001.T06 (Solution design) -> PRJ-0001.T08 (Development) -> "
        "PRJ-0001.T09 (Integration) -> PRJ-0001.T11 (Testing) -> PRJ-0001.T12 (Go-live)"
    ) in " ".join(stdout.split())
