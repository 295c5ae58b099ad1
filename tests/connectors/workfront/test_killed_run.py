"""A sync process killed with SIGKILL in the middle of the hours, then run again (SQLite and
PostgreSQL): what the dead run committed stays, the next run loads the rest, and no line or
entry is there twice. The victim is a real `pmo-ledger sync` process reading the sandbox."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.kit.sandbox_https import Reply, Request
from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.sync import AlreadyRunning, run_sync
from pmo_ledger.ledger.models import ActualLine, LedgerEntry
from tests.connectors.workfront.account import PAGE_SIZE, Account, ledger_totals, wf_app

ROOT = Path(__file__).resolve().parents[3]


def toml(tables: dict[str, dict[str, Any]]) -> str:
    """A TOML file of flat tables (JSON strings and numbers are TOML values)."""
    lines: list[str] = []
    for name, values in tables.items():
        lines.append(f"[{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"


class Gate:
    """Wraps the sandbox's request handler: the `at`-th HOUR search waits until `release`
    (a test-side hook: the fake has no switch that delays one call). The runner reads ahead:
    the pages before are fetched when the held one is asked for, whatever the runner has
    written by then."""

    def __init__(self, handle: Callable[[Request, str], Reply], at: int) -> None:
        self.handle, self.at, self.seen = handle, at, 0
        self.reached, self.release = threading.Event(), threading.Event()

    def __call__(self, request: Request, base_url: str) -> Reply:
        if request.path.endswith("/HOUR/search"):
            self.seen += 1
            if self.seen == self.at:
                self.reached.set()
                self.release.wait(60)
        return self.handle(request, base_url)


class Batches:
    """Reads the victim's JSON log as it comes: the hours batches it committed (a batch is
    logged once its transaction is written, before the commit returns to the runner)."""

    def __init__(self, victim: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.hours = 0  # batches applied
        self.written = 0  # lines they wrote
        assert victim.stdout is not None
        self._out = victim.stdout
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        for line in self._out:
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "batch_applied" and event.get("stream") == "hours":
                self.written += int(event["written"])
                self.hours += 1

    def join(self) -> str:
        self._thread.join(10)
        return "".join(self.lines)


def hour_lines(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.scalar(
                select(func.count()).select_from(ActualLine).where(ActualLine.stream == "hours")
            )
            or 0
        )


def wait_for(what: str, test: Any, victim: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not test():
        assert victim.poll() is None, f"the sync ended before {what}: {victim.returncode}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def run_again(app: App) -> Any:
    """run_sync once the dead process's lease is free (PostgreSQL ends its session when it
    sees the socket close; SQLite's holder check sees the pid is gone at once)."""
    deadline = time.monotonic() + 30
    while True:
        try:
            return run_sync(app, "wf", streams=["hours"])
        except AlreadyRunning:
            assert time.monotonic() < deadline, "the dead run's lease was never freed"
            time.sleep(0.1)


def test_a_run_killed_with_sigkill_runs_again_to_exact_totals_without_duplicates(
    engine: Engine, tmp_path: Path, tls: TlsFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches of one page, read ahead (the default): the sandbox holds the fourth HOUR search
    (the third page; the first search looks at the statuses) back; the victim commits the two
    pages before it (its log says how many lines, the ledger holds them) and is SIGKILLed while
    it waits. The next run reads the hours again: every
    approved hour once, one insert entry per line, totals as Workfront holds them."""
    store = FakeWorkfront()
    seed = seed_demo(store, hours=300)
    with WorkfrontSandbox(store, tls=tls, user=ApiUser(user_id=seed.api_user_id)) as server:
        account = Account(store, seed, server)
        app = wf_app(engine, tmp_path, account, ledger={"batch_rows": 10})
        # What the hours need first (the rates value hours without actualCost).
        before = ["users", "rates", "projects", "tasks"]
        assert run_sync(app, "wf", streams=before).status == "succeeded"
        config = tmp_path / "wf.toml"
        config.write_text(
            toml({
                "ledger": {"url": engine.url.render_as_string(hide_password=False),
                           "base_currency": "USD", "batch_rows": 10},
                "logging": {"format": "json", "level": "debug"},
                "connectors.wf": {"kind": "workfront", "base_url": server.url,
                                  "api_key": server.user.api_key,
                                  "ca_bundle": str(server.ca_file), "page_size": PAGE_SIZE},
            })
        )  # fmt: skip
        command = [sys.executable, "-c", "from pmo_ledger.jobs.cli import main; main()",
                   "--config", str(config), "sync", "wf", "--stream", "hours"]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        gate = Gate(server.api.handle, at=4)
        monkeypatch.setattr(server.api, "handle", gate)
        victim = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)  # fmt: skip
        batches = Batches(victim)
        try:
            wait_for("its fourth page of hours", gate.reached.is_set, victim)
            # The pages before it fetched; the runner writes them one batch each, then waits.
            wait_for("two batches of hours", lambda: batches.hours == 2, victim)
            wait_for("their commit", lambda: hour_lines(engine) == batches.written, victim)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
        finally:
            gate.release.set()
            if victim.poll() is None:
                victim.kill()
                victim.wait()
        output = batches.join()
        assert victim.returncode == -signal.SIGKILL, output
        assert batches.hours == 2, output  # nothing after the held page
        held = account.source_totals()
        total = sum(v[3] for k, v in held.items())  # hours and expenses lines
        committed = hour_lines(engine)
        assert committed == batches.written
        assert 0 < committed < total - sum(1 for r in store.rows("EXPNS"))
        result = run_again(app)
        assert result.status == "succeeded", result.message
    hours_only = {k: v for k, v in ledger_totals(app).items() if v[0] or v[1]}
    expected = {k: (v[0], v[1]) for k, v in held.items() if v[0] or v[1]}
    assert {k: (v[0], v[1]) for k, v in hours_only.items()} == expected
    with app.reading() as s:
        lines = s.scalar(select(func.count()).select_from(ActualLine))
        keys = s.scalar(select(func.count(func.distinct(ActualLine.external_id))))
        inserts = s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reason == "insert")
        )
    assert lines == keys == inserts
    assert PAGE_SIZE < committed
