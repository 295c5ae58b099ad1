"""`pmo-ledger sync | runs | check | connectors` with the sample connector, on SQLite and
PostgreSQL: summary lines, exit codes (0 succeeded, 1 failed or interrupted, 3 partial) and
one `error:` line for what an operator must fix."""

from __future__ import annotations

import io
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

import pmo_ledger.jobs.cli.sync as cli_sync
from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.logconfig import reset_logging
from pmo_ledger.jobs.run_records import StreamResult
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine, SyncLock, SyncRun, SyncRunStream, Variance
from pmo_ledger.ledger.write import ApplyStats

SAMPLE = """\
kind = "sample"
actuals = 200
projects = 3
page_size = 50
lookback = "0s"
"""
AUTHORITY = """\
[ledger.authority]
projects = "demo"
labor = "demo"
expense = "demo"
hours = "demo"
revenue = "demo"
budget = "demo"
"""


@dataclass
class Ledger:
    """A migrated, empty ledger behind a config file with sample connectors."""

    engine: Engine
    tmp_path: Path
    config: Path | None = None

    def configure(
        self, connectors: dict[str, str], ledger: str = "", *, after_sync: bool = False
    ) -> Ledger:
        """Write the config: `[connectors.NAME]` tables of SAMPLE plus their extra lines;
        reconciliation after syncs off unless asked for."""
        url = self.engine.url.render_as_string(hide_password=False)
        text = f'[ledger]\nurl = "{url}"\nbase_currency = "USD"\n{ledger}\n'
        if len(connectors) > 1:
            text += AUTHORITY
        for name, extra in connectors.items():
            text += f"\n[connectors.{name}]\n{SAMPLE}{extra}\n"
        text += f"\n[reconcile]\nafter_sync = {str(after_sync).lower()}\n"
        text += '\n[logging]\nlevel = "ERROR"\n'
        self.config = self.tmp_path / "pmo-ledger.toml"
        self.config.write_text(text, encoding="utf-8")
        return self

    def run(self, *args: str) -> Result:
        """`pmo-ledger --config CONFIG ARGS...` in-process; logging is reset afterwards."""
        assert self.config is not None
        try:
            return CliRunner().invoke(make_cli(), ["--config", str(self.config), *args])
        finally:
            reset_logging()

    def scalar(self, query: Any) -> Any:
        with Session(self.engine) as s:
            return s.scalar(query)

    def runs(self) -> int:
        return int(self.scalar(select(func.count()).select_from(SyncRun)))

    def read(self, run_id: int) -> int:
        """Records read by a run, summed over its streams."""
        query = select(func.sum(SyncRunStream.rows_read)).where(SyncRunStream.run_id == run_id)
        return int(self.scalar(query))

    def inserted_amounts(self, run_id: int) -> dict[str, Decimal]:
        with Session(self.engine) as s:
            row = s.scalars(
                select(SyncRunStream).where(
                    SyncRunStream.run_id == run_id, SyncRunStream.stream == "actuals"
                )
            ).one()
        assert row.amounts is not None
        return {c: Decimal(a) for c, a in row.amounts["inserted"].items()}


@pytest.fixture
def ledger(engine: Engine, tmp_path: Path) -> Ledger:
    """The test database (SQLite and PostgreSQL) with one sample connector, `demo`."""
    return Ledger(engine, tmp_path).configure({"demo": ""})


def ok(result: Result, code: int = 0) -> str:
    """The stdout of a command that must have exited with `code` (no traceback)."""
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result.stdout


