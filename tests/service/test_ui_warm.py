"""The dashboard's warmer: it reads the portfolio's rows again and again until stopped, and a
failed read is logged, not raised (the next one tries again)."""

from __future__ import annotations

import time

from sqlalchemy.exc import OperationalError

from pmo_ledger.jobs.service.ui.warm import Warmer
from tests.service.helpers import wait_for


def test_the_warmer_refreshes_until_stopped_and_survives_a_failed_read() -> None:
    calls: list[float] = []

    def refresh() -> None:
        calls.append(time.monotonic())
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, Exception("database is locked"))

    warmer = Warmer(refresh, interval=0.01)
    warmer.start()
    wait_for("three refreshes", lambda: len(calls) >= 3, timeout=10)
    warmer.stop()
    stopped = len(calls)
    time.sleep(0.1)
    assert len(calls) == stopped  # nothing after stop
    assert not warmer._thread.is_alive()
