"""TEMP staging tables: a batch is staged with one executemany, then applied with set-based SQL.

Each table mirrors the columns (and so the exact types) of the table it feeds. They are
created on the session's connection when first used and emptied before each use; TEMP tables
are private to the connection, so concurrent writers never see each other's stage.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import JSON, Boolean, Column, Index, Integer, MetaData, String, Table, delete, text
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InternalError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, CreateTable

from pmo_ledger.ledger.models import (
    ActualLine,
    ActualPeriodTotal,
    BudgetLine,
    LedgerEntry,
    table_of,
)
from pmo_ledger.ledger.sqlite_binds import sqlite_rows
from pmo_ledger.ledger.types import ExactDecimal, UtcDateTime

if TYPE_CHECKING:
    import sqlite3

    import psycopg

_META = MetaData()


def mirror(name: str, source: Table, skip: set[str], extra: list[Any]) -> Table:
    """A TEMP table with `source`'s columns (all nullable) but `skip`, plus `extra`."""
    cols: list[Column[Any]] = [
        Column(c.name, c.type, nullable=True) for c in source.columns if c.name not in skip
    ]
    return Table(name, _META, *cols, *extra, prefixes=["TEMPORARY"])


#: Final versions of actual lines to insert or update (line_id set for updates).
stage_line = mirror(
    "stage_line",
    table_of(ActualLine),
    {"id", "created_at", "first_run_id"},
    [
        Column("line_id", Integer),
        Column("action", String(10)),
        # Set when the line's one entry is its whole new version (derived in SQL).
        Column("entry_reason", String(12)),
        # PostgreSQL: the chunk of new lines written ahead with it (`LineWriter.writing_ahead`).
        Column("chunk", Integer),
        Index("ix_stage_line_id", "line_id"),
    ],
)

#: Entries to append, joined to their line by (source, stream, external_id).
stage_entry = mirror(
    "stage_entry",
    table_of(LedgerEntry),
    {"id", "line_id"},
    [
        Column("stream", String(100)),
        Column("external_id", String(255)),
        Column("seq", Integer),  # entries keep the order they were made in (reversal first)
        Index("ix_stage_entry_key", "source", "stream", "external_id"),
    ],
)

#: Keys a batch touched, for lookups by key (existing lines, quarantine resolution...).
stage_key = Table(
    "stage_key",
    _META,
    Column("external_id", String(255)),
    Column("ref_type", String(40)),
    Column("ref", String(255)),
    Index("ix_stage_key_external_id", "external_id"),
    Index("ix_stage_key_ref", "ref_type", "ref"),
    prefixes=["TEMPORARY"],
)

#: Final versions of budget lines to insert or update.
stage_budget_line = mirror(
    "stage_budget_line",
    table_of(BudgetLine),
    {"id", "created_at"},
    [Column("line_id", Integer), Column("action", String(10))],
)

#: The aggregate groups a rebuild computed, compared with the stored ones (`aggregates.rebuild`).
stage_total = mirror("stage_total", table_of(ActualPeriodTotal), set(), [])

#: Keys seen inside an open scope (filled by the runner from each batch's stage).
scope_seen = Table(
    "scope_seen",
    _META,
    Column("scope_key", String(255)),
    Column("external_id", String(255)),
    Index("ix_scope_seen_key", "scope_key", "external_id"),
    prefixes=["TEMPORARY"],
)


def ensure(session: Session, table: Table) -> None:
    """Create the TEMP table on this session's connection if it is not there yet.

    Always issued (IF NOT EXISTS): on PostgreSQL a rolled-back transaction also rolls back
    the CREATE, so remembering "created" on the connection would lie after a rollback.
    """
    session.execute(CreateTable(table, if_not_exists=True))
    for index in table.indexes:
        session.execute(CreateIndex(index, if_not_exists=True))


