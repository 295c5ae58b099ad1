"""`pmo-ledger check | sync | verify` for a `kind = "oracle"` connector configured in a TOML
file, reading the EBS-shaped source (the ledger on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from pmo_ledger.connectors.oracle.sandbox import mutate
from pmo_ledger.connectors.oracle.sandbox.run import ebs_settings
from pmo_ledger.jobs.cli import make_cli
from pmo_ledger.jobs.logconfig import reset_logging
from tests.connectors.oracle.source import Source


def configure(engine: Engine, tmp_path: Path, source: Source) -> Path:
    url = engine.url.render_as_string(hide_password=False)
    keys = "\n".join(f"{k} = {json.dumps(v)}" for k, v in ebs_settings(source.url).items())
    config = tmp_path / "pmo-ledger.toml"
    config.write_text(
        f'[ledger]\nurl = "{url}"\nbase_currency = "USD"\n\n'
        f'[connectors.ebs]\nkind = "oracle"\n{keys}\npassword = "${{EBS_PASSWORD}}"\n\n'
        '[reconcile]\nafter_sync = false\n\n[logging]\nlevel = "ERROR"\n',
        encoding="utf-8",
    )
    return config


def cli(config: Path, *args: str) -> Result:
    try:
        return CliRunner().invoke(
            make_cli(), ["--config", str(config), *args], env={"EBS_PASSWORD": "s3cret"}
        )
    finally:
        reset_logging()


def test_check_sync_and_verify_on_the_command_line(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    config = configure(engine, tmp_path, source)
    checked = cli(config, "check", "ebs")
    assert checked.exit_code == 0, checked.output
    synced = cli(config, "sync", "ebs")
    assert synced.exit_code == 0, synced.output
    verified = cli(config, "verify", "ebs")
    assert verified.exit_code == 0, verified.output
    mutate.mutation_round(source.ebs, source.later())
    drifted = cli(config, "verify", "ebs", "--stream", "actuals")
    assert drifted.exit_code == 4, drifted.output
    assert "PRJ-0004" in drifted.output
    assert "s3cret" not in checked.output + synced.output + verified.output + drifted.output
