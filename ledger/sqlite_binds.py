"""Stage rows as SQLite stores them, converted a column at a time.

A compiled INSERT converts each value through its column type's bind processor: on SQLite the
scaled integer of a money value (`ExactDecimal`), the text of a date or a timestamp, the
integer of a Boolean, each through two or three nested calls: a quarter of an SQLite first
load (30,000 lines of 42 columns: 0.5 s of 1.8 s). Here a
column whose values are all of the plain type its common case expects is converted by one
expression per value with no call between, giving exactly the value the processor gives;
any other column goes through the processor itself, value by value, as before.

A column that holds one and the same value in every row (a batch's source, stream, run, time)
is written into the INSERT as an SQL literal when its value is an integer or a plain ASCII text
(`constant`): sqlite3 then binds it once for the statement, not once a row.
"""

from __future__ import annotations

import decimal
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from operator import itemgetter
from typing import Any

from sqlalchemy import Boolean, Date, Table
from sqlalchemy.engine import Dialect

from pmo_ledger.ledger.types import ExactDecimal, UtcDateTime

_NONE = type(None)


def sqlite_rows(
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    dialect: Dialect,
    only: Collection[str] | None = None,
) -> tuple[list[str], dict[str, str], Iterator[tuple[Any, ...]]]:
    """The column names of `rows` (the keys of the first, or of all when they differ: a
    missing key is NULL; with `only`, those of them) to bind, their values as tuples, after
    each column's SQLite bind processing, and the columns whose one value in every row is
    written as an SQL literal (`constant`), by name. At least one column is bound (it says
    how many rows)."""
    names = list(rows[0])
    raw: Iterable[Sequence[Any]]
    if set(map(len, rows)) == {len(names)}:  # rows of one stage share keys
        if only is not None:
            names = [n for n in names if n in only]
        # A list a column, not a tuple a row: 42 objects for the collector to count, not
        # 50,000 (each full collection walks the whole heap: 0.1-0.2 s).
        raw = (list(map(itemgetter(name), rows)) for name in names)
    else:
        names = list(dict.fromkeys(k for row in rows for k in row))
        if only is not None:
            names = [n for n in names if n in only]
        raw = ([row.get(n) for row in rows] for n in names)
    kept: list[str] = []
    columns: list[Sequence[Any]] = []
    literals: dict[str, str] = {}
    first: tuple[str, Sequence[Any]] | None = None  # the first constant column
    for name, values in zip(names, raw, strict=True):
        column = table.c[name]
        if (
            values[0] is None
            and column.server_default is None
            and values.count(None) == len(values)
        ):
            continue  # NULL in every row: left out, NULL all the same, and nothing to bind
        converted = _converted(column.type, values, dialect)
        literal = constant(converted) if len(converted) > 1 else None
        if literal is None:
            kept.append(name)
            columns.append(converted)
            continue
        literals[name] = literal
        first = first or (name, converted)
    if not kept:  # every value NULL or constant: one bound column says how many rows
        if first is None:
            kept, columns = names[:1], [[None] * len(rows)]
        else:
            del literals[first[0]]
            kept, columns = [first[0]], [first[1]]
    return kept, literals, zip(*columns, strict=True)


#: The integers SQLite stores as such (a bound one beyond them is refused, a literal one
#: would become a REAL).
_INT64 = range(-(2**63), 2**63)


def constant(values: Sequence[Any]) -> str | None:
    """The SQL literal of the one value every item of `values` holds, or None: `values`
    differ, or their value is not an integer (bool included: sqlite3 binds it as 1/0) in
    SQLite's range, nor a text of printable ASCII. A literal is stored exactly as the bound
    value is (the column's affinity applies to both)."""
    first = values[0]
    kind = type(first)
    text: str
    if kind is str:
        if not (first.isascii() and first.isprintable()):
            return None
        text = "'" + first.replace("'", "''") + "'"
    elif kind is int or kind is bool:
        if first not in _INT64:
            return None
        text = str(int(first))
    else:
        return None
    if values.count(first) != len(values) or len(set(map(type, values))) != 1:
        return None
    return text


#: SQLite's DATETIME storage format (sqlalchemy.dialects.sqlite.DATETIME), positional.
_DATETIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


def _converted(column_type: Any, values: Sequence[Any], dialect: Dialect) -> Sequence[Any]:
    """`values` as the column type's bind processor makes them (None stays None)."""
    if not isinstance(column_type, _FAST):
        # No fast path for this type (a text, an integer): its processor if it has one,
        # without looking at the values' types first.
        return _processed(column_type, values, dialect)
    types = set(map(type, values))
    types.discard(_NONE)
    if not types:
        return values
    if types == {Decimal} and isinstance(column_type, ExactDecimal):
        # ExactDecimal.process_bind_param on SQLite: quantized half up, then x10^scale. The
        # quantize through a copy of the current context set to half up is the same operation
        # (same precision and traps) without a keyword argument parsed per value.
        quantum, factor = column_type.quantum, column_type.factor
        half_up = decimal.getcontext().copy()
        half_up.rounding = ROUND_HALF_UP
        quantize = half_up.quantize
        return [None if v is None else int(quantize(v, quantum) * factor) for v in values]
    if types == {datetime} and isinstance(column_type, UtcDateTime):
        # UtcDateTime then SQLite's DATETIME: the UTC wall time in its storage format. Each
        # distinct value once (a batch's `updated_at` is one value).
        if all(v is None or v.tzinfo is UTC for v in values):
            text: dict[datetime | None, str | None] = {
                v: _DATETIME % (v.year, v.month, v.day, v.hour, v.minute, v.second, v.microsecond)
                for v in dict.fromkeys(values)
                if v is not None
            }
            text[None] = None
            return list(map(text.__getitem__, values))
    elif types == {date} and isinstance(column_type, Date):
        return [None if v is None else v.isoformat() for v in values]  # "YYYY-MM-DD"
    elif types == {bool} and isinstance(column_type, Boolean):
        return values  # sqlite3 binds True and False as 1 and 0, as the processor's int() does
    return _processed(column_type, values, dialect)


#: The column types `_converted` has a path of its own for (when the values' types fit).
_FAST = (ExactDecimal, UtcDateTime, Date, Boolean)


def _processed(column_type: Any, values: Sequence[Any], dialect: Dialect) -> Sequence[Any]:
    """`values` through the column type's bind processor, value by value (None stays None)."""
    process = column_type.dialect_impl(dialect).bind_processor(dialect)
    if process is None:
        return values
    return [None if v is None else process(v) for v in values]
