"""What the service tests share: a configuration on the test database, waiting on the ledger,
a `serve` process, and a local webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.ledger.models import ActualLine, SyncRun

ROOT = Path(__file__).resolve().parents[2]
#: A small sample portfolio; `extra` lines are added per connector.
SAMPLE = """\
kind = "sample"
actuals = 300
projects = 3
page_size = 50
lookback = "0s"
"""


def config_text(
    engine: Engine,
    connectors: dict[str, str],
    *,
    service: str = "",
    reconcile: str = "after_sync = false",
    ledger: str = "",
) -> str:
    """A TOML configuration on the test database: `[connectors.NAME]` = SAMPLE with the extra
    lines (a key in both: the extra one)."""
    url = engine.url.render_as_string(hide_password=False)
    text = f'[ledger]\nurl = "{url}"\nbase_currency = "USD"\n{ledger}\n'
    if len(connectors) > 1:
        first = next(iter(connectors))
        text += "[ledger.authority]\n" + "".join(
            f'{k} = "{first}"\n'
            for k in ("projects", "labor", "expense", "hours", "revenue", "budget")
        )
    for name, extra in connectors.items():
        text += f"\n[connectors.{name}]\n{_merged(SAMPLE, extra)}\n"
    text += f"\n[reconcile]\n{reconcile}\n\n[service]\n{service}\n"
    return text


def _merged(base: str, extra: str) -> str:
    """TOML `key = value` lines of `base` with those of `extra` replacing the same keys."""
    lines: dict[str, str] = {}
    for line in (base + "\n" + extra).splitlines():
        if line.strip():
            lines[line.split("=", 1)[0].strip()] = line
    return "\n".join(lines.values())


def make_app(engine: Engine, tmp_path: Path, connectors: dict[str, str], **kw: Any) -> App:
    """An App over the test engine with sample connectors (see config_text)."""
    data = tomllib.loads(config_text(engine, connectors, **kw), parse_float=Decimal)
    return App(parse_config(data, {}, tmp_path), None, _engine=engine)


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def runs(engine: Engine) -> list[tuple[int, str, str, str | None]]:
    """(id, status, trigger, message) of every sync run, oldest first."""
    with Session(engine) as s:
        return [
            (r.id, r.status, r.trigger, r.message)
            for r in s.scalars(select(SyncRun).order_by(SyncRun.id))
        ]


def finished(engine: Engine, run_id: int) -> str | None:
    """The run's status once it is no longer running."""
    with Session(engine) as s:
        status = s.scalar(select(SyncRun.status).where(SyncRun.id == run_id))
    return status if status not in (None, "running") else None


def live_actuals(engine: Engine, source: str) -> tuple[int, dict[str, Decimal]]:
    """Count and per-currency amount of the source's live actual lines."""
    with Session(engine) as s:
        rows = s.execute(
            select(ActualLine.currency, ActualLine.amount).where(
                ActualLine.source == source, ActualLine.deleted_at.is_(None)
            )
        ).all()
    totals: dict[str, Decimal] = {}
    for currency, amount in rows:
        totals[currency] = totals.get(currency, Decimal(0)) + (amount or Decimal(0))
    return len(rows), totals


# --- a serve process -------------------------------------------------------------------------


@dataclass
class ServeProcess:
    """`pmo-ledger --config CONFIG serve` in a process of its own (logs as JSON to a file)."""

    config: Path
    log: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "pmo_ledger.jobs.cli", "--config", str(self.config),
                 "--log-format", "json", "serve", "--port", str(self.port)],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_for(f"serve on port {self.port}", lambda: self.event("service_started") or self._died())
        return self

    def _died(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.log.read_text()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def events(self) -> list[dict[str, Any]]:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def event(self, name: str) -> dict[str, Any] | None:
        return next((e for e in self.events() if e.get("event") == name), None)

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, then the exit status."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@contextmanager
def serving(config: Path, log: Path, port: int) -> Iterator[ServeProcess]:
    process = ServeProcess(config, log, port)
    try:
        yield process.start()
    finally:
        process.kill()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- a webhook receiver ----------------------------------------------------------------------


@dataclass
class Receiver:
    """A local webhook endpoint: records JSON bodies; answers `statuses` in turn (then 200);
    with `hold` set, every request waits until it is cleared."""

    statuses: list[int] = field(default_factory=list)
    bodies: list[dict[str, Any]] = field(default_factory=list)
    hold: threading.Event | None = None
    waiting: threading.Event = field(default_factory=threading.Event)
    requests: int = 0
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook/secret-path"

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests += 1
                if receiver.hold is not None:
                    receiver.waiting.set()
                    receiver.hold.wait(30)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == 200:
                    receiver.bodies.append(json.loads(body))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()
