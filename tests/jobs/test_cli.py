"""The `pmo-ledger` command line: each command's summary line, and operator errors as one
`error:` line with exit 1 (config errors exit 2). Ledger flows run on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.config import load_config
from pmo_ledger.jobs.logconfig import reset_logging
from pmo_ledger.ledger import migrate
from pmo_ledger.ledger.db import make_engine, session_factory
from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    ActualLine,
    FiscalPeriod,
    FxRate,
    FxRateDaily,
    Project,
    Quarantine,
    utcnow,
)
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.write import Mapping, add_mappings
from tests.builders import T0, actual, add_project, line, load
from tests.ledger.conftest import refusing_rates_from

NOT_AT_HEAD = (
    "error: the ledger database is not at the current schema (run: pmo-ledger db upgrade)\n"
)
CONFIG = """\
[ledger]
url = "{url}"
base_currency = "USD"
rate_sources = ["manual"]

[ledger.authority]
projects = "psa"
labor = "psa"
expense = "psa"
hours = "psa"
revenue = "psa"
budget = "psa"

[[ledger.link_rules]]
source = "erp"
object_type = "wbs"
pattern = '^(?P<code>PRJ-\\d{{4}})(\\.\\d+)*$'
project = "{{code}}"

[connectors.psa]
kind = "sample"

[connectors.erp]
kind = "sample"

[logging]
level = "WARNING"
"""


def write_config(tmp_path: Path, url: str, text: str = CONFIG) -> Path:
    """A configuration file for `url` in tmp_path."""
    path = tmp_path / "pmo-ledger.toml"
    path.write_text(text.format(url=url), encoding="utf-8")
    return path


def invoke(config: Path, *args: str) -> Result:
    """Run `pmo-ledger --config CONFIG ARGS...` in-process; logging is reset afterwards."""
    try:
        return CliRunner().invoke(make_cli(), ["--config", str(config), *args])
    finally:
        reset_logging()


@dataclass
class Ledger:
    """A configured ledger database for CLI tests."""

    config: Path
    engine: Engine
    settings: LedgerSettings

    def run(self, *args: str) -> Result:
        return invoke(self.config, *args)

    def session(self) -> Session:
        return session_factory(self.engine)()


@pytest.fixture
def ledger(engine: Engine, tmp_path: Path) -> Ledger:
    """The migrated, empty test database (SQLite and PostgreSQL) behind a config file."""
    config = write_config(tmp_path, engine.url.render_as_string(hide_password=False))
    return Ledger(config, engine, load_config(config, {}).ledger)


@pytest.fixture
def fresh_sqlite(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(config, database file) of a SQLite ledger that was never migrated."""
    db = tmp_path / "fresh.db"
    yield write_config(tmp_path, f"sqlite:///{db}"), db


def unmapped_erp_line(ledger: Ledger, wbs: str = "W-1") -> None:
    """Project P1 (psa) and one erp posting on a WBS element no mapping places."""
    with ledger.session() as s:
        add_project(s, "P1")
        load(
            s,
            [actual("e1", project_ref=wbs, project_ref_type="wbs")],
            source="erp",
            stream="postings",
            cfg=ledger.settings,
            at=T0,
        )