def failed(result: Result) -> str:
    """The stderr of a command that must have failed with exit 1 and no traceback."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result.stderr


def last_line(text: str) -> str:
    return text.rstrip("\n").rsplit("\n", 1)[-1]


def row(text: str, first: str, nth: int = 0) -> list[str]:
    """The cells of the first (or the `nth` after it) table row whose first cell is `first`:
    the sync summary's counts are in its first table, status, checkpoint and amounts read in
    its second (nth=1)."""
    found = [
        cells
        for cells in (
            [c.strip() for c in line.strip("│┃ ").split("│")] for line in text.splitlines()
        )
        if cells[0] == first
    ]
    if len(found) <= nth:
        raise AssertionError(f"no row {first!r} (#{nth}) in:\n{text}")
    return found[nth]


# --- sync ------------------------------------------------------------------------------------


def test_sync_loads_and_prints_the_summary(ledger: Ledger) -> None:
    """`sync demo` loads every stream, prints the table, then `run 1 succeeded: ...`; exit 0."""
    stdout = ok(ledger.run("sync", "demo"))
    read = ledger.read(1)
    assert stdout.startswith("demo: run 1")  # nothing printed while running (not a terminal)
    assert last_line(stdout) == f"run 1 succeeded: 10 stream(s), {read} records read"
    # read, new, changed, same, held
    assert row(stdout, "actuals")[1:6] == ["200", "200", "0", "0", "0"]
    amounts = ledger.inserted_amounts(1)
    assert row(stdout, "actuals", 1)[1] == "succeeded"
    assert row(stdout, "actuals", 1)[3] == "; ".join(f"{a:,} {c}" for c, a in amounts.items())
    assert ledger.scalar(select(func.count()).select_from(ActualLine)) == 200


def test_a_second_sync_is_incremental(ledger: Ledger) -> None:
    """The second run starts from the checkpoints: it reads fewer records and writes none."""
    ok(ledger.run("sync", "demo"))
    stdout = ok(ledger.run("sync", "demo"))
    assert ledger.read(2) < ledger.read(1)
    assert last_line(stdout) == f"run 2 succeeded: 10 stream(s), {ledger.read(2)} records read"
    assert row(stdout, "actuals")[2:4] == ["0", "0"]  # new, changed: nothing written


def test_sync_all_runs_every_enabled_connector_and_fails_if_one_did(
    engine: Engine, tmp_path: Path
) -> None:
    """A failing connector does not stop the next one; a disabled one is skipped; exit 1."""
    ledger = Ledger(engine, tmp_path).configure(
        {"broken": 'seed = "x"', "demo": "", "off": "enabled = false"}
    )
    result = ledger.run("sync", "--all")
    stdout = ok(result, 1)
    assert "error: broken: connectors.broken.seed: " in result.stderr
    assert f"run 1 succeeded: 10 stream(s), {ledger.read(1)} records read" in stdout
    assert last_line(stdout) == "all: broken failed, demo succeeded"
    with Session(engine) as s:
        runs = s.execute(select(SyncRun.id, SyncRun.connector).order_by(SyncRun.id))
        assert [tuple(r) for r in runs] == [(1, "demo")]


def test_sync_all_is_partial_when_one_stopped_before_reading_anything(
    engine: Engine, tmp_path: Path
) -> None:
    """A connector stopped by a transient error (the API allowance) before its first row ends
    partial, not failed: `sync --all` exits 3 and names it."""
    ledger = Ledger(engine, tmp_path).configure({"spent": "fail_after_pages = 0", "demo": ""})
    stdout = ok(ledger.run("sync", "--all"), 3)
    assert "run 1 partial: stream projects stopped early: " in stdout
    assert last_line(stdout) == "all: spent partial, demo succeeded"
    with Session(engine) as s:
        assert s.get(SyncRun, 1).status == "partial"  # type: ignore[union-attr]


def test_sync_all_succeeds_with_exit_0(ledger: Ledger) -> None:
    """`sync --all` with one enabled connector that loads exits 0."""
    stdout = ok(ledger.run("sync", "--all"))
    assert last_line(stdout) == f"run 1 succeeded: 10 stream(s), {ledger.read(1)} records read"


def test_a_partial_run_exits_3(engine: Engine, tmp_path: Path) -> None:
    """A stream stopped by a transient error after others loaded: partial, exit 3."""
    ledger = Ledger(engine, tmp_path).configure({"demo": "fail_after_pages = 3"})
    stdout = ok(ledger.run("sync", "demo"), 3)
    assert last_line(stdout).startswith("run 1 partial: stream actuals stopped early: ")
    assert row(stdout, "actuals", 1)[1] == "partial"


def test_dry_run_writes_nothing_and_reports_what_it_would_add(ledger: Ledger) -> None:
    """--dry-run writes no sync_run row and no line; it lists what the real run then adds."""
    stdout = ok(ledger.run("sync", "demo", "--dry-run"))
    assert (ledger.runs(), ledger.scalar(select(func.count()).select_from(ActualLine))) == (0, 0)
    assert stdout.startswith("demo: dry run: nothing was written")
    assert row(stdout, "actuals")[1:3] == ["200", "200"]  # read, new
    assert row(stdout, "actuals", 1)[1] == "succeeded"
    ok(ledger.run("sync", "demo"))
    amounts = "; ".join(f"{a:,} {c}" for c, a in ledger.inserted_amounts(1).items())
    assert stdout.splitlines()[-4:] == [
        f"would add: 200 ({amounts})",
        "would change: 0",
        "would reverse: 0",
        f"dry run of demo succeeded: 10 stream(s), {ledger.read(1)} records read",
    ]


def test_a_period_re_sync_is_recorded_with_its_options(ledger: Ledger) -> None:
    """`--period` re-syncs one scope; `runs show` lists the options it ran with."""
    ok(ledger.run("sync", "demo"))
    stdout = ok(ledger.run("sync", "demo", "--stream", "actuals", "--period", "2025-03"))
    assert last_line(stdout).startswith("run 2 succeeded: 1 stream(s), ")
    assert row(stdout, "actuals")[2:4] == ["0", "0"]  # nothing written: the scope is unchanged
    shown = ok(ledger.run("runs", "show", "2"))
    assert "options:  streams=actuals, period=2025-03\n" in shown


def test_a_bad_period_or_date_is_one_error_line(ledger: Ledger) -> None:
    """--period and --since are checked before anything runs."""
    stderr = failed(ledger.run("sync", "demo", "--period", "2025-3"))
    assert stderr == "error: expected a period like 2025-03, got '2025-3'\n"
    assert failed(ledger.run("sync", "demo", "--since", "soon")).startswith("error: ")
    assert ledger.runs() == 0


def test_already_running_is_one_error_line(ledger: Ledger) -> None:
    """A lease held by another live holder: `error: already running: run 7 since HH:MM UTC`."""
    now = datetime.now(UTC).replace(microsecond=0)
    with Session(ledger.engine) as s:
        s.execute(
            insert(SyncLock).values(
                connector="demo",
                run_id=7,
                holder="elsewhere:1:abcd",
                acquired_at=now,
                heartbeat_at=now,
                pending=False,
            )
        )
        s.commit()
    result = ledger.run("sync", "demo")
    assert failed(result) == f"error: already running: run 7 since {now:%H:%M} UTC\n"
    assert (result.stdout, ledger.runs()) == ("", 0)


def test_unknown_connector_is_one_error_line(ledger: Ledger) -> None:
    """`sync nope` and `check nope` name the configured connectors; exit 1."""
    expected = "error: unknown connector 'nope' (configured: demo)\n"
    assert failed(ledger.run("sync", "nope")) == expected
    assert failed(ledger.run("check", "nope")) == expected


def test_a_disabled_connector_is_refused_with_one_line_and_exit_2(
    engine: Engine, tmp_path: Path
) -> None:
    """`sync off` (enabled = false) runs nothing: one error line naming the key, exit 2, no run
    row, no line; --allow-disabled runs it once, and `runs show` lists that option."""
    ledger = Ledger(engine, tmp_path).configure({"off": "enabled = false"})
    lines = select(func.count()).select_from(ActualLine)
    for args in (("sync", "off"), ("sync", "off", "--dry-run"), ("sync", "off", "--full")):
        result = ledger.run(*args)
        assert (result.exit_code, result.stdout) == (2, ""), args
        assert result.stderr == (
            "error: connector off is disabled (enabled = false in [connectors.off]); "
            "use --allow-disabled to run it once anyway\n"
        )
    assert (ledger.runs(), ledger.scalar(lines)) == (0, 0)
    assert failed(ledger.run("sync", "--all", "--allow-disabled")) == (
        "error: --allow-disabled runs one named connector; --all runs the enabled ones\n"
    )
    stdout = ok(ledger.run("sync", "off", "--allow-disabled"))
    assert last_line(stdout) == f"run 1 succeeded: 10 stream(s), {ledger.read(1)} records read"
    assert (ledger.runs(), ledger.scalar(lines)) == (1, 200)
    shown = ok(ledger.run("runs", "show", "1")).splitlines()
    assert next(x for x in shown if x.startswith("options:")).endswith(", allow-disabled")


def test_bad_settings_are_one_error_line(engine: Engine, tmp_path: Path) -> None:
    """A settings value the kind refuses: one `error: connectors.NAME.key: ...` line."""
    ledger = Ledger(engine, tmp_path).configure({"demo": "programs = 0"})
    stderr = failed(ledger.run("sync", "demo"))
    assert stderr.startswith("error: connectors.demo.programs: ")
    assert stderr.count("\n") == 1


def test_an_unknown_stream_is_one_error_line(ledger: Ledger) -> None:
    """--stream names a stream the connector does not declare: exit 1, nothing written."""
    stderr = failed(ledger.run("sync", "demo", "--stream", "nope"))
    assert stderr.startswith("error: connector demo has no stream nope (streams: projects, ")
    assert ledger.runs() == 0


def test_sync_needs_a_name_or_all(ledger: Ledger) -> None:
    """Neither NAME nor --all (or both): one error line."""
    assert failed(ledger.run("sync")) == "error: name one connector, or use --all\n"
    assert (
        failed(ledger.run("sync", "demo", "--all")) == "error: name one connector, or use --all\n"
    )


def test_sync_help_gives_the_exit_codes() -> None:
    """--help says what 0, 1 and 3 mean."""
    result = CliRunner().invoke(make_cli(), ["sync", "--help"])
    text = " ".join(result.stdout.split())
    assert "0 succeeded; 1 failed or interrupted" in text
    assert "3 partial" in text


def test_ctrl_c_ends_the_run_interrupted(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT during a run sets its cancel event: it stops between pages, exit 1."""
    real = run_sync

    def interrupted_run(*args: Any, on_batch: Callable[[StreamResult], None], **kw: Any) -> Any:
        def batch(outcome: StreamResult) -> None:
            on_batch(outcome)
            signal.raise_signal(signal.SIGINT)

        return real(*args, on_batch=batch, **kw)

    monkeypatch.setattr("pmo_ledger.jobs.cli.sync.run_sync", interrupted_run)
    result = ledger.run("sync", "demo")
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert last_line(result.stdout) == (
        "run 1 interrupted: cancelled during stream projects; "
        "the next run resumes from the last committed checkpoint"
    )
    assert "Ctrl-C again to abort" in result.stderr
    assert ledger.scalar(select(SyncRun.status)) == "interrupted"


