"""Issue 18, the operator's side of the command line: typos in a connector's table stop every
command (items 1), logs and errors are one readable line (item 5), tables fit 80 columns
(item 6) and the CLI imports no heavy module before a command needs it (item 7)."""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pmo_ledger.connectors.salesforce.client import translate
from pmo_ledger.jobs.cli import COMMANDS, load_command, make_cli
from pmo_ledger.jobs.logconfig import reset_logging

TYPO = """\
[ledger]
url = "sqlite:///{db}"

[connectors.demo]
kind = "sample"
shedule = "15m"
"""


def run(config: Path, *args: str) -> Result:
    """`pmo-ledger --config CONFIG ARGS...` in-process; logging is reset afterwards."""
    try:
        return CliRunner().invoke(make_cli(), ["--config", str(config), *args])
    finally:
        reset_logging()


def typo_config(tmp_path: Path, text: str = TYPO) -> Path:
    path = tmp_path / "pmo-ledger.toml"
    path.write_text(text.format(db=tmp_path / "ledger.db"), encoding="utf-8")
    return path


# --- item 1: typos are caught everywhere -------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ("connectors",),
        ("serve", "--port", "0"),
        ("sync", "demo"),
        ("runs", "list"),
        ("db", "current"),
        ("report",),
        ("verify", "demo"),
    ],
)
def test_an_unknown_key_in_a_connector_table_stops_every_command(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    """`shedule = "15m"` is one `connectors.demo.shedule: unknown key` line and exit 2, before
    any command runs: `serve` never starts without the connector's job."""
    result = run(typo_config(tmp_path), *args)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert result.stderr == "connectors.demo.shedule: unknown key\n"
    assert "Traceback" not in result.output
    assert not (tmp_path / "ledger.db").exists()


def test_serve_lists_every_problem_of_every_connector(tmp_path: Path) -> None:
    """The typos of every connector come together (a bad value is the connector's to report
    when it is built: login_url is not among them)."""
    text = (
        '[ledger]\nurl = "sqlite:///{db}"\nbase_currency = "USD"\n'
        '[ledger.authority]\nprojects = "a"\nlabor = "a"\nexpense = "a"\nhours = "a"\n'
        'revenue = "a"\nbudget = "a"\n'
        '[connectors.a]\nkind = "sample"\nprojcets = 3\n'
        '[connectors.b]\nkind = "salesforce"\nlogin_url = "http://x"\npasword = "p"\n'
        '[connectors.b.streams.projects]\nwehre = "X = 1"\n'
    )
    result = run(typo_config(tmp_path, text), "serve", "--port", "0")
    assert result.exit_code == 2
    assert sorted(result.stderr.splitlines()) == [
        "connectors.a.projcets: unknown key",
        "connectors.b.pasword: unknown key",
        "connectors.b.streams.projects.wehre: unknown key",
    ]


# --- item 5: logs and errors -------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def cli_process(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """`python -m pmo_ledger.jobs.cli ARGS...` in a process of its own (stderr not a terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "pmo_ledger.jobs.cli", *args],
        capture_output=True, text=True, timeout=timeout, cwd=ROOT,
    )  # fmt: skip


def ledger_config(tmp_path: Path, url: str, extra: str = "") -> Path:
    path = tmp_path / "ledger.toml"
    path.write_text(f'[ledger]\nurl = "{url}"\n{extra}', encoding="utf-8")
    return path


def test_db_upgrade_and_ordinary_commands_print_no_migration_log_lines(tmp_path: Path) -> None:
    """alembic's "Context impl" / "Running upgrade" lines never reach the operator."""
    config = ledger_config(tmp_path, f"sqlite:///{tmp_path / 'fresh.db'}")
    upgraded = cli_process("--config", str(config), "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (upgraded.stderr, upgraded.stdout.count("\n")) == ("", 1)
    current = cli_process("--config", str(config), "--log-level", "DEBUG", "db", "current")
    assert current.returncode == 0, current.stderr
    assert "alembic" not in current.stderr


def test_commands_on_a_ledger_at_head_print_no_migration_log_lines(
    engine: Engine, tmp_path: Path
) -> None:
    """On SQLite and PostgreSQL: the schema check of every command logs nothing."""
    config = ledger_config(tmp_path, engine.url.render_as_string(hide_password=False))
    for args in (("db", "current"), ("quarantine", "list"), ("db", "upgrade")):
        done = cli_process("--config", str(config), *args)
        assert (done.returncode, done.stderr) == (0, ""), args


def test_serve_logs_where_it_listens_at_any_level(tmp_path: Path) -> None:
    """`service_started` with the host and port shows at --log-level ERROR too."""
    config = ledger_config(tmp_path, f"sqlite:///{tmp_path / 'l.db'}")
    assert cli_process("--config", str(config), "db", "upgrade").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pmo_ledger.jobs.cli", "--config", str(config),
             "--log-format", "json", "--log-level", "ERROR", "serve", "--port", str(port)],
            cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        started = None
        while started is None and time.monotonic() < deadline and proc.poll() is None:
            for line in log.read_text(encoding="utf-8").splitlines():
                event = json.loads(line)
                if event.get("event") == "service_started":
                    started = event
            time.sleep(0.1)
        assert started is not None, log.read_text(encoding="utf-8")
        assert (started["host"], started["port"]) == ("127.0.0.1", port)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0


