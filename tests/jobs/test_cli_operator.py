"""Issue 18, the operator's side of the command line: typos in a connector's table stop every
command (items 1), logs and errors are one readable line (item 5), tables fit 80 columns
(item 6) and the CLI imports no heavy module before a command needs it (item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pmo_ledger.jobs.cli import make_cli
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
        '[connectors.c]\nkind = "salesfroce"\n'
    )
    result = run(typo_config(tmp_path, text), "serve", "--port", "0")
    assert result.exit_code == 2
    assert sorted(result.stderr.splitlines()) == [
        "connectors.a.projcets: unknown key",
        "connectors.b.pasword: unknown key",
        "connectors.b.streams.projects.wehre: unknown key",
        "connectors.c.kind: unknown kind 'salesfroce' (installed: salesforce, sample)",
    ]
