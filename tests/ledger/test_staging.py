"""The TEMP stage holds exactly what a compiled INSERT of the same rows would store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.db import make_engine, session_factory
from pmo_ledger.ledger.sqlite_binds import constant
from pmo_ledger.ledger.staging import stage_line

_AT = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


def _row(key: str, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source": "erp",
        "stream": "actuals",
        "external_id": key,
        "project_id": 1,
        "kind": "cost",
        "cost_type": "labor",
        "period": "2026-03",
        "posted_on": date(2026, 3, 4),
        "currency": "EUR",
        "amount": Decimal("1.00005"),  # a tie at the fifth place: 1.0001 (half up)
        "rate": Decimal("1.234567895"),  # a tie at the ninth: 1.23456790
        "base_amount": Decimal("-1.00005"),  # half up is away from zero: -1.0001
        "hours": Decimal("7.5"),
        "stale_rate": False,
        "counts_amount": True,
        "counts_hours": False,
        "source_modified_at": _AT,
        "updated_at": _AT,
        "deleted_at": None,
        "line_id": None,
        "action": "insert",
    }
    row.update(values)
    return row


#: Columns of one type throughout (converted a column at a time on SQLite) and columns that
#: mix types (an int amount, a non-UTC or microsecond-free timestamp: each value through its
#: processor).
_ROWS = [
    _row("1"),
    _row(
        "2",
        amount=Decimal("-123456789.123456789"),
        posted_on=date(999, 12, 31),
        source_modified_at=datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
        updated_at=_AT,
        stale_rate=True,
    ),
    _row("3", amount=None, rate=None, base_amount=None, hours=Decimal(0), counts_amount=False),
]
_MIXED = [
    _row("4", amount=12, hours=None, posted_on=date(2026, 1, 1)),
    _row(
        "5",
        source_modified_at=datetime(2026, 3, 4, 10, 36, 7, tzinfo=timezone(timedelta(hours=5.5))),
        deleted_at=datetime(2026, 3, 5, tzinfo=UTC),
    ),
]
#: Columns of one value in every row (SQLite writes an integer or a plain ASCII text into the
#: INSERT as a literal): a quote in a text, a text that is not ASCII (bound), a Boolean and an
#: integer equal to it (not one value: bound), an integer beyond SQLite's (bound, refused).
_CONSTANT = [
    _row(
        k,
        source="o'neil -- x",
        description="caf\u00e9",
        counts_amount=flag,
        task_id=7,
        role="",
        stream="actuals\n",
    )
    for k, flag in (("6", True), ("7", 1), ("8", True))
]


def _stored(session: Session, prefix: str) -> dict[str, tuple[Any, ...]]:
    """The stage's raw values (no result processing) by key, without the prefix."""
    rows = session.connection().exec_driver_sql(
        f"SELECT * FROM stage_line WHERE substr(external_id, 1, 1) = '{prefix}'"
    )
    names = list(rows.keys())
    at = names.index("external_id")
    return {r[at][len(prefix) :]: tuple(v for i, v in enumerate(r) if i != at) for r in rows}


@pytest.mark.parametrize(
    "rows", [_ROWS, _MIXED, _CONSTANT], ids=["one_type", "mixed_types", "constant"]
)
def test_stage_holds_what_a_compiled_insert_stores(
    session: Session, rows: list[dict[str, Any]]
) -> None:
    """The stage's fast load (SQLite: values converted a column at a time; PostgreSQL: COPY)
    stores the same raw values as SQLAlchemy's compiled INSERT of the same rows: scaled
    integers rounded half up, the date and timestamp texts, the Booleans."""
    assert staging.fill(session, stage_line, [{**r, "external_id": "f" + r["external_id"]} for r in rows]) == len(rows)  # fmt: skip
    session.execute(insert(stage_line), [{**r, "external_id": "c" + r["external_id"]} for r in rows])  # fmt: skip
    fast, compiled = _stored(session, "f"), _stored(session, "c")
    assert fast == compiled
    assert sorted(fast) == sorted(r["external_id"] for r in rows)


def test_constant_columns_are_sqlite_literals_only_for_plain_values() -> None:
    """`constant`: the literal of a column's one value, None when it is not one value of one
    type, or not an integer in SQLite's range nor printable ASCII text."""
    assert constant(["o'neil", "o'neil"]) == "'o''neil'"
    assert constant([7, 7, 7]) == "7"
    assert constant([True, True]) == "1"
    assert constant([False, False]) == "0"
    assert constant([-(2**63), -(2**63)]) == str(-(2**63))
    assert constant([True, 1]) is None  # equal, but not one type
    assert constant([1, 2]) is None
    assert constant(["a", "b"]) is None
    assert constant([2**63, 2**63]) is None  # bound: refused, never a REAL
    assert constant(["caf\u00e9", "caf\u00e9"]) is None
    assert constant(["a\nb", "a\nb"]) is None
    assert constant([1.5, 1.5]) is None
    assert constant([None, None]) is None


