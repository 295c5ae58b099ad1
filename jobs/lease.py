"""Leases in `sync_lock`: one holder per connector (or '@reconcile') across processes and
machines, coordinated only by the database.

`acquire` is one atomic upsert that succeeds only when the lease is free or expired (no
heartbeat for `ttl`), or, when the holder is provably dead (`jobs.holder`: its database
session ended, or its process on this machine is gone), a take-over of that holder's row at
once. The holder heartbeats every ttl/4 from a thread, and every batch transaction calls
`confirm`, which renews the lease inside that transaction and fails when the lease is no longer
this holder's: a run that lost its lease cannot commit.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Engine, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from pmo_ledger.jobs.holder import (
    SESSION_ENDED,
    LockSession,
    new_holder,
    parse_holder,
    process_ended,
    session_ended,
)
from pmo_ledger.ledger.db import WRITING
from pmo_ledger.ledger.models import SyncLock, SyncRun, table_of, utcnow
from pmo_ledger.ledger.upsert import insert_for_dialect

log = structlog.get_logger(__name__)
_lock = table_of(SyncLock)
#: How long `acquire` waits for its own advisory lock while another session of the same
#: holder name frees it (one process reusing a name for runs one after another).
_OWN_LOCK_WAIT = 1.0


class LeaseHeld(RuntimeError):
    """Another holder has the lease; the message says which run since when."""


@dataclass(frozen=True)
class Held:
    """Who holds a lease another caller asked for: its run (None while the run is starting)
    and since when. `str()` is the operator's description."""

    run_id: int | None
    since: datetime | None

    def __str__(self) -> str:
        since = self.since.strftime("%H:%M") if self.since else "?"
        if self.run_id:
            return f"run {self.run_id} since {since} UTC"
        return f"a run starting since {since} UTC"


class LeaseLost(RuntimeError):
    """This holder's lease was taken over (or freed): its work must not commit."""


def dead_holder(conn: Connection, holder: str) -> str | None:
    """Why `holder` is provably dead, judged inside the caller's transaction; None when it may
    be alive (its heartbeat and the TTL decide). PostgreSQL: its advisory lock is free, so its
    session ended. SQLite: its process on this machine is gone."""
    parsed = parse_holder(holder)
    if parsed is None:
        return None
    if conn.dialect.name == "postgresql":
        return SESSION_ENDED if session_ended(conn, holder) else None
    return process_ended(parsed)