def ok(result: Result) -> str:
    """The stdout of a command that must have succeeded."""
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def failed(result: Result) -> str:
    """The stderr of a command that must have failed with exit 1 and no traceback."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert "Traceback" not in result.output
    return result.stderr


# --- help, config, schema ----------------------------------------------------------------------


def test_console_script_help_lists_the_command_groups() -> None:
    """The installed `pmo-ledger --help` names every command group."""
    script = Path(sys.executable).parent / "pmo-ledger"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    for name in (
        "db",
        "map",
        "fx",
        "period",
        "authority",
        "rates",
        "quarantine",
        "project",
        "connectors",
        "demo",
        "serve",
    ):
        assert f" {name} " in result.stdout


def test_bad_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    """A config error prints `key.path: problem` on stderr, exit 2, no traceback."""
    config = tmp_path / "bad.toml"
    config.write_text('[connectors.x]\nkind = "sample"\nlookback = "15"\n', encoding="utf-8")
    result = invoke(config, "db", "current")
    assert result.exit_code == 2
    assert result.stderr == 'connectors.x.lookback: expected a duration like "15m"\n'
    assert "Traceback" not in result.output


def test_upgrade_then_current_prints_the_head(fresh_sqlite: tuple[Path, Path]) -> None:
    """`db upgrade` migrates a new file to the head; `db current` prints it."""
    config, db = fresh_sqlite
    head = migrate.heads(make_engine(f"sqlite:///{db}"))[0]
    assert ok(invoke(config, "db", "upgrade")) == f"upgraded sqlite:///{db} to {head} (head)\n"
    assert ok(invoke(config, "db", "current")) == f"{head} (head)\n"


def test_upgrade_and_current_on_a_migrated_database(ledger: Ledger) -> None:
    """On a database at the head, upgrade changes nothing and current prints the head."""
    head = migrate.heads(ledger.engine)[0]
    assert ok(ledger.run("db", "upgrade")).endswith(f"is already at {head} (head)\n")
    assert ok(ledger.run("db", "current")) == f"{head} (head)\n"


def test_downgrade_to_base_empties_the_database(fresh_sqlite: tuple[Path, Path]) -> None:
    """`db downgrade base` drops the schema; current then says so."""
    config, _ = fresh_sqlite
    ok(invoke(config, "db", "upgrade"))
    assert ok(invoke(config, "db", "downgrade", "base")).endswith("none (empty database)\n")
    assert ok(invoke(config, "db", "current")) == "none (empty database)\n"
    assert failed(invoke(config, "db", "downgrade", "nope")).startswith("error: ")


def test_a_command_on_an_unmigrated_database_refuses(fresh_sqlite: tuple[Path, Path]) -> None:
    """Every ledger command first checks the schema: exact message, exit 1."""
    config, _ = fresh_sqlite
    for args in (("map", "list"), ("period", "close", "2025-10"), ("authority", "apply"),
                 ("serve", "--port", "0")):  # fmt: skip
        assert failed(invoke(config, *args)) == NOT_AT_HEAD


def test_unreachable_database_is_one_line_with_the_password_masked(tmp_path: Path) -> None:
    """An OperationalError names the URL without its password."""
    url = "postgresql://pmo:s3cret@127.0.0.1:1/ledger"
    err = failed(invoke(write_config(tmp_path, url), "map", "list"))
    assert err.startswith(
        "error: cannot reach the ledger database: postgresql://pmo:***@127.0.0.1:1"
    )
    assert "s3cret" not in err
    assert err.count("\n") == 1


def test_rebuild_aggregates(ledger: Ledger) -> None:
    """`db rebuild-aggregates` rebuilds one source or all."""
    assert ok(ledger.run("db", "rebuild-aggregates")) == "rebuilt the aggregates of every source\n"
    out = ok(ledger.run("db", "rebuild-aggregates", "--source", "psa"))
    assert out == "rebuilt the aggregates of source psa\n"


# --- mappings ----------------------------------------------------------------------------------


def test_map_add_unknown_project(ledger: Ledger) -> None:
    """Mapping to a project code the ledger does not have is refused with its name, exit 2
    (issue 18: a refused mapping exits 2; tests/jobs/test_cli_mapping.py has the others)."""
    result = ledger.run("map", "add", "erp", "wbs", "W-1", "NOPE")
    assert (result.exit_code, result.stderr) == (2, "error: unknown project code 'NOPE'\n")


def test_map_add_repoints_the_unmapped_line(ledger: Ledger) -> None:
    """`map add` stores the mapping and re-points the waiting line in the same transaction."""
    unmapped_erp_line(ledger)
    out = ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P1"))
    assert (
        out == "mapped erp wbs W-1 -> P1; 1 line re-pointed\n  UNMAPPED -> P1: 1 line, 100.00 USD\n"
    )
    with ledger.session() as s:
        assert line(s, "e1", source="erp").project_id != UNMAPPED_ID
        assert s.scalar(select(Quarantine.status)) == "resolved"


def test_map_list_unmapped_groups_by_key(ledger: Ledger) -> None:
    """`map list --unmapped` shows each waiting key with its line count and amount."""
    unmapped_erp_line(ledger)
    out = ok(ledger.run("map", "list", "--unmapped"))
    row = next(r for r in out.splitlines() if "W-1" in r)
    assert [c.strip() for c in row.split("│")[1:-1]] == ["erp", "wbs", "W-1", "1", "100.00 USD"]
    ok(ledger.run("map", "add", "erp", "wbs", "W-1", "P1"))
    assert ok(ledger.run("map", "list", "--unmapped")) == "no unmapped lines\n"
    listed = ok(ledger.run("map", "list"))
    assert "W-1" in listed and "manual" in listed


def test_map_import(ledger: Ledger, tmp_path: Path) -> None:
    """`map import` stores every row and re-points the lines that waited on them."""
    unmapped_erp_line(ledger)
    csv = tmp_path / "maps.csv"
    csv.write_text(
        "source,object_type,external_id,project_code\nerp,wbs,W-1,P1\nerp,wbs,W-2,P1\n",
        encoding="utf-8",
    )
    out = ok(ledger.run("map", "import", str(csv)))
    assert out == f"imported 2 mappings from {csv}; 1 line re-pointed\n"


def test_map_import_bad_csv_names_the_line(ledger: Ledger, tmp_path: Path) -> None:
    """A bad row fails the whole import with the file and line number."""
    csv = tmp_path / "maps.csv"
    csv.write_text(
        "source,object_type,external_id,project_code\nerp,wbs,W-1,P1\nerp,wbs,W-2,\n",
        encoding="utf-8",
    )
    assert failed(ledger.run("map", "import", str(csv))) == (
        f"error: {csv}: line 3: empty project_code\n"
    )
    missing = tmp_path / "missing.csv"
    assert failed(ledger.run("map", "import", str(missing))).startswith(f"error: {missing}: ")


def test_rules_test(ledger: Ledger) -> None:
    """`map rules test` shows the matching rule and whether its project exists."""
    out = ok(ledger.run("map", "rules", "test", "erp", "wbs", "PRJ-1003.2"))
    assert out.splitlines() == [
        "ledger.link_rules[0] (pattern '^(?P<code>PRJ-\\\\d{4})(\\\\.\\\\d+)*$') gives "
        "erp wbs PRJ-1003.2 -> PRJ-1003",
        "no project PRJ-1003 in the ledger: the key stays unmapped until it exists",
    ]
    out = ok(ledger.run("map", "rules", "test", "erp", "wbs", "OPS-1"))
    assert out == "no link rule matches erp wbs OPS-1: it stays unmapped\n"


# --- fx and periods ----------------------------------------------------------------------------


def test_fx_import_converts_a_waiting_line_and_list_shows_the_rate(
    ledger: Ledger, tmp_path: Path
) -> None:
    """A EUR line waiting for a rate is converted by `fx import`; `fx list` shows the rate."""
    with ledger.session() as s:
        add_project(s, "P1")
        load(s, [actual("a1", "100.00", currency="EUR")], cfg=ledger.settings, at=T0)
        assert line(s, "a1").base_amount is None
    csv = tmp_path / "rates.csv"
    csv.write_text("from_ccy,to_ccy,valid_from,rate\nEUR,USD,2025-10-01,1.1000\n", "utf-8")
    out = ok(ledger.run("fx", "import", str(csv)))
    assert out == f"imported 1 rate from {csv}; 1 line converted, 0 restated\n"
    with ledger.session() as s:
        assert line(s, "a1").base_amount == Decimal("110.0000")
    listed = ok(ledger.run("fx", "list", "--currency", "eur"))
    row = next(r for r in listed.splitlines() if "EUR" in r)
    assert [c.strip() for c in row.split("│")[1:-1]] == [
        "manual",
        "corporate",
        "EUR",
        "USD",
        "2025-10-01",
        "1.10000000",
    ]


def test_fx_import_bad_file_names_the_line(ledger: Ledger, tmp_path: Path) -> None:
    """A bad rate file is refused with its line number; nothing is applied."""
    csv = tmp_path / "rates.csv"
    csv.write_text("from_ccy,to_ccy,valid_from,rate\nEUR,USD,2025-10-01,-1\n", "utf-8")
    assert failed(ledger.run("fx", "import", str(csv))) == (
        f"error: {csv}: line 2: rate must be positive, got '-1'\n"
    )


def test_fx_import_refuses_a_rate_8_places_cannot_hold_and_imports_nothing(
    ledger: Ledger, tmp_path: Path
) -> None:
    """1e-20 was stored as 0 (and gave GBP lines a base amount of 0): now the file is refused,
    naming the row and the value; the EUR row before it is not imported either."""
    with ledger.session() as s:
        add_project(s, "P1")
        load(s, [actual("g1", "769.00", currency="GBP")], cfg=ledger.settings, at=T0)
    csv = tmp_path / "rates.csv"
    csv.write_text(
        "from_ccy,to_ccy,valid_from,rate\nEUR,USD,2025-10-01,1.1\nGBP,USD,2025-10-01,1e-20\n",
        "utf-8",
    )
    assert failed(ledger.run("fx", "import", str(csv))) == (
        f"error: {csv}: line 3: rate '1e-20' cannot be held at 8 decimal places: it would be "
        "stored as 0.00000000, more than 0.1% away\n"
    )
    with ledger.session() as s:
        assert s.scalar(select(func.count()).select_from(FxRate)) == 0
        assert (line(s, "g1").rate, line(s, "g1").base_amount) == (None, None)


def test_fx_import_refuses_a_date_far_out_at_once(ledger: Ledger, tmp_path: Path) -> None:
    """Year 9999 crashed the daily horizon and year 1 wrote 744,000 daily rows: both are
    refused before anything is written, naming the row."""
    csv = tmp_path / "rates.csv"
    for day, line_no in (("9999-12-31", 2), ("0001-01-01", 2)):
        csv.write_text(f"from_ccy,to_ccy,valid_from,rate\nEUR,USD,{day},1.1\n", "utf-8")
        latest = date.today().year + 50  # noqa: DTZ011 - the CLI's today, as the file is read
        assert failed(ledger.run("fx", "import", str(csv))) == (
            f"error: {csv}: line {line_no}: valid_from {day} is outside 1900-01-01 .. "
            f"{latest}-12-31\n"
        )
    with ledger.session() as s:
        assert s.scalar(select(func.count()).select_from(FxRateDaily)) == 0


def test_fx_import_a_row_the_database_refuses_rolls_back_the_file(
    ledger: Ledger, tmp_path: Path
) -> None:
    """The database refuses the second of three rows (a trigger, on both engines): exit 1 with
    the row named (not the connection), and no rate, daily row or quarantine entry stays."""
    with ledger.session() as s:
        add_project(s, "P1")
        load(s, [actual("e1", "100.00", currency="EUR")], cfg=ledger.settings, at=T0)
    csv = tmp_path / "rates.csv"
    csv.write_text(
        "from_ccy,to_ccy,valid_from,rate\n"
        "EUR,USD,2025-10-01,1.1\nCHF,USD,2025-10-01,1.12\nGBP,USD,2025-10-01,1.25\n",
        "utf-8",
    )
    with refusing_rates_from(ledger.engine, "CHF"):
        stderr = failed(ledger.run("fx", "import", str(csv)))
    errors = [x for x in stderr.splitlines() if x.startswith("error:")]  # (after the log event)
    assert errors == [
        f"error: {csv}: line 3: the database refused the corporate rate CHF/USD from "
        "2025-10-01: CHF refused; nothing was imported"
    ]
    with ledger.session() as s:
        counts = [
            s.scalar(select(func.count()).select_from(t)) for t in (FxRate, FxRateDaily, Quarantine)
        ]
        assert (counts, line(s, "e1").base_amount) == ([0, 0, 0], None)


def test_period_close_then_reopen(ledger: Ledger) -> None:
    """A period closes once and reopens; the stored row follows."""
    assert (
        ok(ledger.run("period", "close", "2025-10")) == "closed period 2025-10 of calendar fiscal\n"
    )
    assert ok(ledger.run("period", "close", "2025-10")) == "period 2025-10 was already closed\n"
    with ledger.session() as s:
        status = select(FiscalPeriod.status).where(FiscalPeriod.period == "2025-10")
        assert s.scalar(status) == "closed"
    out = ok(ledger.run("period", "reopen", "2025-10"))
    assert out == "reopened period 2025-10 of calendar fiscal\n"
    with ledger.session() as s:
        assert s.scalar(status) == "open"


def test_bad_period_is_a_clear_error(ledger: Ledger) -> None:
    """A malformed period and one the calendar lacks are refused in one line."""
    assert failed(ledger.run("period", "close", "2025-13x")) == (
        "error: expected a period like 2025-03, got '2025-13x'\n"
    )
    assert failed(ledger.run("period", "reopen", "2025-13")) == (
        "error: no fiscal period 2025-13 in calendar fiscal\n"
    )


# --- quarantine --------------------------------------------------------------------------------


def test_quarantine_list_retry_purge(ledger: Ledger) -> None:
    """list shows the open entry; retry re-points it once mapped; purge drops its payload."""
    unmapped_erp_line(ledger)
    listed = ok(ledger.run("quarantine", "list", "--source", "erp", "--reason", "unmapped"))
    assert "e1" in listed and listed.endswith("1 entry\n")
    assert ok(ledger.run("quarantine", "list", "--source", "psa")) == (
        "no open quarantine entries\n"
    )
    with ledger.session() as s, s.begin():
        add_mappings(s, [Mapping("erp", "wbs", "W-1", "P1")], utcnow())
    assert ok(ledger.run("quarantine", "retry", "--source", "erp")) == (
        "retried 0 records (0 superseded); 1 line re-pointed; 0 entries still open\n"
    )
    resolved = ok(ledger.run("quarantine", "list", "--status", "resolved"))
    assert "remapped" in resolved
    tomorrow = (utcnow().date() + timedelta(days=1)).isoformat()
    assert ok(ledger.run("quarantine", "purge", "--resolved-before", tomorrow)) == (
        f"purged the payloads of 1 entry resolved before {tomorrow}\n"
    )
    with ledger.session() as s:
        assert s.scalar(select(Quarantine.payload)) is None


def test_bad_date_is_a_clear_error(ledger: Ledger) -> None:
    """A date option that is not a date is refused in one line, exit 1."""
    err = failed(ledger.run("quarantine", "purge", "--resolved-before", "yesterday"))
    assert err.startswith("error: ") and "yesterday" in err and err.count("\n") == 1
    assert failed(ledger.run("rates", "apply", "--from", "2025-02-30")).startswith("error: ")


# --- operator actions --------------------------------------------------------------------------


def test_authority_and_rates_apply(ledger: Ledger) -> None:
    """Both re-evaluations run in a transaction and report their counts."""
    assert ok(ledger.run("authority", "apply")) == (
        "authority applied: 0 lines, 0 budget lines and 0 forecasts reclassified\n"
    )
    assert ok(ledger.run("rates", "apply", "--from", "2025-10-01")) == (
        "re-valued 0 lines worked on or after 2025-10-01\n"
    )


def test_project_merge(ledger: Ledger) -> None:
    """Merging moves DROP's lines and links to KEEP and leaves DROP as a tombstone."""
    with ledger.session() as s:
        add_project(s, "P1")
        add_project(s, "P2")
        load(s, [actual("a1", project_ref="P2")], cfg=ledger.settings, at=T0)
    assert ok(ledger.run("project", "merge", "P1", "P2")) == (
        "merged P2 into P1: 1 line and 0 budget lines moved; also moved: project_link 1\n"
    )
    with ledger.session() as s:
        p1 = s.scalar(select(Project.id).where(Project.code == "P1"))
        assert line(s, "a1").project_id == p1
        assert s.scalar(select(Project.merged_into_id).where(Project.code == "P2")) == p1
    assert (
        failed(ledger.run("project", "merge", "P1", "P9")) == "error: unknown project code 'P9'\n"
    )


