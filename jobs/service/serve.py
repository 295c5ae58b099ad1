"""`pmo-ledger serve`: the scheduler, the worker and the HTTP API in one process.

`serve` owns the signal handling: uvicorn runs in a thread of its own with its signal capture
replaced by nothing, and SIGTERM or SIGINT only set the stop event. Then, in order: the
scheduler stops (no job starts), the runner's cancel event is set (new triggers get 503; runs
stop at their next page boundary, committing the pages they hold), the worker waits at most
`[service] stop_timeout` for them, marks the runs still going interrupted and frees their
leases; the HTTP server closes, queued webhooks get what time is left, and the process exits.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from types import FrameType
from typing import Any

import structlog
import uvicorn

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.logconfig import ANNOUNCE_LOGGER
from pmo_ledger.jobs.service.api import create_api
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.schedule import build_scheduler
from pmo_ledger.jobs.service.ui.warm import Warmer
from pmo_ledger.jobs.service.worker import Worker

log = structlog.get_logger(__name__)
#: `service_started` (where it listens) shows at any log level (jobs.logconfig).
announce = structlog.get_logger(ANNOUNCE_LOGGER)


class _ApiServer(uvicorn.Server):
    """uvicorn without its own signal handlers: `serve` handles SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Service:
    """One `serve` process: see the module docstring. `start` then `stop` (tests), or `run`."""

    def __init__(self, app: App, host: str | None = None, port: int | None = None) -> None:
        cfg = app.config.service
        self.app = app
        app.require_head()  # before the scheduler reads the run history
        self.notifier = Notifier(
            [url.get_secret_value() for url in cfg.webhooks],
            timeout=cfg.webhook_timeout,
            attempts=cfg.webhook_attempts,
        )
        self.worker = Worker(app, self.notifier)
        self.scheduler: Any = build_scheduler(app.config, self.worker)
        self.api = create_api(self.worker, lambda: bool(self.scheduler.running))
        self.server = _ApiServer(
            uvicorn.Config(
                self.api,
                host=host or cfg.host,
                port=cfg.port if port is None else port,
                log_config=None,  # uvicorn's records go through our logging (structlog)
                access_log=False,
                lifespan="off",
                # h11 whatever is installed: it caps the request line and headers (400 above).
                http="h11",
                h11_max_incomplete_event_size=cfg.max_header_bytes,
                timeout_graceful_shutdown=2,
            )
        )
        self.warmer = Warmer(self.api.state.ui_portfolio_rows)  # the dashboard's portfolio
        self.stop_requested = threading.Event()
        self.interrupted: list[int] = []
        self._http = threading.Thread(target=self.server.run, name="http", daemon=True)

    @property
    def port(self) -> int:
        """The port the API listens on (the real one when configured as 0)."""
        for server in self.server.servers:
            for sock in server.sockets:
                return int(sock.getsockname()[1])
        return int(self.server.config.port)

    def start(self, ready_timeout: float = 15) -> None:
        """Start the HTTP API, then (once it listens) webhooks and the scheduler. Raises
        OSError when the API cannot listen (nothing else was started)."""
        self._http.start()
        deadline = time.monotonic() + ready_timeout
        while not self.server.started:
            if not self._http.is_alive() or time.monotonic() > deadline:
                self.server.should_exit = True
                self._http.join(5)
                self.app.close()
                cfg = self.server.config
                raise OSError(
                    f"the HTTP API could not listen on {cfg.host}:{cfg.port} "
                    "(is the port in use? --port or [service] port)"
                )
            time.sleep(0.02)
        self.notifier.start()
        self.warmer.start()
        self.scheduler.start()
        jobs = [job.id for job in self.scheduler.get_jobs()]
        announce.info("service_started", host=self.server.config.host, port=self.port, jobs=jobs)

    def stop(self) -> list[int]:
        """Stop in the order of the module docstring; returns the runs marked interrupted."""
        timeout = self.app.config.service.stop_timeout.total_seconds()
        started = time.monotonic()
        log.info("service_stopping", stop_timeout=timeout, running=self.worker.running())
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.warmer.stop()
        self.interrupted = self.worker.stop(timeout)
        self.server.should_exit = True
        self._http.join(5)
        self.notifier.close(max(0.5, timeout - (time.monotonic() - started)))
        self.app.close()
        log.info("service_stopped", interrupted=self.interrupted)
        return self.interrupted

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if not self.stop_requested.is_set():
            log.info("signal_received", signal=signal.Signals(signum).name)
        self.stop_requested.set()

    def run(self) -> int:
        """Serve until SIGTERM or SIGINT (main thread only); exit status 0."""
        signals = (signal.SIGTERM, signal.SIGINT)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in signals}
        try:
            self.start()
            while not self.stop_requested.wait(0.5):
                if not self._http.is_alive():
                    log.error("http_server_stopped")
                    break
            self.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0
