"""The worker's bookkeeping under concurrency: `stop` sees every run that got past the
stopping check, a run registering after `stop` is discarded, reconciles are counted."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from pmo_ledger.jobs import sync as sync_module
from pmo_ledger.jobs.lease import Lease
from pmo_ledger.jobs.reconcile import LEASE, ReconcileOutcome
from pmo_ledger.jobs.service import worker as worker_module
from pmo_ledger.jobs.service.notify import Notifier
from pmo_ledger.jobs.service.worker import ServiceStopping, Worker
from tests.service.helpers import make_app, runs, wait_for


def test_a_run_still_starting_when_stop_ends_is_discarded(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(engine, tmp_path, {"psa": ""})
    worker = Worker(app, Notifier([]))
    inside, release = threading.Event(), threading.Event()

    def slow_start(*args: Any, **kw: Any) -> Any:
        inside.set()
        release.wait(30)
        return sync_module.start_sync(*args, **kw)

    monkeypatch.setattr(worker_module, "start_sync", slow_start)
    outcome: list[BaseException | None] = []

    def trigger() -> None:
        try:
            worker.start("psa", trigger="schedule")
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=trigger)
    thread.start()
    assert inside.wait(10)
    assert worker._busy()  # stop will wait for it
    assert worker.stop(0.2) == []  # timed out while the start was still in the database
    release.set()
    thread.join(30)
    assert isinstance(outcome[0], ServiceStopping)
    assert [r[1:] for r in runs(engine)] == [
        ("interrupted", "schedule", "the service stopped before the run began")
    ]
    assert Lease(engine, "psa", "next", app.settings.lease_ttl).acquire() is None  # freed


def test_stop_waits_for_a_reconcile_even_when_another_one_returned(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(engine, tmp_path, {"psa": ""})
    worker = Worker(app, Notifier([]))
    inside, release = threading.Event(), threading.Event()
    calls = 0

    def fake_reconcile(app: Any, holder: str) -> ReconcileOutcome:
        nonlocal calls
        calls += 1
        if calls == 1:
            assert Lease(engine, LEASE, holder, app.settings.lease_ttl).acquire() is None
            inside.set()
            release.wait(30)
        return ReconcileOutcome(queued=calls > 1)

    monkeypatch.setattr(worker_module, "run_reconcile", fake_reconcile)
    first = threading.Thread(target=worker.reconcile)
    first.start()
    assert inside.wait(10)
    worker.reconcile()  # a second trigger finds it running and returns
    assert worker._busy()  # the first one still counts
    worker.stop(0.2)
    # stop freed the @reconcile lease the first run still held
    assert Lease(engine, LEASE, "next", app.settings.lease_ttl).acquire() is None
    release.set()
    first.join(30)
    wait_for("the worker to be idle", lambda: not worker._busy())


def test_each_reconcile_has_its_own_holder(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two reconciles of one worker hold the lease under two names, so a stalled one whose
    lease expired cannot confirm the lease the next one took; none is left registered."""
    app = make_app(engine, tmp_path, {"psa": ""})
    worker = Worker(app, Notifier([]))
    holders: list[str] = []

    def fake_reconcile(app: Any, holder: str) -> ReconcileOutcome:
        holders.append(holder)
        assert worker._reconcile_holders == {holder}
        return ReconcileOutcome()

    monkeypatch.setattr(worker_module, "run_reconcile", fake_reconcile)
    worker.reconcile()
    worker.reconcile()
    assert len(set(holders)) == 2
    assert worker._reconcile_holders == set()