def test_an_unreachable_connector_host_is_one_line_with_the_host_and_the_cause(
    tmp_path: Path,
) -> None:
    """`check` of a Salesforce connector on a closed port: the host and "Connection refused",
    no urllib3 pool internals, no retry warnings."""
    config = ledger_config(
        tmp_path,
        f"sqlite:///{tmp_path / 'l.db'}",
        '[connectors.sf]\nkind = "salesforce"\nlogin_url = "https://127.0.0.1:1"\n'
        'username = "u"\npassword = "p"\nsecurity_token = "t"\nmax_retries = 1\n'
        "backoff_seconds = 0\n",
    )
    done = cli_process("--config", str(config), "check", "sf")
    assert done.returncode == 1
    assert done.stderr == ""
    assert done.stdout == (
        "sf (salesforce): ConnectorTransientError: login to https://127.0.0.1:1: "
        "ConnectionError: cannot connect to 127.0.0.1:1: Connection refused\n"
    )


def test_connection_failure_names_an_unknown_host() -> None:
    """A name that does not resolve: the host and the resolver's cause."""
    with pytest.raises(requests.ConnectionError) as err:
        requests.get("https://nonexistent.invalid/", timeout=5)
    text = translate(err.value, "login to https://nonexistent.invalid").args[0]
    assert text.startswith(
        "login to https://nonexistent.invalid: ConnectionError: "
        "cannot connect to nonexistent.invalid:443: "
    )
    assert "HTTPSConnection" not in text and "Max retries" not in text


def test_sandbox_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = cli_process("sandbox", "--port", str(port), "--cert-dir", str(tmp_path / "c"))
    assert done.returncode == 1
    assert done.stderr == f"error: cannot listen on 127.0.0.1:{port}: Address already in use\n"


def test_an_unsupported_database_url_is_one_config_line(tmp_path: Path) -> None:
    """mysql:// is a configuration problem (exit 2) naming the scheme, not the password."""
    config = ledger_config(tmp_path, "mysql://pmo:s3cret@db/ledger")
    done = cli_process("--config", str(config), "db", "current")
    assert done.returncode == 2
    assert done.stderr == (
        "ledger.url: unsupported database (mysql): expected sqlite:///FILE or "
        "postgresql://USER@HOST/DB\n"
    )


FAKE_CLI = """#!/usr/bin/env bash
echo "$*" >>"{calls}"
if [ "$1" = sandbox ]; then
  {sandbox}
fi
"""
SANDBOX_SERVES = """case "$*" in
    *workfront*) printf 'listening\\n[connectors.workfront]\\nbase_url = "https://127.0.0.1:40124"\\n' ;;
    *sap*) printf 'listening\\n[connectors.sap]\\nbase_url = "https://127.0.0.1:40125"\\n' ;;
    *) printf 'listening\\n[connectors.psa]\\nlogin_url = "https://127.0.0.1:40123"\\n' ;;
  esac
  echo "Serving until Ctrl-C."
  echo $$ >>sandbox.pids
  exec sleep 30"""


