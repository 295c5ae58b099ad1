"""A holder that died without releasing its lease is taken over at once, on SQLite and
PostgreSQL: its database session ended, or its process on this machine is gone."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
import structlog
from sqlalchemy import Engine, insert, text
from sqlalchemy.orm import Session

from pmo_ledger.jobs.holder import NAMESPACE, SESSION_ENDED, LockSession, new_holder, parse_holder
from pmo_ledger.jobs.lease import Held, Lease, LeaseHeld, unlock
from pmo_ledger.jobs.sync import AlreadyRunning, run_sync
from pmo_ledger.ledger.models import SyncLock, SyncRun, utcnow
from tests.jobs.scripted import ScriptedConnector, held_run, line, make_app, pages_of, projects

ROOT = Path(__file__).resolve().parents[2]
TTL = timedelta(minutes=10)  # the default: every take-over here happens long before it
HOST = socket.gethostname()


def _scalar(engine: Engine, sql: str) -> Any:
    with Session(engine) as s:
        return s.execute(text(sql)).scalar()


def _lock_sessions(engine: Engine) -> int:
    """Sessions holding a lease's advisory lock (always 0 on SQLite)."""
    if engine.dialect.name != "postgresql":
        return 0
    return int(_scalar(engine, "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = "
                               "l.database WHERE d.datname = current_database() AND l.locktype = "
                               f"'advisory' AND l.classid = {NAMESPACE} AND l.objsubid = 2"))  # fmt: skip


def _held_by(engine: Engine, holder: str, *, beat: datetime | None = None) -> int:
    """The lease row of s1 naming `holder` (heartbeat now unless `beat`) and its running run,
    as a process that held it would leave them; returns the run id."""
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(insert(SyncLock).values(connector="s1", holder=holder, acquired_at=now,
                                             heartbeat_at=beat or now, pending=False))  # fmt: skip
    return held_run(engine, Lease(engine, "s1", holder, TTL))


def _run(engine: Engine, run_id: int) -> tuple[str, str | None]:
    with Session(engine) as s:
        run = s.get(SyncRun, run_id)
        assert run is not None
        return run.status, run.message


def _connector() -> ScriptedConnector:
    return ScriptedConnector({"projects": lambda r: [projects("A")],
                              "actuals": lambda r: pages_of([line("t1")], 1)})  # fmt: skip


def test_a_killed_sync_is_taken_over_at_once(engine: Engine, tmp_path: Path) -> None:
    """A sync process SIGKILLed mid-run: refused while it lived, then the next run takes over at
    once (TTL 10 min), marks the dead run abandoned with why and logs lease_taken_over."""
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "tests.jobs.slow_sync", url, str(tmp_path), "1000", "0.1"]
    victim = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while _scalar(engine, "SELECT count(*) FROM sync_lock WHERE run_id IS NOT NULL") == 0:
            assert time.monotonic() < deadline, "the sync process never took the lease"
            assert victim.poll() is None, victim.communicate()
            time.sleep(0.05)
        holder = _scalar(engine, "SELECT holder FROM sync_lock")
        assert parse_holder(holder) is not None and parse_holder(holder).pid == victim.pid
        assert _lock_sessions(engine) == (1 if engine.dialect.name == "postgresql" else 0)
        app = make_app(engine, tmp_path)
        with pytest.raises(AlreadyRunning, match=r"^already running: run 1 since \d\d:\d\d UTC$"):
            run_sync(app, "s1", connector=_connector())  # alive: refused
    finally:
        victim.kill()
        victim.communicate()
    deadline = time.monotonic() + 10  # PostgreSQL ends the dead session when it sees EOF
    while _lock_sessions(engine):
        assert time.monotonic() < deadline, "the server kept the dead session's lock"
        time.sleep(0.02)
    loaded = _scalar(engine, "SELECT count(*) FROM actual_line")
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "s1", connector=_connector())
    why = (SESSION_ENDED if engine.dialect.name == "postgresql"
           else f"its holder process ended: pid {victim.pid} on {HOST} no longer exists")  # fmt: skip
    assert (result.run_id, result.status) == (2, "succeeded")
    assert _run(engine, 1) == ("abandoned", why)
    assert _scalar(engine, "SELECT count(*) FROM actual_line") == loaded + 1
    taken = [e for e in logs if e["event"] == "lease_taken_over"]
    assert taken == [{"event": "lease_taken_over", "log_level": "warning", "connector": "s1",
                      "dead_holder": holder, "run_id": 1, "reason": why}]  # fmt: skip
    assert _scalar(engine, "SELECT holder FROM sync_lock") is None
    assert _lock_sessions(engine) == 0