@dataclass
class Lease:
    """The lease of `name`, held (or not) by `holder`. On PostgreSQL a holder named by
    `new_holder` also keeps its advisory lock (`jobs.holder.LockSession`) from `acquire` to
    `release`."""

    engine: Engine
    name: str
    holder: str
    ttl: timedelta
    _session: LockSession | None = field(default=None, init=False, repr=False, compare=False)
    _mutex: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def acquire(self, now: datetime | None = None) -> Held | None:
        """Take the lease when free, expired, or held by a dead holder. Returns None on
        success, else who holds it (`str()`: "run N since HH:MM UTC"). The previous holder's
        run, if it was left running, is marked abandoned. Raises LeaseHeld when this holder's
        own advisory lock is held by another session (its name is in use twice)."""
        now = now or utcnow()
        had_key = self._session is not None
        held = self._lock_own_key(now)
        if held is not None:
            return held
        held = Held(None, None)  # should the row change under every one of the tries
        try:
            for _ in range(3):
                try:
                    held = self._take(now)
                    break
                except _Freed:  # the row changed between two statements: again
                    continue
        except BaseException:
            if not had_key:
                self._unlock_own_key()
            raise
        if held is not None and not had_key:
            self._unlock_own_key()
        return held

    def _lock_own_key(self, now: datetime) -> Held | None:
        """PostgreSQL: take this holder's advisory lock before its name can be in the row, so
        a holder in the row without its lock is dead. None when taken (or not needed)."""
        if (
            self._session is not None
            or self.engine.dialect.name != "postgresql"
            or parse_holder(self.holder) is None
        ):
            return None
        deadline = time.monotonic() + _OWN_LOCK_WAIT
        while (session := LockSession.open(self.engine, self.holder)) is None:
            held = self._held(now)
            if held is not None:
                return held  # the other session of this name may well hold the lease
            if time.monotonic() >= deadline:
                raise LeaseHeld(
                    f"the advisory lock of holder {self.holder} is held by another database "
                    "session: one holder name is in use twice at once"
                )
            time.sleep(0.05)
        with self._mutex:
            self._session = session
        return None

    def _unlock_own_key(self) -> None:
        with self._mutex:
            session, self._session = self._session, None
        if session is not None:
            session.close()

    def _held(self, now: datetime) -> Held | None:
        """Who holds the lease unexpired, None when it is free or expired."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    _lock.c.holder, _lock.c.run_id, _lock.c.acquired_at, _lock.c.heartbeat_at
                ).where(_lock.c.connector == self.name)
            ).first()
        if row is None or row.holder is None or row.heartbeat_at < now - self.ttl:
            return None
        return Held(row.run_id, row.acquired_at)

    def _take(self, now: datetime) -> Held | None:
        """One try in one transaction: the upsert, else the take-over of a dead holder's row.
        Raises _Freed when the row changed between the two."""
        expiry = now - self.ttl
        with self.engine.begin() as conn:
            stmt = insert_for_dialect(conn.dialect, _lock).values(
                connector=self.name,
                holder=self.holder,
                run_id=None,
                acquired_at=now,
                heartbeat_at=now,
                pending=False,
            )
            stmt = stmt.on_conflict_do_update(
                index_elements=["connector"],
                set_={
                    "holder": self.holder,
                    "run_id": None,
                    "acquired_at": now,
                    "heartbeat_at": now,
                },
                where=(_lock.c.holder.is_(None)) | (_lock.c.heartbeat_at < expiry),
            ).returning(_lock.c.holder)
            # RETURNING gives a row only when this statement inserted or updated it.
            taken = conn.execute(stmt).first() is not None
            if taken:
                self._abandon_orphans(conn, now)
                return None
            # SQLite: the upsert took the write lock, so the row cannot change until commit;
            # PostgreSQL: FOR UPDATE holds it against a concurrent take-over or release.
            row = conn.execute(
                select(_lock.c.holder, _lock.c.run_id, _lock.c.acquired_at)
                .where(_lock.c.connector == self.name)
                .with_for_update()
            ).one()
            if row.holder is None:
                raise _Freed()
            why = None if row.holder == self.holder else dead_holder(conn, row.holder)
            if why is None:
                return Held(row.run_id, row.acquired_at)
            res = conn.execute(
                update(_lock)
                .where(_lock.c.connector == self.name, _lock.c.holder == row.holder)
                .values(holder=self.holder, run_id=None, acquired_at=now, heartbeat_at=now)
            )
            if res.rowcount != 1:  # changed after all (the locks above say it cannot): again
                raise _Freed()
            _abandon_running(conn, self.name, now, why)
        log.warning("lease_taken_over", connector=self.name, dead_holder=row.holder,
                    run_id=row.run_id, reason=why)  # fmt: skip
        return None

    def _abandon_orphans(self, conn: Connection, now: datetime) -> None:
        why = "found running with an expired lease: its holder stopped heartbeating"
        _abandon_running(conn, self.name, now, why)

    def attach(self, conn: Connection, run_id: int) -> None:
        """Record the run that holds the lease (in the caller's transaction)."""
        conn.execute(
            update(_lock)
            .where(_lock.c.connector == self.name, _lock.c.holder == self.holder)
            .values(run_id=run_id)
        )

    def confirm(self, conn: Connection, now: datetime | None = None) -> None:
        """Renew the lease inside the caller's write transaction; raise LeaseLost when it is no
        longer this holder's (the caller must roll back).

        Whether the lease expired meanwhile does not matter, only whether it was taken: an
        expired lease is one another run MAY take, and every take-over (and `unlock`) writes
        another holder (or none) into the row, while no one but this holder ever writes this
        holder's name. So a row that still names this holder was never taken since `acquire`,
        and the renewal keeps it from being taken until the caller commits:
        - SQLite: the batch transaction began with BEGIN IMMEDIATE and holds the write lock
          until it ends, and every take-over writes, so none can land between this UPDATE and
          the commit. The same lock blocks this run's own heartbeat thread for as long as the
          batch lasts, which is why a check of the heartbeat's age here failed every batch
          longer than the TTL, on every retry.
        - PostgreSQL: this UPDATE locks the row until the commit. A take-over (the upsert,
          the dead holder's take-over after `SELECT ... FOR UPDATE`, `unlock`) that committed
          first changed the holder, so this UPDATE matches nothing; one that comes later waits
          for the commit and then sees a fresh heartbeat (or, when it found this holder's
          advisory lock free because its session dropped, takes the row only after this
          batch committed under it; the next batch fails here).
        """
        now = now or utcnow()
        res = conn.execute(
            update(_lock)
            .where(_lock.c.connector == self.name, _lock.c.holder == self.holder)
            .values(heartbeat_at=now)
        )
        if res.rowcount != 1:
            raise LeaseLost(f"the lease of {self.name} was lost (taken over or freed)")

    def heartbeat(self) -> bool:
        """Renew the lease in its own transaction. False when it is no longer ours."""
        now = utcnow()
        with self.engine.begin() as conn:
            res = conn.execute(
                update(_lock)
                .where(_lock.c.connector == self.name, _lock.c.holder == self.holder)
                .values(heartbeat_at=now)
            )
        return res.rowcount == 1

    def request_rerun(self) -> bool:
        """Ask the current holder for one more run after its own (`pending`). False when the
        lease is free by now (the caller should take it instead)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                update(_lock)
                .where(_lock.c.connector == self.name, _lock.c.holder.is_not(None))
                .values(pending=True)
            )
        return res.rowcount == 1

    def release_unless_pending(self) -> bool:
        """Free the lease unless a rerun was requested; in that case clear the request and
        keep the lease (one atomic statement each, so no request is lost between the check
        and the release). True when released, or when the lease is no longer this holder's
        (nothing may run again under it)."""
        with self.engine.begin() as conn:
            res = conn.execute(
                update(_lock)
                .where(
                    _lock.c.connector == self.name,
                    _lock.c.holder == self.holder,
                    _lock.c.pending.is_(False),
                )
                .values(holder=None, run_id=None)
            )
            kept = 0
            if res.rowcount != 1:
                kept = conn.execute(
                    update(_lock)
                    .where(_lock.c.connector == self.name, _lock.c.holder == self.holder)
                    .values(pending=False, heartbeat_at=utcnow())
                ).rowcount
        if kept == 1:
            return False
        if res.rowcount != 1:
            log.error("lease_lost", connector=self.name, holder=self.holder)
        self._unlock_own_key()
        return True

    def release(self) -> None:
        """Free the lease if it is still ours, then this holder's advisory lock (in that order:
        the row never names a holder whose lock is free while it lives)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(_lock)
                    .where(_lock.c.connector == self.name, _lock.c.holder == self.holder)
                    .values(holder=None, run_id=None)
                )
        finally:
            self._unlock_own_key()


