"""One statement in flight on PostgreSQL: the server runs it while Python goes on (issue 25).

`InFlight.send` hands a statement (SQL text without parameters) to libpq on the session's
connection and returns without waiting for it; `collect` waits for its results and raises its
error as the SQLAlchemy DBAPIError subclass a statement through the session would have raised
(IntegrityError, DataError..., `orig` the psycopg error with its sqlstate), which is what the
writer's bisecting looks for. At most one statement is in flight.

The guard: while a statement is in flight, any statement through the session's connection
collects it first (a `before_cursor_execute` hook), so nothing is ever sent on a busy
connection and an error of the statement in flight surfaces at the latest there. Raw driver use
(the stage's COPY) goes through `staging.fill`/`append`, which execute through the session
first. `close` collects and removes the hook; the owner calls it before the transaction ends.

Outside a transaction (autocommit, or none begun yet) `send` runs the statement through the
session and waits, as any statement would: a statement in flight never commits on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from pmo_ledger.ledger.staging import _wrapped

if TYPE_CHECKING:
    import psycopg


class InFlight:
    """At most one statement sent ahead on `session`'s connection (PostgreSQL, psycopg)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._sql: str | None = None
        self._hooked: Connection | None = None
        self._dbapi: psycopg.Connection[Any] | None = None

    @property
    def busy(self) -> bool:
        """Whether a statement is in flight."""
        return self._sql is not None

    def send(self, sql: str) -> None:
        """Send `sql` (no parameters; may hold several statements) and return at once."""
        from psycopg import generators, pq  # PostgreSQL only: imported when used

        self.collect()
        conn = self.session.connection()
        dbapi: psycopg.Connection[Any] = conn.connection.dbapi_connection  # type: ignore[assignment]
        pgconn = dbapi.pgconn
        if pgconn.transaction_status != pq.TransactionStatus.INTRANS:
            conn.exec_driver_sql(sql)
            return
        self._hook(conn)
        try:
            pgconn.send_query(sql.encode(dbapi.info.encoding))
            self._sql, self._dbapi = sql, dbapi
            dbapi.wait(generators.send(pgconn))
        except Exception as exc:
            self._sql = None
            raise self._failed(conn, dbapi, sql, exc) from exc

    def collect(self) -> None:
        """Wait for the statement in flight, if any; raise its error (a DBAPIError)."""
        if self._sql is None:
            return
        from psycopg import errors, generators, pq  # PostgreSQL only: imported when used

        sql, dbapi = self._sql, self._dbapi
        assert dbapi is not None
        self._sql = self._dbapi = None
        try:
            results = dbapi.wait(generators.fetch_many(dbapi.pgconn))
        except Exception as exc:
            raise self._failed(None, dbapi, sql, exc) from exc
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                error = errors.error_from_result(result, encoding=dbapi.info.encoding)
                raise _wrapped(sql, error) from error

    def close(self) -> None:
        """Collect the statement in flight and remove the guard."""
        try:
            self.collect()
        finally:
            if self._hooked is not None:
                event.remove(self._hooked, "before_cursor_execute", self._before)
                self._hooked = None

    def _hook(self, conn: Connection) -> None:
        if self._hooked is conn:
            return
        if self._hooked is not None:
            event.remove(self._hooked, "before_cursor_execute", self._before)
        event.listen(conn, "before_cursor_execute", self._before)
        self._hooked = conn

    def _before(self, *_: Any) -> None:
        self.collect()

    def _failed(
        self, conn: Connection | None, dbapi: psycopg.Connection[Any], sql: str, exc: Exception
    ) -> Exception:
        """`exc` as SQLAlchemy's class; a connection it lost is invalidated (as `staging`
        does for a COPY) so that the session's rollback does not fail in turn."""
        if dbapi.closed or dbapi.broken:
            (conn or self.session.connection()).invalidate(exc)
        return _wrapped(sql, exc)