def test_stage_of_constant_columns_on_sqlite_binds_one_and_stores_all(
    sqlite_session: Session,
) -> None:
    """SQLite: two rows alike in every column still stage as two rows (one column stays bound),
    with the literal values as they would be bound."""
    session = sqlite_session
    rows = [{"source": "erp", "stream": "actuals", "project_id": 3}] * 2
    assert staging.fill(session, stage_line, rows) == 2
    stored = session.connection().exec_driver_sql(
        "SELECT source, stream, project_id, typeof(project_id) FROM stage_line"
    )
    assert [tuple(r) for r in stored] == [("erp", "actuals", 3, "integer")] * 2


@pytest.fixture
def sqlite_session(sqlite_template: Path, tmp_path: Path) -> Iterator[Session]:
    """A session on a migrated SQLite ledger only: what these tests check is SQLite's own
    storage (PostgreSQL's COPY sends values as they are and takes a naive timestamp in the
    session's zone)."""
    path = tmp_path / "ledger.db"
    shutil.copy(sqlite_template, path)
    eng = make_engine(f"sqlite:///{path}")
    with session_factory(eng)() as s:
        yield s
    eng.dispose()


def test_stage_values_on_sqlite_are_scaled_integers_and_texts(sqlite_session: Session) -> None:
    """SQLite: the staged row of `_row("1")` as stored, value by value."""
    session = sqlite_session
    staging.fill(session, stage_line, [_row("1")])
    row = (
        session.connection()
        .exec_driver_sql(
            "SELECT amount, rate, base_amount, hours, posted_on, stale_rate, counts_amount,"
            " source_modified_at, updated_at FROM stage_line"
        )
        .one()
    )
    assert tuple(row) == (
        10001,
        123456790,
        -10001,
        75000,
        "2026-03-04",
        0,
        1,
        "2026-03-04 05:06:07.890123",
        "2026-03-04 05:06:07.890123",
    )


def test_naive_timestamp_in_the_stage_is_refused_data_on_sqlite(sqlite_session: Session) -> None:
    """SQLite: a naive timestamp raises DataError, the class the writer bisects down to the
    record, not a bare ValueError."""
    session = sqlite_session
    with pytest.raises(DataError):
        staging.fill(session, stage_line, [_row("1", source_modified_at=datetime(2026, 3, 4))])  # noqa: DTZ001 - the refused value


@pytest.fixture
def pg_session(pg: Engine) -> Iterator[Session]:
    """A session on a migrated PostgreSQL ledger only (`copy_text` is PostgreSQL's)."""
    with session_factory(pg)() as s:
        yield s


@pytest.mark.postgres
@pytest.mark.parametrize("rows", [_ROWS, _MIXED], ids=["one_type", "mixed_types"])
def test_copy_text_made_off_the_connection_stores_what_a_compiled_insert_stores(
    pg_session: Session, rows: list[dict[str, Any]]
) -> None:
    """PostgreSQL: the COPY text `copy_text` formats without a statement (the writer does it
    while one is in flight), loaded by `copy_in`, stores the same values as SQLAlchemy's
    compiled INSERT of the same rows."""
    session = pg_session
    staging.ensure(session, stage_line)
    names, data = staging.copy_text(session, stage_line, [{**r, "external_id": "t" + r["external_id"]} for r in rows])  # fmt: skip
    assert data.count(b"\n") == len(rows)
    staging.copy_in(session, stage_line, names, [data])
    session.execute(insert(stage_line), [{**r, "external_id": "c" + r["external_id"]} for r in rows])  # fmt: skip
    text_rows, compiled = _stored(session, "t"), _stored(session, "c")
    assert text_rows == compiled
    assert sorted(text_rows) == sorted(r["external_id"] for r in rows)


@pytest.mark.postgres
def test_text_copy_text_cannot_hold_is_refused_data_and_stages_nothing(
    pg_session: Session,
) -> None:
    """PostgreSQL: a value PostgreSQL's text cannot hold (a NUL character) raises DataError
    from `copy_text`, the class the writer bisects down to the record, before anything is
    sent: the stage keeps what it held."""
    session = pg_session
    staging.fill(session, stage_line, [_row("kept")])
    with pytest.raises(DataError, match="NUL"):
        staging.copy_text(session, stage_line, [_row("1"), _row("2", description="a\x00b")])
    assert list(_stored(session, "k")) == ["ept"]