def run_demo_script(tmp_path: Path, sandbox: str) -> subprocess.CompletedProcess[str]:
    """scripts/demo in a copy of the repository's layout, with a stand-in pmo-ledger."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "demo.toml").write_text(
        (ROOT / "config" / "demo.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "pmo-ledger.db").write_text("an earlier demo's ledger", encoding="utf-8")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pmo-ledger"
    fake.write_text(FAKE_CLI.format(calls=tmp_path / "calls", sandbox=sandbox), encoding="utf-8")
    fake.chmod(0o755)
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo")],
        cwd=tmp_path, env={**os.environ, "BIN": str(bin_dir)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_demo_keeps_the_ledger_when_the_sandbox_does_not_start(tmp_path: Path) -> None:
    done = run_demo_script(tmp_path, 'echo "error: cannot listen on 127.0.0.1:0" >&2; exit 1')
    assert done.returncode == 1
    assert "the ledger is left as it was" in done.stderr
    assert (tmp_path / "pmo-ledger.db").read_text(encoding="utf-8") == "an earlier demo's ledger"
    assert (
        (tmp_path / "calls")
        .read_text(encoding="utf-8")
        .splitlines()[0]
        .startswith("sandbox --port 0 ")
    )


def test_demo_points_the_crm_connector_at_the_port_the_sandbox_took(tmp_path: Path) -> None:
    done = run_demo_script(tmp_path, SANDBOX_SERVES)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "pmo-ledger.db").exists()
    config = (tmp_path / ".sandbox" / "demo.toml").read_text(encoding="utf-8")
    assert 'login_url = "https://127.0.0.1:40123"' in config
    # Each base_url in its own connector's table: Workfront's in pm, SAP's in fin.
    pm = config.split("[connectors.pm]\n")[1].split("\n[")[0]
    fin = config.split("[connectors.fin]\n")[1].split("\n[")[0]
    assert 'base_url = "https://127.0.0.1:40124"' in pm
    assert 'base_url = "https://127.0.0.1:40125"' in fin
    assert config.count("base_url = ") == 2
    calls = (tmp_path / "calls").read_text(encoding="utf-8").splitlines()
    assert calls[1].startswith("sandbox --port 0 --kind workfront ")
    assert calls[2].startswith("sandbox --port 0 --kind sap ")
    assert calls[3:] == [
        f"--config .sandbox/demo.toml {args}"
        for args in ("db upgrade", "sync --all", "verify psa", "verify crm", "verify pm",
                     "verify fin", "report")
    ]  # fmt: skip
    # Every sandbox is stopped when the demo ends (they ran in a command substitution's
    # subshell once, and the exit trap knew none of them).
    pids = [int(p) for p in (tmp_path / "sandbox.pids").read_text(encoding="utf-8").split()]
    assert len(pids) == 3
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_demo_keeps_the_ledger_and_stops_the_others_when_the_sap_sandbox_fails(
    tmp_path: Path,
) -> None:
    """The third sandbox (SAP) cannot start: the ledger stays, no sync runs, and the two that
    did start are stopped."""
    failing = SANDBOX_SERVES.replace(
        "*sap*) printf", "*sap*) echo 'error: cannot listen' >&2; exit 1; printf"
    )
    done = run_demo_script(tmp_path, failing)
    assert done.returncode == 1
    assert "the SAP sandbox did not start; the ledger is left as it was" in done.stderr
    assert (tmp_path / "pmo-ledger.db").read_text(encoding="utf-8") == "an earlier demo's ledger"
    calls = (tmp_path / "calls").read_text(encoding="utf-8").splitlines()
    assert [c.split(" --cert-dir")[0] for c in calls] == [
        "sandbox --port 0",
        "sandbox --port 0 --kind workfront",
        "sandbox --port 0 --kind sap",
    ]
    pids = [int(p) for p in (tmp_path / "sandbox.pids").read_text(encoding="utf-8").split()]
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# --- item 7: start-up ----------------------------------------------------------------------------


HEAVY = ("sqlalchemy", "fastapi", "uvicorn", "alembic", "httpx", "simple_salesforce", "requests")
#: Runs `pmo-ledger ARGS` in this interpreter as the console script does, then prints which of
#: HEAVY it loaded, on the last line of stderr.
RUN_AND_LIST = """
import sys
from pmo_ledger.jobs.cli import main
sys.argv = ["pmo-ledger", *sys.argv[1:]]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(sorted(m for m in {heavy!r} if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


def cli_in_subprocess(cwd: Path, *args: str) -> tuple[str, list[str]]:
    """`pmo-ledger ARGS` in a fresh interpreter (exit 0 expected): stdout and the HEAVY
    modules it loaded."""
    env = {k: v for k, v in os.environ.items() if k != "PMO_LEDGER_CONFIG"}
    env["COLUMNS"] = "80"
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST.format(heavy=HEAVY), *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stderr.strip().splitlines()[-1]
    return done.stdout, json.loads(loaded.replace("'", '"'))


def test_importing_the_cli_loads_no_server_or_migration_library() -> None:
    """`pmo-ledger --help` pays for no web framework, ASGI server or migration library: they
    are imported by the commands that use them (serve, db, the schema check)."""
    code = (
        f"import sys, pmo_ledger.jobs.cli; print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout == "[]\n"


def test_help_loads_no_database_or_http_library(tmp_path: Path) -> None:
    stdout, loaded = cli_in_subprocess(tmp_path, "--help")
    assert "Commands:" in stdout and "connectors  Connector kinds" in stdout
    assert loaded == []


def test_connectors_loads_no_database_or_http_library(tmp_path: Path) -> None:
    """`connectors` reads the whole configuration (a [reconcile] table and connectors of both
    installed kinds included) and loads every installed kind, without SQLAlchemy or an HTTP
    library: the kinds import theirs where they read a source."""
    (tmp_path / "pmo-ledger.toml").write_text(
        """[ledger]
url = "postgresql+psycopg://ledger@127.0.0.1/nowhere"
authority = { projects = "psa", labor = "psa", expense = "psa", hours = "psa", revenue = "psa", budget = "psa" }

[reconcile.rules.budget_overrun]
pct = 15

[connectors.psa]
kind = "salesforce"
login_url = "https://test.salesforce.com"
username = "u@example.com"
password = "p"
security_token = "t"

[connectors.demo]
kind = "sample"
""",
        encoding="utf-8",
    )
    stdout, loaded = cli_in_subprocess(tmp_path, "connectors")
    rows = [[c.strip() for c in line.strip("│").split("│")] for line in stdout.splitlines()]
    assert [r[0] for r in rows if r[0] in ("salesforce", "sample")] == ["salesforce", "sample"]
    assert [r for r in rows if r[0] in ("psa", "demo")] == [
        ["psa", "salesforce", "manual", "yes"],
        ["demo", "sample", "manual", "yes"],
    ]
    assert loaded == []


def test_every_command_is_listed_with_the_help_it_has_when_loaded() -> None:
    """The lazy table's one-line help is the loaded command's own, and `--help` lists every
    command with it, in the table's order."""
    shown = CliRunner().invoke(make_cli(), ["--help"])
    assert shown.exit_code == 0, shown.output
    listed = shown.stdout.split("Commands:\n", 1)[1].splitlines()
    assert [line.split()[0] for line in listed] == list(COMMANDS)
    for line, (name, entry) in zip(listed, COMMANDS.items(), strict=True):
        loaded = load_command(name)
        assert loaded.name == name
        assert loaded.get_short_help_str(10_000) == entry.help, name
        text = line.split(None, 1)[1]  # cut to click's 80 columns with "..."
        assert entry.help == text or entry.help.startswith(text.removesuffix("...")), name
    assert "verify      Compare the source's counts, amounts and hours" in shown.stdout


def test_every_group_a_module_defines_is_in_the_table() -> None:
    modules = {entry.module for entry in COMMANDS.values()}
    defined = {
        g.name
        for module in modules
        for g in getattr(importlib.import_module(f"pmo_ledger.jobs.cli.{module}"), "groups", list)()
    }
    grouped = {name for name, entry in COMMANDS.items() if entry.command is None}
    assert defined == grouped
    assert {"db", "map", "connectors", "variances", "runs", "quarantine"} <= grouped


@pytest.mark.parametrize("name", ["sync", "map", "connectors", "variances", "serve"])
def test_a_command_s_own_help_loads_it(name: str) -> None:
    shown = CliRunner(env={"COLUMNS": "200"}).invoke(make_cli(), [name, "--help"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.startswith(f"Usage: pmo-ledger {name} [OPTIONS]")
    assert COMMANDS[name].help in " ".join(shown.stdout.split())


def test_a_mistyped_command_is_named_with_a_suggestion() -> None:
    shown = CliRunner().invoke(make_cli(), ["mapping", "list"])
    assert shown.exit_code == 2
    assert "No such command 'mapping'. Did you mean 'map'?" in shown.stderr


def test_an_unknown_revision_is_still_one_error_line(tmp_path: Path) -> None:
    """alembic's CommandError, recognised without importing alembic up front."""
    config = ledger_config(tmp_path, f"sqlite:///{tmp_path / 'l.db'}")
    result = run(config, "db", "downgrade", "nope")
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.output
