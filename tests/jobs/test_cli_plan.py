"""`pmo-ledger plan` and `pmo-ledger chart` over a ledger the sample connector filled (SQLite
and PostgreSQL): the schedule, PERT and simulation in each format, reproducible for a seed,
the three charts, and operator errors as one `error:` line; planning stays out of the CLI's
start-up."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.logconfig import reset_logging

CONFIG = """\
[ledger]
url = "{url}"
base_currency = "USD"
rate_sources = ["psa"]
max_rate_age = "31d"

[connectors.psa]
kind = "sample"
actuals = 300

[planning]
holidays = ["2026-01-01"]

[logging]
level = "ERROR"
"""
STATUS = ("--status-date", "2025-12-31")


class Cli:
    def __init__(self, config: Path) -> None:
        self.config = config

    def run(self, *args: str) -> Result:
        try:
            return CliRunner().invoke(make_cli(), ["--config", str(self.config), *args])
        finally:
            reset_logging()


@pytest.fixture
def cli(engine: Engine, tmp_path: Path) -> Cli:
    """The test database with the sample portfolio synced from connector `psa`."""
    path = tmp_path / "pmo-ledger.toml"
    path.write_text(CONFIG.format(url=engine.url.render_as_string(hide_password=False)))
    c = Cli(path)
    result = c.run("sync", "psa")
    assert result.exit_code == 0, result.output
    return c


def test_plan_prints_the_schedule_critical_path_pert_and_risk(cli: Cli) -> None:
    """PRJ-0010 at 31 December 2025, 1 January a holiday: Testing's 28.7 remaining days run
    2 January - 11 February, Go-live (35 days) to 1 April."""
    result = cli.run(
        "plan", "PRJ-0010", *STATUS, "--deadline", "2026-04-01", "--simulate", "2000", "--seed", "7"
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "PRJ-0010 Field Service App: status date 2025-12-31, start 2025-03-05, "
        "finish 2026-04-01 (planned 2026-03-29)"
    )
    assert "critical path: PRJ-0010.T11 (Testing) -> PRJ-0010.T12 (Go-live)" in lines
    pert = next(line for line in lines if line.startswith("PERT: expected finish"))
    assert "; P(finish by 2026-04-01) = 0." in pert
    assert "Monte Carlo: 2,000 iterations (pert, seed 7)" in lines
    testing = next(line for line in lines if "PRJ-0010.T11" in line and "Testing" in line)
    assert "2026-02-11" in testing and "28.70" in testing and "18.00" in testing


def test_plan_json_is_reproducible_for_a_seed(cli: Cli) -> None:
    args = ("plan", "PRJ-0010", *STATUS, "--simulate", "1000", "--seed", "3", "--format", "json")
    first, second = cli.run(*args), cli.run(*args)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    doc = json.loads(first.output)
    assert (doc["finish"], len(doc["tasks"]), doc["critical_path_count"]) == ("2026-04-01", 12, 1)
    assert doc["pert"]["tasks_without_estimates"] == 0
    sim = doc["simulation"]
    assert (sim["iterations"], sim["seed"], sim["distribution"]) == (1000, 3, "pert")
    assert sim["criticality"] == {"PRJ-0010.T11": 1.0, "PRJ-0010.T12": 1.0}
    assert sum(count for _day, count in sim["histogram"]) == 1000
    other = json.loads(cli.run(*args[:-3], "4", "--format", "json").output)["simulation"]
    assert other["histogram"] != sim["histogram"]


def test_plan_csv_has_a_row_per_task(cli: Cli) -> None:
    result = cli.run("plan", "PRJ-0010", *STATUS, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 12
    assert rows[-1]["key"] == "PRJ-0010.T12" and rows[-1]["finish"] == "2026-04-01"
    assert rows[-1]["critical"] == "yes" and rows[0]["state"] == "done"


def test_plan_refuses_an_unknown_project_and_a_bad_date(cli: Cli) -> None:
    unknown = cli.run("plan", "NOPE", *STATUS)
    assert (unknown.exit_code, unknown.output) == (1, "error: no project 'NOPE'\n")
    empty = cli.run("plan", "UNMAPPED", *STATUS)
    assert (empty.exit_code, empty.output) == (
        1,
        "error: no tasks to schedule: UNMAPPED has none in the ledger\n",
    )
    bad = cli.run("plan", "PRJ-0010", "--status-date", "31/12/2025")
    assert bad.exit_code == 1 and bad.output.startswith("error: --status-date: ")


def test_chart_writes_the_three_charts(cli: Cli, tmp_path: Path) -> None:
    outputs = {
        "gantt": "Gantt chart of PRJ-0010 (12 tasks) written to",
        "scurve": "S-curve of PRJ-0010 (13 periods) written to",
        "risk": "risk chart of PRJ-0010 (500 iterations) written to",
    }
    for kind, said in outputs.items():
        out = tmp_path / f"{kind}.png"
        result = cli.run(
            "chart",
            kind,
            "PRJ-0010",
            "--out",
            str(out),
            *STATUS,
            "--simulate",
            "500",
            "--deadline",
            "2026-04-01",
        )
        assert result.exit_code == 0, result.output
        assert result.output == f"{said} {out}\n"
        assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = tmp_path / "gantt.svg"
    assert cli.run("chart", "gantt", "PRJ-0010", "--out", str(svg), *STATUS).exit_code == 0
    assert "<svg" in svg.read_text()


def test_chart_refuses_a_format_it_cannot_write(cli: Cli, tmp_path: Path) -> None:
    result = cli.run("chart", "gantt", "PRJ-0010", "--out", str(tmp_path / "g.pdf"))
    assert (result.exit_code, result.output) == (
        1,
        "error: --out: a chart is written as .png or .svg, not 'g.pdf'\n",
    )
    assert not (tmp_path / "g.pdf").exists()


def test_the_cli_starts_without_numpy_networkx_or_matplotlib() -> None:
    """Building the command tree (what `--help` does) loads none of planning's libraries."""
    code = (
        "import sys; from pmo_ledger.jobs.cli import make_cli; make_cli(); "
        "print(sorted(m for m in ('numpy', 'networkx', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _with(cli: Cli, extra: str) -> Cli:
    """The same ledger with more configuration appended."""
    path = cli.config.with_name("extra.toml")
    path.write_text(cli.config.read_text() + extra)
    return Cli(path)


def test_plan_gives_each_project_its_calendar_or_refuses(cli: Cli) -> None:
    """PRJ-0010 with its own holiday on Friday 2 January 2026 (beside the global 1 January):
    its finish moves a working day, to 2 April. Planned together with PRJ-0001 (the global
    calendar), the two calendars differ: one error line, nothing scheduled."""
    own = _with(cli, '\n[planning.projects."PRJ-0010"]\nholidays = ["2026-01-01", "2026-01-02"]\n')
    alone = own.run("plan", "PRJ-0010", *STATUS, "--format", "json")
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.output)["finish"] == "2026-04-02"
    both = own.run("plan", "PRJ-0010", "PRJ-0001", *STATUS)
    assert (both.exit_code, both.output) == (
        1,
        "error: PRJ-0010, PRJ-0001 have different calendars ([planning.projects]): "
        "plan them one at a time\n",
    )