class _Freed(Exception):
    """`Lease._take`: the row changed between the upsert and the take-over; try again."""


def _abandon_running(conn: Connection, name: str, now: datetime, message: str) -> None:
    """Mark the runs of `name` still recorded as running abandoned (no live holder has them)."""
    res = conn.execute(
        update(SyncRun)
        .where(SyncRun.connector == name, SyncRun.status == "running")
        .values(status="abandoned", finished_at=now, message=message)
    )
    if res.rowcount:
        log.warning("runs_abandoned", connector=name, runs=res.rowcount, reason=message)


def unlock(
    engine: Engine, name: str, ttl: timedelta, *, force: bool = False, now: datetime | None = None
) -> Held | None:
    """Free the lease `name` (an operator's action on a stuck lock) and mark its run, if still
    running, abandoned. Returns who held it, None when it was free. Raises LeaseHeld when the
    holder heartbeated within `ttl` / 2 (it beats every ttl/4: two beats missed mean it is
    gone; a run would take the lease over only after `ttl`) and is not provably dead
    (`dead_holder`), unless `force`."""
    now = now or utcnow()
    with engine.connect() as conn, conn.execution_options(**WRITING).begin():
        row = conn.execute(
            select(_lock.c.holder, _lock.c.run_id, _lock.c.acquired_at, _lock.c.heartbeat_at)
            .where(_lock.c.connector == name)
            .with_for_update()
        ).first()
        if row is None or row.holder is None:
            return None
        held = Held(row.run_id, row.acquired_at)
        message = "its lease was freed by an operator (pmo-ledger runs unlock)"
        if not force and row.heartbeat_at is not None and row.heartbeat_at >= now - ttl / 2:
            why = dead_holder(conn, row.holder)
            if why is None:
                ago = int((now - row.heartbeat_at).total_seconds())
                raise LeaseHeld(
                    f"{name} is held by {row.holder} ({held}), which heartbeated {ago}s ago: it "
                    "is alive; stop that process, or use --force if you are sure it is gone"
                )
            message = f"{message}; {why}"
        conn.execute(
            update(_lock).where(_lock.c.connector == name).values(holder=None, run_id=None)
        )
        _abandon_running(conn, name, now, message)
    log.warning("lease_unlocked", connector=name, holder=row.holder, run_id=row.run_id,
                forced=force, reason=message)  # fmt: skip
    return held


class Heartbeat:
    """Renews a lease every ttl/4 from a daemon thread until stopped."""

    def __init__(self, lease: Lease) -> None:
        self.lease = lease
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{lease.name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        interval = self.lease.ttl.total_seconds() / 4
        while not self._stop.wait(interval):
            try:
                if not self.lease.heartbeat():
                    self.lost.set()
                    log.error("lease_lost", connector=self.lease.name)
                    return
            except OperationalError as exc:  # a busy database: try again next tick
                log.warning("heartbeat_failed", connector=self.lease.name, error=str(exc.orig))


__all__ = ["Heartbeat", "Held", "Lease", "LeaseHeld", "LeaseLost", "dead_holder", "new_holder",
           "unlock"]  # fmt: skip
