"""One sync per connector at a time, across processes, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tracemalloc
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Cursor, Page, ScopeEnd, ScopeStart
from pmo_ledger.jobs.lease import Lease, LeaseHeld, LeaseLost, unlock
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import SyncLock, SyncRun, utcnow
from tests.jobs.scripted import ScriptedConnector, held_run, line, make_app, pages_of, projects

ROOT = Path(__file__).resolve().parents[2]


def _scalar(engine: Engine, sql: str) -> Any:
    with Session(engine) as s:
        return s.execute(text(sql)).scalar()


def test_two_processes_one_loads_the_other_is_refused(engine: Engine, tmp_path: Path) -> None:
    """Two real processes sync one connector: one loads, the other is refused with the run and time."""
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.jobs.slow_sync", url, str(tmp_path)]
    gate = tmp_path / "go-on"  # the first run holds its lease until the second was refused
    first = subprocess.Popen([*cmd, "8", "0.2", str(gate)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while _scalar(engine, "SELECT count(*) FROM sync_lock WHERE run_id IS NOT NULL") == 0:
        assert time.monotonic() < deadline, "the first process never took the lease"
        assert first.poll() is None, first.communicate()
        time.sleep(0.05)
    second = subprocess.run([*cmd, "1", "0"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    gate.touch()
    out, _ = first.communicate(timeout=60)
    started = _scalar(engine, "SELECT started_at FROM sync_run WHERE id = 1")
    since = started if not isinstance(started, str) else datetime.fromisoformat(started)
    assert second.returncode == 3
    assert second.stdout.strip() == f"already running: run 1 since {since.strftime('%H:%M')} UTC"
    assert out.strip() == "run 1 succeeded"
    assert _scalar(engine, "SELECT count(*) FROM sync_run") == 1
    assert _scalar(engine, "SELECT count(*) FROM actual_line") == 8


def test_expired_lease_is_taken_over_and_the_stalled_run_cannot_commit(engine: Engine, tmp_path: Path) -> None:
    """A holder that stopped heartbeating loses the lease: its run is abandoned, its commit refused."""
    app = make_app(engine, tmp_path)
    stalled = Lease(engine, "s1", "stalled-holder", app.settings.lease_ttl)
    assert stalled.acquire(now=utcnow() - timedelta(hours=1)) is None
    with engine.begin() as conn:
        run_id = conn.execute(text(
            "INSERT INTO sync_run (connector, status, trigger, started_at) VALUES ('s1', 'running', 'cli', :t)"
            " RETURNING id"), {"t": (utcnow() - timedelta(hours=1)).replace(tzinfo=None)}).scalar()
        stalled.attach(conn, run_id)
    result = run_sync(app, "s1", connector=ScriptedConnector(
        {"projects": lambda r: [projects("A")], "actuals": lambda r: pages_of([line("t1")], 5)}))
    assert result.status == "succeeded"
    with Session(engine) as s:
        assert s.get(SyncRun, run_id).status == "abandoned"
    with pytest.raises(LeaseLost), engine.begin() as conn:
        stalled.confirm(conn)


def test_a_run_that_loses_its_lease_mid_run_commits_nothing_more(engine: Engine, tmp_path: Path) -> None:
    """Another holder takes the lease between two pages: the next batch is rolled back."""
    app = make_app(engine, tmp_path, batch_rows=1)

    def hijacked(request: object) -> object:
        yield Page(records=[line("h1")], checkpoint=Cursor("offset", 1))
        with engine.begin() as conn:
            conn.execute(update(SyncLock).where(SyncLock.connector == "s1").values(holder="intruder"))
        yield Page(records=[line("h2")], checkpoint=Cursor("offset", 2))

    result = run_sync(app, "s1", streams=["actuals"],
                      connector=ScriptedConnector({"actuals": hijacked}))
    assert result.status == "failed" and "lease" in result.message
    assert _scalar(engine, "SELECT count(*) FROM actual_line") == 1
    with Session(engine) as s:
        assert s.scalar(select(SyncLock.holder)) == "intruder"  # not released by the loser


def _peak(engine: Engine, tmp_path: Path, n: int) -> int:
    app = make_app(engine, tmp_path, batch_rows=500)

    def big(request: object) -> object:
        for start in range(0, n, 250):
            records = [line(f"m{i}", "1.00") for i in range(start, min(start + 250, n))]
            yield Page(records=records, checkpoint=Cursor("offset", start + 250),
                       scope=ScopeStart("actuals") if start == 0 else None)
        yield Page(scope=ScopeEnd("actuals"))

    connector = ScriptedConnector({"actuals": big})
    tracemalloc.start()
    run_sync(app, "s1", full=True, streams=["actuals"], connector=connector)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_peak_memory_does_not_grow_with_the_scope(engine: Engine, tmp_path: Path) -> None:
    """A full-scope read of 8,000 records peaks no higher than one of 2,000 (+25%)."""
    small = _peak(engine, tmp_path, 2_000)
    large = _peak(engine, tmp_path, 8_000)
    assert large < small * 1.25, (small, large)
    assert _scalar(engine, "SELECT count(*) FROM actual_line WHERE deleted_at IS NULL") == 8_000
    assert Decimal(_scalar(engine, "SELECT count(*) FROM actual_line")) == 8_000


def test_unlock_frees_a_stuck_lease_but_not_a_live_one(engine: Engine) -> None:
    """`runs unlock`: a holder that stopped heartbeating is freed and its run abandoned; a live
    holder is refused unless forced; a free lease says so."""
    ttl = timedelta(minutes=10)
    assert unlock(engine, "s1", ttl) is None  # never locked
    stuck = Lease(engine, "s1", "host:1:dead", ttl)
    assert stuck.acquire(now=utcnow() - timedelta(minutes=30)) is None
    run_id = held_run(engine, stuck)
    held = unlock(engine, "s1", ttl)
    assert held is not None and held.run_id == run_id
    with Session(engine) as s:
        run = s.get(SyncRun, run_id)
        assert (run.status, run.message) == (
            "abandoned", "its lease was freed by an operator (pmo-ledger runs unlock)"
        )  # fmt: skip
        assert s.get(SyncLock, "s1").holder is None
    quiet = Lease(engine, "s1", "host:3:quiet", ttl)  # missed two heartbeats: gone
    assert quiet.acquire(now=utcnow() - timedelta(minutes=6)) is None
    assert Lease(engine, "s1", "next-run", ttl).acquire() is not None  # a run would wait...
    assert unlock(engine, "s1", ttl) is not None  # ...unlock frees it now
    alive = Lease(engine, "s1", "host:2:alive", ttl)
    assert alive.acquire() is None
    with pytest.raises(LeaseHeld, match=r"^s1 is held by host:2:alive \(a run starting since "
                       r"\d\d:\d\d UTC\), which heartbeated \d+s ago: it is alive"):  # fmt: skip
        unlock(engine, "s1", ttl)
    assert unlock(engine, "s1", ttl, force=True) is not None
    assert alive.acquire() is None  # free again: taken at once


def test_a_heartbeat_committed_in_the_middle_of_a_batch_does_not_fail_it(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The batch reads, another connection commits (the lease heartbeat), the batch writes.
    On SQLite a deferred transaction would fail at its first write ("database is locked",
    no busy wait); batches take the write lock at BEGIN, so the heartbeat waits instead."""
    import threading

    from pmo_ledger.jobs import sync as sync_module

    real_apply = sync_module.apply_batch
    beats: list[BaseException | None] = []

    def apply_with_a_beat_inside(session: Session, *args: Any, **kw: Any) -> Any:
        session.execute(select(SyncLock.holder)).all()  # the batch has read

        def beat() -> None:
            try:
                with engine.begin() as conn:
                    conn.execute(update(SyncLock).values(heartbeat_at=utcnow()))
                beats.append(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the test
                beats.append(exc)

        thread = threading.Thread(target=beat)
        thread.start()
        thread.join(0.5)  # committed by now unless it waits for this batch's lock
        return real_apply(session, *args, **kw)

    monkeypatch.setattr(sync_module, "apply_batch", apply_with_a_beat_inside)
    app = make_app(engine, tmp_path)
    connector = ScriptedConnector(
        {"projects": lambda r: [projects("A")], "actuals": lambda r: pages_of([line("t1"), line("t2")], 1)}
    )
    result = run_sync(app, "s1", connector=connector)
    assert result.status == "succeeded", result.message
    assert _scalar(engine, "SELECT count(*) FROM actual_line") == 2
    wait = time.monotonic() + 10
    while len(beats) < 2 and time.monotonic() < wait:  # one beat per batch: projects, actuals
        time.sleep(0.05)
    assert beats == [None, None]
