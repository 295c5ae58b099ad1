"""Engines and sessions for the ledger database (SQLite or PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from pmo_ledger.ledger import sqlite_functions
from pmo_ledger.ledger.urls import engine_url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


#: Execution options of a connection whose transactions write (see `_sqlite_begin`).
WRITING = {"sqlite_immediate": True}


def _sqlite_begin(conn: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is
    # locked" (SQLITE_BUSY_SNAPSHOT, no busy wait) when another connection committed after its
    # read: a lease heartbeat in the middle of a batch. Writers (execution option
    # `sqlite_immediate`, `WRITING`) take the write lock at BEGIN instead and wait for it
    # (busy_timeout); readers stay deferred so they never block writers.
    immediate = conn.get_execution_options().get("sqlite_immediate")
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`. SQLite connections set WAL, busy_timeout=5000 and foreign keys, and
    get the ledger's SQL functions (`ledger.sqlite_functions`). A raw `@` in a password is
    taken as the operator meant it (`ledger.urls.engine_url`)."""
    url = engine_url(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        # Let SQLAlchemy, not pysqlite, emit BEGIN (SQLAlchemy docs, "Serializable isolation").
        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection: Any, record: Any) -> None:
            dbapi_connection.isolation_level = None
            _sqlite_pragmas(dbapi_connection, record)
            sqlite_functions.register(dbapi_connection)

        event.listen(engine, "begin", _sqlite_begin)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (jobs read them after committing)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def work_mem(session: Session, size: str) -> Iterator[None]:
    """PostgreSQL: the statements inside run with `work_mem` at `size` (e.g. '64MB'). At the
    default 4MB, grouping a few hundred thousand rows spills its sort or hash table to disk."""
    with local_setting(session, "work_mem", size):
        yield


@contextmanager
def local_setting(session: Session, name: str, value: str) -> Iterator[None]:
    """PostgreSQL: the statements inside run with the setting `name` at `value` (SET LOCAL, so
    only in this transaction), and the value before is put back after them. Nothing on other
    engines. An error inside leaves the setting until the transaction ends (it is rolled back,
    or a statement after a failed one would fail too)."""
    if session.get_bind().dialect.name != "postgresql":
        yield
        return
    before = session.scalar(text("SELECT current_setting(:name)"), {"name": name})
    session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": value})
    yield
    session.execute(text("SELECT set_config(:name, :value, true)"), {"name": name, "value": before})
