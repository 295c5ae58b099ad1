"""`pmo-ledger check | sync --period | verify` for a `kind = "sap"` connector configured in a
TOML file, reading the in-test PyRFC stand-in (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.logconfig import reset_logging
from tests.connectors.sap.sap_system import STUB, app, ledger_lines, total
from tests.connectors.sap.stub_rfc import System
from tests.connectors.sap.test_sync import KSTAR, WBS_21, seed


def configure(engine: Engine, tmp_path: Path, rfc_module: str = STUB) -> Path:
    url = engine.url.render_as_string(hide_password=False)
    config = tmp_path / "pmo-ledger.toml"
    config.write_text(
        f'[ledger]\nurl = "{url}"\nbase_currency = "EUR"\n\n'
        f'[connectors.erp]\nkind = "sap"\nrfc_module = "{rfc_module}"\n'
        'controlling_area = "1000"\nbackoff_seconds = 0\n\n'
        '[connectors.erp.rfc]\nashost = "127.0.0.1"\nsysnr = "00"\nclient = 100\n'
        'user = "PMO"\npasswd = "${SAP_PASSWORD}"\n\n'
        '[reconcile]\nafter_sync = false\n\n[logging]\nlevel = "ERROR"\n',
        encoding="utf-8",
    )
    return config


def cli(config: Path, *args: str) -> Result:
    try:
        return CliRunner().invoke(
            make_cli(), ["--config", str(config), *args], env={"SAP_PASSWORD": "secret"}
        )
    finally:
        reset_logging()


def test_sync_period_on_the_command_line_re_reads_that_period(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    year, *_ = seed(system)
    config = configure(engine, tmp_path)
    assert cli(config, "check", "erp").exit_code == 0
    first = cli(config, "sync", "erp")
    assert first.exit_code == 0, first.output
    total(system, "COSP", WBS_21, KSTAR, year - 1, {12: "1000.00"})
    result = cli(config, "sync", "erp", "--period", f"{year - 1}-12")
    assert result.exit_code == 0, result.output
    lines = ledger_lines(app(engine, tmp_path))
    assert lines[("P-2000", f"{year - 1}-12")] == (1, Decimal("1000.00"))
    assert "secret" not in first.output + result.output
    verified = cli(config, "verify", "erp", "--stream", "actuals")
    assert verified.exit_code == 0, verified.output


def test_check_without_pyrfc_says_how_to_get_it_in_one_line(engine: Engine, tmp_path: Path) -> None:
    result = cli(configure(engine, tmp_path, "pyrfc"), "check", "erp")
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if "pyrfc" in line]
    assert len(lines) == 1, result.output
    assert "install SAP's PyRFC with the SAP NW RFC SDK" in lines[0]
    assert "Traceback" not in result.output


def test_verify_prints_the_periods_that_drift(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    year, cur, prev, cur_key, prev_key = seed(system)
    config = configure(engine, tmp_path)
    assert cli(config, "sync", "erp").exit_code == 0
    total(system, "COSP", WBS_21, KSTAR, year, {prev: "-30.25", cur: "0.00"})
    result = cli(config, "verify", "erp", "--stream", "actuals")
    assert result.exit_code == 4, result.output
    out = result.output  # a line at zero is counted on neither side
    assert f"actuals: period {prev_key} P-2000 EUR: count 1 vs 0, amount -30.25 vs 0.00" in out
    assert f"actuals: period {cur_key} P-2000 EUR: count 0 vs 1, amount 0.00 vs -30.25" in out
