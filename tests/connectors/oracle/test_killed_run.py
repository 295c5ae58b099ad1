"""A sync process killed with SIGKILL in the middle of the EBS cost lines, then run again (the
ledger on SQLite and PostgreSQL): what the dead run committed stays, the next run loads the
rest, and no line or entry is there twice. The victim is a real `pmo-ledger sync` process
reading the EBS-shaped source; a test-side hook in it holds the fourth page back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.sync import AlreadyRunning, run_sync
from pmo_ledger.ledger.models import ActualLine, LedgerEntry
from tests.connectors.oracle.source import (
    PAGE_SIZE,
    Source,
    ledger_totals,
    oracle_app,
    source_totals,
)
from tests.connectors.workfront.test_killed_run import toml

ROOT = Path(__file__).resolve().parents[3]
#: Runs in the victim: every read's fourth page waits (for the SIGKILL) once `flag` exists.
VICTIM = """
import pathlib, sys, time
import pmo_ledger.connectors.oracle.ebs.reader as reader
real, flag = reader.ordered_pages, pathlib.Path(sys.argv[1])
def held(items, size, **kw):
    for n, page in enumerate(real(items, size, **kw), 1):
        if n == 4:
            flag.touch()
            time.sleep(3600)
        yield page
reader.ordered_pages = held
from pmo_ledger.jobs.cli import main
sys.argv = ["pmo-ledger", "--config", sys.argv[2], "sync", "ebs", "--stream", "actuals"]
main()
"""


def cost_lines(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(ActualLine)) or 0)


def run_again(app: App) -> Any:
    deadline = time.monotonic() + 30
    while True:
        try:
            return run_sync(app, "ebs", streams=["actuals"])
        except AlreadyRunning:
            assert time.monotonic() < deadline, "the dead run's lease was never freed"
            time.sleep(0.1)


def test_a_run_killed_with_sigkill_runs_again_to_exact_totals_without_duplicates(
    engine: Engine, tmp_path: Path, source: Source
) -> None:
    """Batches of one page: the victim commits the first pages of cost lines and is killed
    while it holds the fourth back. The next run loads the rest: every line once, one insert
    entry per line, the source's totals."""
    app = oracle_app(engine, tmp_path, source.url, ledger={"batch_rows": 10})
    assert run_sync(app, "ebs", streams=["projects", "tasks"]).status == "succeeded"
    from pmo_ledger.connectors.oracle.sandbox.run import ebs_settings

    config = tmp_path / "ora.toml"
    config.write_text(toml({
        "ledger": {"url": engine.url.render_as_string(hide_password=False),
                   "base_currency": "USD", "batch_rows": 10},
        "connectors.ebs": {"kind": "oracle", **ebs_settings(source.url), "page_size": PAGE_SIZE},
        "logging": {"level": "ERROR"},
    }))  # fmt: skip
    flag = tmp_path / "held"
    command = [sys.executable, "-c", VICTIM, str(flag), str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    victim = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not flag.exists():
            assert victim.poll() is None, f"the sync ended first: {victim.communicate()}"
            assert time.monotonic() < deadline, "timed out waiting for the fourth page"
            time.sleep(0.01)
        while cost_lines(engine) < 2 * PAGE_SIZE:  # batches of one page, committed as read
            assert time.monotonic() < deadline, "timed out waiting for two committed pages"
            time.sleep(0.01)
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate()
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.communicate()
    assert victim.returncode == -signal.SIGKILL
    committed = cost_lines(engine)
    expected = source_totals(source)
    assert committed % PAGE_SIZE == 0
    assert 0 < committed < sum(v[0] for v in expected.values())
    result = run_again(app)
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == expected
    with app.reading() as s:
        lines = s.scalar(select(func.count()).select_from(ActualLine))
        keys = s.scalar(select(func.count(func.distinct(ActualLine.external_id))))
        inserts = s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reason == "insert")
        )
    assert lines == keys == inserts == sum(v[0] for v in expected.values())