def test_plan_says_why_it_runs_without_history(cli: Cli) -> None:
    """--history with fewer finished tasks than history_min_tasks at every level: one line
    says so (text), and `history_note` (JSON)."""
    strict = _with(cli, "").config
    text = strict.read_text().replace("[planning]\n", "[planning]\nhistory_min_tasks = 1000\n")
    strict.write_text(text)
    c = Cli(strict)
    args = ("plan", "PRJ-0010", *STATUS, "--simulate", "200", "--history")
    result = c.run(*args)
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if line.startswith("no history"))
    assert note.startswith("no history: fewer than 1000 finished tasks in project PRJ-0010")
    doc = json.loads(c.run(*args, "--format", "json").output)["simulation"]
    assert (doc["history"], doc["history_note"]) == (None, note)


def test_plan_bounds_the_iterations_and_skips_them_for_csv(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trillion iterations is one error line (it was a MemoryError traceback), for `plan`
    and `chart risk`; `--format csv` prints the schedule and runs no simulation."""
    huge = cli.run("plan", "PRJ-0010", *STATUS, "--simulate", "1000000000000")
    assert (huge.exit_code, huge.output) == (
        1,
        "error: --simulate: at most 1,000,000 iterations, got 1,000,000,000,000\n",
    )
    risk = cli.run("chart", "risk", "PRJ-0010", "--out", "x.png", "--simulate", "2000000")
    assert (risk.exit_code, risk.output) == (
        1,
        "error: --simulate: at most 1,000,000 iterations, got 2,000,000\n",
    )

    def no_simulation(*args: object, **kw: object) -> None:
        raise AssertionError("the CSV ran a simulation")

    monkeypatch.setattr("pmo_ledger.ledger.planning.montecarlo.simulate", no_simulation)
    result = cli.run("plan", "PRJ-0010", *STATUS, "--simulate", "500", "--format", "csv")
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(result.output)))) == 12


def test_plan_gives_the_date_at_a_chosen_confidence(cli: Cli) -> None:
    """--confidence 0.8 is PERT's own 80% date (and the simulation's P80); 0.5 and 0.9 come
    with it, in text and JSON; 1.5 is refused."""
    args = ("plan", "PRJ-0010", *STATUS, "--simulate", "500", "--seed", "2")
    qs = ("--confidence", "0.5", "--confidence", "0.8", "--confidence", "0.9")
    doc = json.loads(cli.run(*args, *qs, "--format", "json").output)
    pert, sim = doc["pert"], doc["simulation"]
    assert list(pert["confidence"]) == ["0.5", "0.8", "0.9"]
    assert pert["confidence"]["0.8"] == pert["p80"]
    assert pert["confidence"]["0.5"] < pert["confidence"]["0.9"]
    assert sim["confidence"]["0.8"] == sim["percentiles"]["p80"]
    text = cli.run(*args, *qs).output.splitlines()
    c = pert["confidence"]
    assert f"PERT: P50 by {c['0.5']}, P80 by {c['0.8']}, P90 by {c['0.9']}" in text
    assert any(f"P90 {sim['confidence']['0.9']}" in line for line in text)
    bad = cli.run(*args, "--confidence", "1.5")
    assert (bad.exit_code, bad.output) == (
        1,
        "error: --confidence: a confidence is between 0 and 1 (exclusive), got 1.5\n",
    )


def test_the_other_sources_copies_are_reported_in_one_line() -> None:
    """P1 scheduled from the PSA, its ERP (12 tasks) and Workfront (1 task) copies not: one
    line names them and the way to choose (the demo's PRJ-0004 scheduled all three)."""
    from datetime import date
    from decimal import Decimal

    from pmo_ledger.jobs.cli.plan import Plan, notes
    from pmo_ledger.ledger.planning.cpm import schedule
    from pmo_ledger.ledger.planning.model import PlanTask
    from pmo_ledger.ledger.planning.pert import pert
    from pmo_ledger.ledger.queries.planning import PlanData

    tasks = [PlanTask("A", "A", most_likely=Decimal(2))]
    sched = schedule(tasks, [], start=date(2025, 1, 6))
    data = PlanData(
        [], tasks, [], sources={"P1": "psa"}, not_scheduled={"P1": {"erp": 12, "wf": 1}}
    )
    assert notes(Plan(data, sched, pert(sched.network))) == [
        "not scheduled (other sources' copies): P1: erp 12 tasks, wf 1 task (see --source)"
    ]


def test_plan_help_names_its_projects_argument_project_dots() -> None:
    """`plan --help` names the repeated argument `PROJECT...`, in the usage line and in the
    arguments, not typer's `{PROJECT}...` and `PROJECT <list[str]>`."""
    result = CliRunner().invoke(make_cli(), ["plan", "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Usage: pmo-ledger plan [OPTIONS] PROJECT..."
    (row,) = [line for line in lines if "scheduled together" in line]
    assert row.split(maxsplit=1) == [
        "PROJECT...",
        "Project code(s), scheduled together.  [required]",
    ]
    assert "list[str]" not in result.output
