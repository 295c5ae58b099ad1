"""Small set-based helpers the record writers share (the sequence is `record_writer.py`'s).

Every writer works the same way: keep the newest record per key, validate in Python, look
the stored rows up with one join over the staged keys, diff in Python so a replay writes
nothing, then write the changed rows with one executemany.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from typing import Any, Protocol, TypeVar

from sqlalchemy import Table, and_, bindparam, select, update
from sqlalchemy.orm import Session

from pmo_ledger.ledger import quarantine, staging
from pmo_ledger.ledger.currencies import in_range
from pmo_ledger.ledger.records import Record, record_to_json
from pmo_ledger.ledger.time.calendar import parse_period

HOURS_Q = Decimal("0.0001")
RATE_Q = Decimal("0.00000001")
HUNDRED = Decimal(100)


class Keyed(Protocol):
    @property
    def source_modified_at(self) -> datetime | None: ...


R = TypeVar("R", bound=Keyed)


_EXTERNAL_ID = attrgetter("external_id")


def _ext_id(record: Any) -> str:
    return str(record.external_id)


def latest_by_key(records: Iterable[R], key: Callable[[R], str] = _ext_id) -> dict[str, R]:
    """One record per key: the newest by source_modified_at, else the last one given."""
    if key is _ext_id:
        if not isinstance(records, list | tuple):
            records = list(records)
        # The common batch: every record's own string key, each once. Then there is nothing
        # to choose, and the keys in their order are the answer.
        by_id = {_EXTERNAL_ID(r): r for r in records}
        if len(by_id) == len(records) and all(type(k) is str for k in by_id):
            return by_id
    out: dict[str, R] = {}
    for r in records:
        k = key(r)
        prev = out.get(k)
        if (
            prev is None
            or r.source_modified_at is None
            or prev.source_modified_at is None
            or r.source_modified_at >= prev.source_modified_at
        ):
            out[k] = r
    return out


def held_item(key: str | None, reason: str, detail: str, record: Record) -> quarantine.Held:
    """A quarantine item carrying the normalized record, so `quarantine retry` can replay it."""
    return quarantine.Held(
        key or None,
        reason,
        detail,
        record_to_json(record),
        source_modified_at=record.source_modified_at,
    )


def q(value: Decimal | None, quantum: Decimal = HOURS_Q) -> Decimal | None:
    """`value` at the scale the column stores (ROUND_HALF_UP), so diffs against stored
    values compare like with like."""
    return None if value is None else value.quantize(quantum, rounding=ROUND_HALF_UP)


def number_problem(name: str, value: Any) -> tuple[str, str] | None:
    """('bad_number' | 'amount_out_of_range', detail) for a value that is not a finite,
    in-range Decimal; None for a good value or None."""
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        return "bad_number", f"{name} is not a finite Decimal: {value!r}"
    if not in_range(value):
        return "amount_out_of_range", f"{name} {value} is beyond +/-900,000,000,000,000"
    return None


def percent_problem(name: str, value: Any) -> tuple[str, str] | None:
    """('bad_percent', detail) unless `value` is None or a Decimal in 0..100."""
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite() or not 0 <= value <= HUNDRED:
        return "bad_percent", f"{name} must be 0..100, got {value!r}"
    return None


def period_problem(value: str | None) -> tuple[str, str] | None:
    """('bad_period', detail) for a stated period that is not 'YYYY-PP'; None otherwise."""
    if value is None:
        return None
    try:
        parse_period(value)
    except (ValueError, TypeError) as exc:
        return "bad_period", str(exc)
    return None


def is_period(value: Any) -> bool:
    """Whether `value` is a well-formed 'YYYY-PP' period key."""
    try:
        parse_period(value)
    except (ValueError, TypeError):
        return False
    return True


def stored_rows(
    session: Session,
    table: Table,
    key_column: str,
    keys: Iterable[str],
    *where: Any,
) -> dict[str, dict[str, Any]]:
    """Rows of `table` whose `key_column` is one of `keys` (and match `where`), by key.

    One join over the staged keys, whatever the batch size (no giant IN lists).
    """
    wanted = {k for k in keys if k}
    if not wanted:
        return {}
    staging.fill_keys(session, list(wanted))
    k = staging.stage_key
    rows = session.execute(
        select(table).join(k, and_(table.c[key_column] == k.c.external_id, *where))
    ).mappings()
    return {r[key_column]: dict(r) for r in rows}


def update_by_id(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> int:
    """UPDATE `table` SET <columns> WHERE id = row['b_id'] for every row (one executemany).

    Every row must carry the same columns.
    """
    if not rows:
        return 0
    cols = [c for c in rows[0] if c != "b_id"]
    stmt = (
        update(table).where(table.c.id == bindparam("b_id")).values({c: bindparam(c) for c in cols})
    )
    session.connection().execute(stmt, list(rows))
    return len(rows)


def differs(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether any of `new`'s columns differs from the stored row."""
    return any(old.get(c) != v for c, v in new.items())


def soft_delete(
    session: Session, table: Table, key_column: str, keys: Iterable[str], now: datetime, *where: Any
) -> int:
    """Set deleted_at (and updated_at) on the live rows of these keys; rows are never removed.
    Returns how many rows it marked."""
    wanted = {k for k in keys if k}
    if not wanted:
        return 0
    staging.fill_keys(session, list(wanted))
    result = session.execute(
        update(table)
        .where(
            table.c[key_column].in_(select(staging.stage_key.c.external_id)),
            table.c.deleted_at.is_(None),
            *where,
        )
        .values(deleted_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
