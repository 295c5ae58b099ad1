"""Keeps the portfolio's rows read while `serve` runs: every WARM_SECONDS a daemon thread asks
for them (`portfolio_rows`, which reads the ledger's change markers in one round trip and the
rows only when they moved), so the first page after a sync or reconcile, by this service or
any other process, finds them read. Requests never wait for it: a request that comes first
reads the rows itself, once, under the same lock."""

from __future__ import annotations

import threading
from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError

log = structlog.get_logger(__name__)
WARM_SECONDS = 20.0


class Warmer:
    """A daemon thread calling `refresh` every `interval` seconds until `stop`."""

    def __init__(self, refresh: Callable[[], object], interval: float = WARM_SECONDS) -> None:
        self.refresh = refresh
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ui-warm", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            try:
                self.refresh()
            except (SQLAlchemyError, LookupError, ValueError) as exc:
                log.warning("ui_warm_failed", error=f"{exc.__class__.__name__}: {exc}")
            if self._stop.wait(self.interval):
                return
