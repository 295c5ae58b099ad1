"""Who holds a lease, and whether that holder is provably dead.

A holder name is `host:pid:start:random` (`new_holder`): the machine, the process id, the
process's start time (seconds since the epoch, from psutil) and a random part unique to the
call. A holder that died without releasing its lease (SIGKILL, an OOM kill, a lost host) is
found dead, so the next run takes its lease over at once instead of after `lease_ttl`:

- PostgreSQL: a holder with such a name holds a session-level advisory lock on its own key
  (`lock_key`) on a connection of its own (`LockSession`) for as long as it holds the lease,
  and takes that lock BEFORE it writes its name into the lease row. A process that dies loses
  its connection and with it the lock; so whoever finds the row held can try the key
  (`session_ended`): getting it proves the holder's session is gone. The session sets TCP
  keepalives, so the server notices a lost host in about 90 s.
- SQLite (one machine): a holder on this machine whose pid no longer exists, is a zombie, or
  now belongs to a process that started later than the holder did (`process_ended`) is dead.

Anything else is judged by its heartbeat alone (`lease_ttl`): a holder on another machine on
SQLite, and a name in the older `host:pid:random` form or any other string.
"""

from __future__ import annotations

import hashlib
import os
import socket
import uuid
from contextlib import suppress
from dataclasses import dataclass

import psutil
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

#: The first of the two keys of every lease lock (`pg_try_advisory_lock(int, int)`): 'PMOL'.
#: It keeps the leases' locks apart from any other use of advisory locks in the database
#: (`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = 1347243852`, per
#: database: advisory locks are).
NAMESPACE = 0x504D4F4C
#: A pid's process that started more than this many seconds after the holder is another one.
#: Start times are wall-clock (psutil derives them from the boot time), so the slack absorbs
#: a clock adjustment while the holder runs; a later start within it is judged by the TTL.
START_SLACK = 10.0
#: The message a run gets when its holder's database session ended.
SESSION_ENDED = "its holder's database session ended: the process died"
#: Server-side keepalives of a lock session: a lost host is noticed after 60 + 3 x 10 s.
_KEEPALIVES = {"tcp_keepalives_idle": "60", "tcp_keepalives_interval": "10",
               "tcp_keepalives_count": "3"}  # fmt: skip


@dataclass(frozen=True)
class Holder:
    """A holder name in the `host:pid:start:random` form, parsed."""

    host: str
    pid: int
    start: float


def new_holder() -> str:
    """A holder name unique to this process and call: host:pid:start:random."""
    pid = os.getpid()
    start = psutil.Process(pid).create_time()
    return f"{socket.gethostname()}:{pid}:{start:.2f}:{uuid.uuid4().hex[:8]}"


def parse_holder(name: str) -> Holder | None:
    """The parts of a `new_holder` name; None for any other form (older `host:pid:random`
    names, names a test or a caller made up): such a holder is judged by its heartbeat."""
    parts = name.rsplit(":", 3)
    if len(parts) != 4 or not parts[0]:
        return None
    try:
        pid, start = int(parts[1]), float(parts[2])
    except ValueError:
        return None
    return Holder(parts[0], pid, start) if pid > 0 else None


def process_ended(holder: Holder) -> str | None:
    """Why `holder`'s process is provably gone (it ran on this machine and its pid no longer
    exists, is a zombie, or belongs to a later process); None when it may be alive or ran on
    another machine."""
    if holder.host != socket.gethostname():
        return None
    where = f"pid {holder.pid} on {holder.host}"
    try:
        process = psutil.Process(holder.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return f"its holder process ended: {where} has exited"
        started = process.create_time()
    except psutil.NoSuchProcess:  # ZombieProcess is one too: it has exited
        return f"its holder process ended: {where} no longer exists"
    except psutil.AccessDenied:
        return None
    if started > holder.start + START_SLACK:
        return f"its holder process ended: {where} now belongs to another process"
    return None


def lock_key(holder: str) -> int:
    """The second key of `holder`'s advisory lock: 32 bits of a hash of its name. Two live
    holders whose keys coincide can only make each other look alive (a session cannot take a
    lock another live session holds), never dead: the lease then waits for the TTL."""
    digest = hashlib.blake2b(holder.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


class LockSession:
    """A connection of its own, out of the engine's pool, holding `holder`'s advisory lock
    until `close` (PostgreSQL). Closing the connection frees the lock; so does the death of
    the process, which is the point."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    @classmethod
    def open(cls, engine: Engine, holder: str) -> LockSession | None:
        """Take `holder`'s lock on a new connection; None when another session holds it."""
        conn = engine.connect()
        try:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.detach()  # closing it closes the connection: a pooled one would keep the lock
            settings = {"application_name": "pmo-ledger lease", **_KEEPALIVES}
            if (conn.dialect.server_version_info or (0,)) >= (14,):
                settings["idle_session_timeout"] = "0"  # the session idles on purpose
            for name, value in settings.items():
                conn.execute(text("SELECT set_config(:n, :v, false)"), {"n": name, "v": value})
            taken = conn.execute(
                text("SELECT pg_try_advisory_lock(:ns, :key)"),
                {"ns": NAMESPACE, "key": lock_key(holder)},
            ).scalar_one()
        except BaseException:
            conn.close()
            raise
        if not taken:
            conn.close()
            return None
        return cls(conn)

    def close(self) -> None:
        """Free the lock, then close the connection; a connection already broken is no error.
        The unlock is explicit because the server ends a closed session's backend a moment
        after the client hangs up: until then the lock would still show in `pg_locks`."""
        with suppress(Exception):  # a broken connection has lost the lock already
            self._conn.execute(text("SELECT pg_advisory_unlock_all()"))
        with suppress(Exception):
            self._conn.close()


def session_ended(conn: Connection, holder: str) -> bool:
    """Whether no session holds `holder`'s advisory lock (PostgreSQL), tried inside the
    caller's transaction: a transaction-level lock, freed with that transaction, so a probe
    can never leave a lock behind on a pooled connection."""
    return bool(
        conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:ns, :key)"),
            {"ns": NAMESPACE, "key": lock_key(holder)},
        ).scalar_one()
    )