def empty(session: Session, table: Table) -> None:
    """Empty a stage (created if needed). PostgreSQL: TRUNCATE, a new empty file. A DELETE
    leaves every row dead in a TEMP table, which autovacuum never visits, so each batch's
    stage grew by the rows of the ones before, and its scans, COPYs and ANALYZEs with it (a
    DELETE of stage_line took 14 ms in the first batch of a 1,000,000-line load and 80 ms in
    the twentieth). SQLite: DELETE, which it runs as a truncate."""
    ensure(session, table)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"TRUNCATE {table.name}"))
    else:
        session.execute(delete(table))


def fill(session: Session, table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Empty `table` and load `rows` (COPY on PostgreSQL, one executemany on SQLite). Returns
    the row count."""
    empty(session, table)
    count = append(session, table, rows)
    if count:
        _analyze(session, table)
    return count


def _analyze(session: Session, table: Table) -> None:
    """PostgreSQL: statistics of a just-filled stage. TEMP tables have none: without them the
    planner guesses a size and may choose a nested loop over a whole ledger table. The row
    count and the indexed columns are what the joins need; sampling every column would cost
    more than it helps."""
    if session.get_bind().dialect.name == "postgresql":
        indexed = {c.name for index in table.indexes for c in index.columns}
        columns = f" ({', '.join(sorted(indexed))})" if indexed else ""
        session.execute(text(f"ANALYZE {table.name}{columns}"))


def append(session: Session, table: Table, rows: Iterable[Mapping[str, Any]]) -> int:
    """Load `rows` into `table` as `fill` does, keeping what it holds. Returns the row count."""
    ensure(session, table)
    batch = list(rows)
    if batch:
        if session.get_bind().dialect.name == "postgresql":
            _copy(session, table, batch)
        else:
            _executemany(session, table, batch)
    return len(batch)


def _processed(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
) -> tuple[list[str], Iterator[Sequence[Any]]]:
    """Column names and rows of values after each column type's bind processing, as a compiled
    INSERT would send them (`dialect_impl`: the bare TypeDecorator would hand Numeric values
    to psycopg as floats). Bypasses SQLAlchemy's per-row parameter building on the hot path."""
    dialect = session.get_bind().dialect
    names = list(rows[0])
    uniform = all(len(row) == len(names) for row in rows)  # rows of one stage share keys
    if not uniform:
        names = list(dict.fromkeys(k for row in rows for k in row))
    procs = [_processor(table.c[n].type, dialect) for n in names]
    active = [(i, p) for i, p in enumerate(procs) if p is not None]
    pick = itemgetter(*names) if uniform and len(names) > 1 else None

    def values() -> Iterator[Sequence[Any]]:
        for row in rows:
            if pick is not None and not active:
                yield pick(row)  # PostgreSQL's common case: values go as they are
                continue
            out = list(pick(row)) if pick is not None else [row.get(n) for n in names]
            for i, proc in active:
                if out[i] is not None:
                    out[i] = proc(out[i])
            yield out

    return names, values()


def _processor(column_type: Any, dialect: Any) -> Any:
    """The bind processor for a COPY or executemany value. On PostgreSQL, Decimals and aware
    datetimes go as they are: NUMERIC rounds ties away from zero exactly like ROUND_HALF_UP,
    and psycopg sends aware datetimes as timestamptz (the writer never makes naive ones); JSON
    goes as its text (the bind processor wraps it for psycopg, which serialized it again per
    row). Booleans go as they are too (COPY's text form of True and 1 is what a boolean takes):
    their processor was a call per value and kept each row off the fast path."""
    if dialect.name == "postgresql":
        if isinstance(column_type, ExactDecimal | UtcDateTime | Boolean):
            return None
        if isinstance(column_type, JSON):
            return json.dumps
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _driver_error(session: Session) -> type[Exception]:
    """The driver's base error class (sqlite3.Error, psycopg.Error)."""
    error: type[Exception] = session.get_bind().dialect.loaded_dbapi.Error
    return error


def _wrapped(sql: str, exc: Exception) -> DBAPIError:
    """A raw driver error (or a value the driver cannot send) as SQLAlchemy's error class, the
    one the writer's bisecting looks for."""
    if isinstance(exc, OverflowError | ValueError):
        return DataError(sql, None, exc)
    name = type(exc).__mro__
    for cls, ours in (
        ("IntegrityError", IntegrityError),
        ("DataError", DataError),
        ("InternalError", InternalError),
        ("OperationalError", OperationalError),
    ):
        if any(c.__name__ == cls for c in name):
            return ours(sql, None, exc)
    return DBAPIError(sql, None, exc)


def _executemany(
    session: Session,
    table: Table,
    rows: list[Mapping[str, Any]],
) -> None:
    """SQLite: one DBAPI executemany of processed values (`sqlite_binds`: a column at a
    time, a column of one value in every row written into the statement as a literal; a value
    its column refuses raises as a refused row of the INSERT would): `insert_rows` into the
    stage itself."""
    insert_rows(session, table, table, rows, {})


def insert_rows(
    session: Session,
    table: Table,
    like: Table,
    rows: Sequence[Mapping[str, Any]],
    copies: Mapping[str, str],
) -> None:
    """SQLite: `rows` (values of `like`'s columns, processed as `like`'s) inserted straight
    into `table` with one executemany, as `fill` of a stage then `INSERT INTO table ... SELECT`
    of the columns `table` has would store them; each of `copies` (a column of `table`) takes
    the value of the column it names. A value refused raises as in `fill`."""
    dbapi = session.connection().connection.dbapi_connection
    assert dbapi is not None
    cur = cast("sqlite3.Cursor", dbapi.cursor())
    sql = f"INSERT INTO {table.name}"
    try:
        try:
            names, literals, values = sqlite_rows(
                like, rows, session.get_bind().dialect, only=set(table.c.keys())
            )
            marks = [f"?{i}" for i in range(1, len(names) + 1)] + list(literals.values())
            columns = [*names, *literals]
            for target, origin in copies.items():
                columns.append(target)
                if origin in literals:
                    marks.append(literals[origin])
                elif origin in names:
                    marks.append(f"?{names.index(origin) + 1}")
                else:
                    marks.append("NULL")  # NULL in every row (left out)
            sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join(marks)})"  # noqa: S608 - our own names and literals
            cur.executemany(sql, values)
        except (_driver_error(session), OverflowError, ValueError) as exc:
            raise _wrapped(sql, exc) from exc
    finally:
        cur.close()