def test_a_second_ctrl_c_aborts() -> None:
    """The first SIGINT only sets the event; the second raises; the old handler is back."""
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt), cli_sync.CancelOnInterrupt() as cancel:
        signal.raise_signal(signal.SIGINT)
        assert cancel.is_set()
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is before


def test_progress_shows_a_line_per_stream_on_a_terminal_only() -> None:
    """On a terminal each stream gets a live line with its records read; elsewhere nothing."""
    outcome = StreamResult("actuals", stats=ApplyStats(read=1200))
    terminal = Console(file=io.StringIO(), force_terminal=True, width=100)
    with cli_sync.LiveProgress(terminal, "demo") as progress:
        progress.update(StreamResult("projects", stats=ApplyStats(read=3)))
        progress.update(outcome)
        progress.progress.refresh()  # type: ignore[union-attr]
    shown = terminal.file.getvalue()  # type: ignore[attr-defined]
    assert "demo projects" in shown and "demo actuals" in shown
    assert "1,200 records read" in shown
    pipe = Console(file=io.StringIO())
    with cli_sync.LiveProgress(pipe, "demo") as progress:
        progress.update(outcome)
    assert pipe.file.getvalue() == ""  # type: ignore[attr-defined]


# --- runs ------------------------------------------------------------------------------------