def test_connectors_rename(ledger: Ledger) -> None:
    """Renaming rewrites every key of the connector; a name in use is refused."""
    with ledger.session() as s:
        add_project(s, "P1")
        load(s, [actual("a1")], cfg=ledger.settings, at=T0)
    out = ok(ledger.run("connectors", "rename", "psa", "psa2"))
    assert out.splitlines() == [
        "renamed connector psa to psa2: actual_line 1, actual_period_total 1, ledger_entry 1, "
        "project_link 1, project_link_history 1",
        "now rename [connectors.psa] to [connectors.psa2] in the configuration",
    ]
    with ledger.session() as s:
        assert s.scalar(select(ActualLine.source)) == "psa2"
        # the name is an identity (rule 1): the link's history says psa2 too
        assert set(s.scalars(text("SELECT source FROM project_link_history"))) == {"psa2"}
    assert failed(ledger.run("connectors", "rename", "erp", "psa2")) == (
        "error: connector name 'psa2' already has data in actual_period_total\n"
    )
    assert failed(ledger.run("connectors", "rename", "erp", "erp2")) == (
        "error: no data for connector 'erp'\n"
    )


def test_log_options_are_accepted(ledger: Ledger) -> None:
    """--log-format and --log-level override [logging]; a bad value is a usage error."""
    result = invoke(ledger.config, "--log-format", "json", "--log-level", "debug", "db", "current")
    assert result.exit_code == 0
    assert invoke(ledger.config, "--log-format", "xml", "db", "current").exit_code == 2