def _copy(
    session: Session,
    table: Table,
    rows: list[Mapping[str, Any]],
) -> None:
    """PostgreSQL: COPY the rows into the stage (psycopg's executemany sends one statement per
    row)."""
    names, values = _processed(session, table, rows)
    with _copying(session, f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in values:
            copy.write_row(row)


def copy_text(
    session: Session, table: Table, rows: Sequence[Mapping[str, Any]]
) -> tuple[list[str], bytes]:
    """PostgreSQL: `rows` (as `append` takes them) as their column names and the COPY text
    that `copy_in` loads into `table`. psycopg formats them as its COPY would, into a
    buffer (a `Copy` with a `FileWriter`, its documented way to make COPY data without a
    server): no statement runs, so the writer formats a chunk while the statement before it is
    still in flight on the connection. A value the driver cannot format raises as `append`
    would (`_wrapped`)."""
    from psycopg import Copy  # PostgreSQL only: imported when used
    from psycopg.copy import FileWriter

    names, values = _processed(session, table, rows)
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    dbapi: Any = session.connection().connection.dbapi_connection
    buffer = io.BytesIO()
    try:
        with dbapi.cursor() as cur, Copy(cur, writer=FileWriter(buffer)) as copy:
            for row in values:
                copy.write_row(row)
    except (_driver_error(session), OverflowError, ValueError) as exc:
        raise _wrapped(sql, exc) from exc
    return names, buffer.getvalue()


@contextmanager
def _copying(session: Session, sql: str) -> Iterator[psycopg.Copy]:
    """PostgreSQL: the COPY `sql` on the session's connection. A driver error, or a value the
    driver cannot send, comes out as SQLAlchemy's class (`_wrapped`). A COPY runs on the
    driver's connection, out of SQLAlchemy's sight: a connection it lost is invalidated here, as
    SQLAlchemy does for its own statements, so that the session's rollback does not fail in
    turn and hide this error."""
    dbapi: Any = session.connection().connection.dbapi_connection
    try:
        with cast("psycopg.Cursor[Any]", dbapi.cursor()) as cur, cur.copy(sql) as copy:
            yield copy
    except (_driver_error(session), OverflowError, ValueError) as exc:
        if dbapi.closed or dbapi.broken:
            session.connection().invalidate(exc)
        raise _wrapped(sql, exc) from exc


def copy_out(session: Session, query: Any) -> list[bytes]:
    """PostgreSQL: the rows of `query` as COPY text (`COPY (query) TO STDOUT`), in the blocks the
    server sent, for `copy_in` on another connection: rows move between two connections without
    being parsed into Python values and written back one by one. The query is rendered with its
    values inline (COPY takes no bound parameters)."""
    dialect = session.get_bind().dialect
    # Our own SQL: its values rendered and quoted by SQLAlchemy, no parameter left.
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    if dialect.paramstyle in ("format", "pyformat"):
        # '%' is written '%%' for the driver to undo when it merges parameters; a statement
        # without parameters goes to the server as it is.
        sql = sql.replace("%%", "%")
    with _copying(session, f"COPY ({sql}) TO STDOUT") as copy:
        return [bytes(block) for block in copy]


def copy_in(
    session: Session, table: Table, columns: Sequence[str], blocks: Iterable[bytes]
) -> None:
    """PostgreSQL: append COPY text blocks (`copy_out`'s or `copy_text`'s, with `columns` in
    their order) to `table`."""
    ensure(session, table)
    with _copying(session, f"COPY {table.name} ({', '.join(columns)}) FROM STDIN") as copy:
        for block in blocks:
            copy.write(block)


def fill_keys(session: Session, keys: Sequence[str]) -> int:
    """`fill` of `stage_key`'s external_id with `keys` (distinct strings), the lookups' hot path:
    no dict per key, no bind processing; on PostgreSQL one COPY of the keys' text."""
    table = stage_key
    empty(session, table)
    count = _append_strings(session, table, ("external_id",), keys, 1)
    if count:
        _analyze(session, table)
    return count


def append_keyed(
    session: Session, table: Table, columns: Sequence[str], first: str, keys: Sequence[str]
) -> int:
    """`append` of the rows (`first`, key) for each of `keys` (plain strings) to the two
    `columns` of `table`, without the dict per row and the bind processing `append` does.
    Returns the row count."""
    ensure(session, table)
    return _append_strings(session, table, columns, keys, 2, first)


def _append_strings(
    session: Session,
    table: Table,
    columns: Sequence[str],
    keys: Sequence[str],
    width: int,
    first: str | None = None,
) -> int:
    """Rows of strings appended to `table`: each key alone (`width` 1) or after `first`
    (`width` 2). On PostgreSQL one COPY, its text written whole when no value needs escaping
    (COPY's text form of such a value is the value itself), else row by row."""
    if not keys:
        return 0

    def rows() -> Iterator[tuple[str | None, ...]]:
        return ((k,) if width == 1 else (first, k) for k in keys)

    names = ", ".join(columns)
    if session.get_bind().dialect.name != "postgresql":
        dbapi: Any = session.connection().connection.dbapi_connection
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table.name} ({names}) VALUES ({marks})"  # noqa: S608 - our own names
        cur = dbapi.cursor()
        try:
            cur.executemany(sql, rows())
        except _driver_error(session) as exc:
            raise _wrapped(sql, exc) from exc
        finally:
            cur.close()
        return len(keys)
    try:
        blob = "\n".join(keys) if width == 1 else f"{first}\t" + f"\n{first}\t".join(keys)
    except TypeError:  # a None (NULL) among them
        blob = "\\"
    plain = (
        "\\" not in blob
        and "\r" not in blob
        and blob.count("\n") == len(keys) - 1
        and blob.count("\t") == len(keys) * (width - 1)
    )
    with _copying(session, f"COPY {table.name} ({names}) FROM STDIN") as copy:
        if plain:
            copy.write(blob + "\n")
        else:
            for row in rows():
                copy.write_row(row)
    return len(keys)