def test_runs_lists_recent_runs(ledger: Ledger) -> None:
    """`runs` lists the runs newest first with rows summed over streams."""
    ok(ledger.run("sync", "demo"))
    ok(ledger.run("sync", "demo"))
    stdout = ok(ledger.run("runs"))
    assert stdout.startswith("Sync runs")
    assert last_line(stdout) == "2 runs"
    first, second = row(stdout, "1"), row(stdout, "2")
    assert first[1:4] == ["demo", "cli", "succeeded"]
    assert first[6] == f"{ledger.read(1):,}" and second[6] == f"{ledger.read(2):,}"
    assert stdout.index("│  2 │") < stdout.index("│  1 │")
    assert last_line(ok(ledger.run("runs", "--limit", "1"))) == "1 run"
    assert ok(ledger.run("runs", "--connector", "other")) == "no runs of other\n"


def test_runs_show_gives_per_stream_figures(ledger: Ledger) -> None:
    """`runs show 1`: the header, a row per stream, the amounts per outcome and currency."""
    ok(ledger.run("sync", "demo"))
    stdout = ok(ledger.run("runs", "show", "1"))
    assert stdout.splitlines()[:2] == ["run 1 of demo: succeeded", "trigger:  cli"]
    assert "message:  10 stream(s), " in stdout
    actuals = row(stdout, "actuals")
    assert actuals[1:7] == ["succeeded", "200", "200", "0", "0", "0"]
    assert actuals[7].endswith("Z")  # the committed checkpoint, UTC
    amounts = ledger.inserted_amounts(1)
    table = stdout.split("Amounts", 1)[1]
    assert table.splitlines()[2].split() == [
        "┃",
        "stream",
        "┃",
        "outcome",
        "┃",
        "EUR",
        "┃",
        "GBP",
        "┃",
        "USD",
        "┃",
    ]
    inserted = next(x for x in table.splitlines() if "│ inserted" in x)
    assert [c.strip() for c in inserted.strip("│ ").split("│")] == [
        "actuals",
        "inserted",
        *(f"{amounts[c]:,}" for c in ("EUR", "GBP", "USD")),
    ]


