"""A batch longer than the lease TTL keeps its lease (on SQLite its own write transaction
blocks its heartbeat); a lease really taken over still stops the run, on both engines."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Cursor, Page, ReadRequest
from pmo_ledger.jobs import sync as sync_module
from pmo_ledger.jobs.lease import Held, Lease
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import SyncLock, SyncRun, utcnow
from pmo_ledger.ledger.records import ActualRecord
from tests.jobs.scripted import ScriptedConnector, line, make_app, projects

TTL = timedelta(seconds=1)
SLOW = 1.25  # seconds in every batch of actuals: longer than the TTL


def _scalar(engine: Engine, sql: str) -> Any:
    with Session(engine) as s:
        return s.execute(text(sql)).scalar()


def _slow_writer(monkeypatch: pytest.MonkeyPatch, before: Any = None) -> None:
    """Every batch of actuals takes SLOW seconds inside its transaction (`before()` first)."""
    real = sync_module.apply_batch

    def slow(session: Session, settings: Any, source: str, stream: str, records: list[Any],
             *args: Any, **kw: Any) -> Any:  # fmt: skip
        if any(isinstance(r, ActualRecord) for r in records):
            if before is not None:
                before()
            time.sleep(SLOW)
        return real(session, settings, source, stream, records, *args, **kw)

    monkeypatch.setattr(sync_module, "apply_batch", slow)


def _pages(*keys: str, start: int = 0) -> Any:
    def script(request: ReadRequest) -> Iterator[Page]:
        for i, key in enumerate(keys, start + 1):
            yield Page(records=[line(key)], checkpoint=Cursor("offset", i))

    return script


def test_a_batch_longer_than_the_ttl_commits_and_so_does_the_next_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TTL 1 s, a batch of 1.25 s: the run succeeds, and so does the next one (a retry failed
    the same way every time), each leaving the lease free and fresh for the next."""
    _slow_writer(monkeypatch)
    app = make_app(engine, tmp_path, lease_ttl="1s", batch_rows=1)
    first = run_sync(app, "s1", connector=ScriptedConnector(
        {"projects": lambda r: [projects("A")], "actuals": _pages("t1")}))  # fmt: skip
    assert (first.status, first.message) == ("succeeded", "2 stream(s), 2 records read")
    second = run_sync(app, "s1", streams=["actuals"], connector=ScriptedConnector(
        {"actuals": _pages("t1", "t2")}))  # fmt: skip
    assert (second.status, second.message) == ("succeeded", "1 stream(s), 2 records read")
    assert _scalar(engine, "SELECT count(*) FROM actual_line") == 2
    assert _scalar(engine, "SELECT count(*) FROM sync_run WHERE status = 'succeeded'") == 2
    assert _scalar(engine, "SELECT holder FROM sync_lock") is None


def test_an_expired_lease_nobody_took_is_confirmed_and_renewed(engine: Engine) -> None:
    """A lease past its TTL that no one took over is still this holder's: `confirm` renews it
    in the caller's transaction, and then another holder is refused."""
    lease = Lease(engine, "s1", "slow-holder", TTL)
    assert lease.acquire(now=utcnow() - timedelta(hours=1)) is None
    now = utcnow()
    with engine.begin() as conn:
        lease.confirm(conn, now=now)
    with Session(engine) as s:
        lock = s.get(SyncLock, "s1")
        assert lock is not None and (lock.holder, lock.heartbeat_at) == ("slow-holder", now)
    held = Lease(engine, "s1", "other", TTL).acquire()
    assert isinstance(held, Held) and held.run_id is None


def test_a_lease_taken_during_a_slow_batch_stops_the_run(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another holder takes the lease over while the first slow batch runs. PostgreSQL: it
    lands during the batch, whose `confirm` fails, and nothing commits. SQLite: it waits for
    the batch's write lock, so that batch commits under the lease it held, and the next fails.
    Either way the run fails with LeaseLost and the intruder keeps the lease."""
    taken: list[Held | None] = []

    def intrude() -> None:  # sees the lease as expired: it acts an hour from now
        taken.append(Lease(engine, "s1", "intruder", TTL).acquire(now=utcnow() + timedelta(hours=1)))

    intruder = threading.Thread(target=intrude)

    def intrude_once() -> None:
        if intruder.ident is None:
            intruder.start()

    _slow_writer(monkeypatch, before=intrude_once)

    def actuals(request: ReadRequest) -> Iterator[Page]:
        yield Page(records=[line("t1")], checkpoint=Cursor("offset", 1))
        intruder.join(10)  # SQLite: it took the lease once the first batch committed
        yield Page(records=[line("t2")], checkpoint=Cursor("offset", 2))

    app = make_app(engine, tmp_path, lease_ttl="1s", batch_rows=1)
    result = run_sync(app, "s1", streams=["actuals"], connector=ScriptedConnector({"actuals": actuals}))
    assert taken == [None]
    assert result.status == "failed"
    assert result.message == (
        "the lease of s1 was lost (taken over or freed); this run's uncommitted batch was rolled back"
    )
    committed = 0 if engine.dialect.name == "postgresql" else 1
    assert _scalar(engine, "SELECT count(*) FROM actual_line") == committed
    assert _scalar(engine, "SELECT holder FROM sync_lock") == "intruder"
    with Session(engine) as s:  # the intruder's take-over found it running
        run = s.get(SyncRun, result.run_id)
        assert run is not None and run.status == "abandoned"


def test_a_reconcile_whose_lease_was_taken_does_not_run_again(engine: Engine) -> None:
    """`release_unless_pending` of a holder whose lease was taken over answers True (stop): a
    reconcile never runs again under a lease that is no longer its own."""
    mine = Lease(engine, "@reconcile", "mine", TTL)
    assert mine.acquire(now=utcnow() - timedelta(hours=1)) is None
    assert Lease(engine, "@reconcile", "intruder", TTL).acquire() is None  # expired: taken
    assert mine.release_unless_pending() is True
    assert _scalar(engine, "SELECT holder FROM sync_lock") == "intruder"