def test_a_holder_whose_pid_is_now_another_process_is_taken_over(engine: Engine) -> None:
    """A holder named with this live pid but an earlier start is dead: on SQLite the pid now
    belongs to another process, on PostgreSQL no session holds its lock."""
    start = psutil.Process().create_time()
    ghost = f"{HOST}:{os.getpid()}:{start - 3600:.2f}:0badc0de"
    run_id = _held_by(engine, ghost)
    taker = Lease(engine, "s1", new_holder(), TTL)
    assert taker.acquire() is None
    why = (SESSION_ENDED if engine.dialect.name == "postgresql"
           else f"its holder process ended: pid {os.getpid()} on {HOST} now belongs to another "
           "process")  # fmt: skip
    assert _run(engine, run_id) == ("abandoned", why)
    assert _scalar(engine, "SELECT holder FROM sync_lock") == taker.holder
    taker.release()
    assert _lock_sessions(engine) == 0


def test_a_live_holder_is_still_refused(engine: Engine) -> None:
    """A live holder (this process, its lock session open) is refused by a run and by `runs
    unlock`; released, its lock session is closed and the lease is free."""
    live = Lease(engine, "s1", new_holder(), TTL)
    assert live.acquire() is None
    run_id = held_run(engine, live)
    assert _lock_sessions(engine) == (1 if engine.dialect.name == "postgresql" else 0)
    held = Lease(engine, "s1", new_holder(), TTL).acquire()
    assert isinstance(held, Held) and held.run_id == run_id
    with pytest.raises(LeaseHeld, match=r"which heartbeated \d+s ago: it is alive"):
        unlock(engine, "s1", TTL)
    assert _run(engine, run_id) == ("running", None)
    live.release()
    assert _lock_sessions(engine) == 0
    assert Lease(engine, "s1", "next", TTL).acquire() is None


def test_names_of_the_older_form_wait_for_the_ttl(engine: Engine) -> None:
    """host:pid:random (no start time) naming a pid gone from this machine: refused while it
    heartbeats, taken when its heartbeat is older than the TTL."""
    run_id = _held_by(engine, f"{HOST}:999999999:abcd1234")
    assert Lease(engine, "s1", new_holder(), TTL).acquire() == Held(run_id, _acquired(engine))
    with engine.begin() as conn:
        conn.execute(text("UPDATE sync_lock SET heartbeat_at = :t"),
                     {"t": (utcnow() - TTL - timedelta(seconds=1)).replace(tzinfo=None)})  # fmt: skip
    assert Lease(engine, "s1", new_holder(), TTL).acquire() is None
    assert _run(engine, run_id) == (
        "abandoned", "found running with an expired lease: its holder stopped heartbeating"
    )  # fmt: skip


def _acquired(engine: Engine) -> datetime:
    with Session(engine) as s:
        lock = s.get(SyncLock, "s1")
        assert lock is not None and lock.acquired_at is not None
        return lock.acquired_at


def test_a_holder_on_another_machine(engine: Engine) -> None:
    """SQLite: a holder on another machine cannot be judged, only its heartbeat. PostgreSQL:
    it is refused while its session holds its lock and taken over the moment that ends."""
    other = "elsewhere:4242:1700000000.00:5ca1ab1e"
    session = LockSession.open(engine, other) if engine.dialect.name == "postgresql" else None
    run_id = _held_by(engine, other)
    taker = Lease(engine, "s1", new_holder(), TTL)
    assert taker.acquire() == Held(run_id, _acquired(engine))
    if session is None:
        assert _run(engine, run_id) == ("running", None)
        return
    session.close()
    assert taker.acquire() is None
    assert _run(engine, run_id) == ("abandoned", SESSION_ENDED)
    taker.release()


def test_unlock_frees_a_dead_holder_without_force(engine: Engine) -> None:
    """`runs unlock` frees a lease whose holder heartbeated a moment ago but is dead."""
    ghost = f"{HOST}:{os.getpid()}:{psutil.Process().create_time() - 3600:.2f}:0badc0de"
    run_id = _held_by(engine, ghost)
    assert unlock(engine, "s1", TTL) == Held(run_id, _acquired(engine))
    why = (SESSION_ENDED if engine.dialect.name == "postgresql"
           else f"its holder process ended: pid {os.getpid()} on {HOST} now belongs to another "
           "process")  # fmt: skip
    assert _run(engine, run_id) == (
        "abandoned", f"its lease was freed by an operator (pmo-ledger runs unlock); {why}"
    )  # fmt: skip
    assert _scalar(engine, "SELECT holder FROM sync_lock") is None


def test_a_holder_name_in_use_twice_cannot_take_a_free_lease(engine: Engine) -> None:
    """PostgreSQL: a free lease is not taken by a holder whose lock another session holds
    (the row would name a holder that looks dead); SQLite has no such lock."""
    name = new_holder()
    session = LockSession.open(engine, name) if engine.dialect.name == "postgresql" else None
    lease = Lease(engine, "s1", name, TTL)
    if session is None:
        assert lease.acquire() is None
        return
    with pytest.raises(LeaseHeld, match=(
        rf"^the advisory lock of holder {name} is held by another database session: one holder "
        "name is in use twice at once$"
    )):  # fmt: skip
        lease.acquire()
    assert _scalar(engine, "SELECT count(*) FROM sync_lock") == 0
    session.close()
    assert lease.acquire() is None
    lease.release()