def test_runs_show_of_an_unknown_run(ledger: Ledger) -> None:
    """`runs show 999`: `error: no run 999`, exit 1."""
    assert failed(ledger.run("runs", "show", "999")) == "error: no run 999\n"


# --- check and connectors ----------------------------------------------------------------------


def test_check_answers_ok_in_one_line(ledger: Ledger) -> None:
    """`check demo`: `demo (sample): ok`, exit 0."""
    assert ok(ledger.run("check", "demo")) == "demo (sample): ok\n"


def test_check_of_a_refusing_source_is_one_line_exit_1(engine: Engine, tmp_path: Path) -> None:
    """check() raises: `NAME (kind): ErrorClass: message`, exit 1."""
    ledger = Ledger(engine, tmp_path).configure({"demo": "check_fails = true"})
    result = ledger.run("check", "demo")
    assert result.exit_code == 1
    assert result.stdout == (
        "demo (sample): ConnectorConfigError: demo: the sample source refuses (check_fails)\n"
    )


def test_connectors_lists_kinds_and_configured_connectors(engine: Engine, tmp_path: Path) -> None:
    """`connectors` shows the sample kind (class, streams) and each configured connector."""
    ledger = Ledger(engine, tmp_path).configure(
        {"demo": 'schedule = "15m"', "off": "enabled = false"}
    )
    stdout = ok(ledger.run("connectors"))
    kind = row(stdout, "sample")
    assert kind[1] == "pmo_ledger.connectors.sample:SampleConnector"
    assert kind[2].startswith("projects, tasks, ")
    assert row(stdout, "demo")[1:] == ["sample", "15m", "yes"]
    assert row(stdout, "off")[1:] == ["sample", "manual", "no"]
    assert "rename" in ok(ledger.run("connectors", "--help"))


def test_report_prints_budget_vs_actual_of_the_ledger(ledger: Ledger) -> None:
    """After a sync, `report` prints every project's budget and actual exactly as the view has them."""
    ok(ledger.run("sync", "demo"))
    out = ok(ledger.run("report"))
    assert "Budget vs actual (USD)" in out
    with Session(ledger.engine) as s:
        rows = s.execute(text(
            "SELECT project_code, budget, actual FROM v_project_budget_vs_actual"
            " WHERE project_code <> 'UNMAPPED' ORDER BY project_code")).all()
    assert len(rows) == 3
    for code, budget, actual in rows:
        line = next(x for x in out.splitlines() if code in x)
        assert f"{Decimal(budget):.2f}" in line and f"{Decimal(actual):.2f}" in line


def test_report_refuses_an_unmigrated_ledger(tmp_path: Path) -> None:
    """`report` on a database without the schema says how to fix it."""
    config = tmp_path / "c.toml"
    config.write_text(f'[ledger]\nurl = "sqlite:///{tmp_path / "x.db"}"\n', encoding="utf-8")
    try:
        result = CliRunner().invoke(make_cli(), ["--config", str(config), "report"])
    finally:
        reset_logging()
    assert result.exit_code == 1
    assert "not at the current schema (run: pmo-ledger db upgrade)" in result.stderr


def test_sync_reconciles_after_loading_when_configured(engine: Engine, tmp_path: Path) -> None:
    """[reconcile] after_sync: the rules run once the sync committed and say what they did;
    a second sync that changes nothing leaves every variance unchanged."""
    ledger = Ledger(engine, tmp_path).configure({"demo": ""}, after_sync=True)
    first = ok(ledger.run("sync", "demo"))
    line = last_line(first)
    assert line.startswith("reconcile: ") and line.endswith("0 resolved, 0 escalated"), line
    with Session(engine) as s:
        opened = s.scalar(select(func.count()).select_from(Variance))
    assert opened and f"{opened} opened" in line
    second = ok(ledger.run("sync", "demo"))
    assert last_line(second) == f"reconcile: {opened} findings; 0 opened, 0 resolved, 0 escalated"