def test_serve_on_a_public_host_needs_the_token(fresh_sqlite: tuple[Path, Path]) -> None:
    """`serve --host` off loopback without [service] api_token is refused before it starts."""
    config, _ = fresh_sqlite
    result = invoke(config, "serve", "--host", "0.0.0.0")  # noqa: S104 - the refused case
    assert result.exit_code == 2
    assert "--host 0.0.0.0 is not a loopback address: set [service] api_token first" in (
        " ".join(result.stderr.split()).replace("│", "").replace("  ", " ")
    )


def test_runs_unlock_frees_a_stuck_lock_and_refuses_a_live_one(ledger: Ledger) -> None:
    """`runs unlock NAME`: one line each way; a live holder is an error line, exit 1."""
    from pmo_ledger.jobs.lease import Lease

    assert ok(ledger.run("runs", "unlock", "psa")) == "psa: not locked\n"
    stuck = Lease(ledger.engine, "psa", "host:1:gone", timedelta(minutes=10))
    past = utcnow() - timedelta(hours=1)
    assert stuck.acquire(now=past) is None
    since = past.strftime("%H:%M")
    assert (
        ok(ledger.run("runs", "unlock", "psa"))
        == f"psa: unlocked (a run starting since {since} UTC)\n"
    )
    assert Lease(ledger.engine, "psa", "host:2:alive", timedelta(minutes=10)).acquire() is None
    refused = failed(ledger.run("runs", "unlock", "psa"))
    assert refused.startswith("error: psa is held by host:2:alive (a run starting since ")
    assert ok(ledger.run("runs", "unlock", "psa", "--force")).startswith("psa: unlocked (")
