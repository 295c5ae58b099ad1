"""SOQL text for the connector's reads. Values are escaped by simple-salesforce's `format_soql`;
field and object names come from validated settings (`[A-Za-z][A-Za-z0-9_.]*`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from simple_salesforce.format import format_soql

ORDER = "ORDER BY SystemModstamp, Id"


def since(when: datetime) -> str:
    """`SystemModstamp >= <when>`, floored to the second (SOQL literals have no fraction;
    flooring re-reads at most one second, which rule 1 makes harmless)."""
    literal = when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"SystemModstamp >= {literal}"


def after_row(stamp: datetime, row_id: str) -> str:
    """The rows after (`stamp`, `row_id`) in SystemModstamp, Id order. The literal is floored
    to the second (a fraction of it is read again: harmless)."""
    literal = stamp.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    same = format_soql("Id > {}", row_id)
    return f"SystemModstamp > {literal} OR (SystemModstamp = {literal} AND {same})"


def equals(field: str, value: str) -> str:
    return format_soql(f"{field} = {{}}", value)


def one_of(field: str, values: Iterable[str]) -> str:
    return format_soql(f"{field} IN {{}}", sorted(set(values)))


def between(field: str, first: date, last: date) -> str:
    return f"{field} >= {first.isoformat()} AND {field} <= {last.isoformat()}"


def where(conditions: Iterable[str | None]) -> str:
    """` WHERE (c1) AND (c2) ...` of the present conditions, each in its own parentheses: a
    stream's configured `where` (one balanced condition, condition.py) cannot reach past them
    to widen the others."""
    parts = [f"({c})" for c in conditions if c]
    return f" WHERE {' AND '.join(parts)}" if parts else ""


def select(
    fields: Sequence[str], sobject: str, conditions: Iterable[str | None], *, ordered: bool = True
) -> str:
    """SELECT <fields> FROM <sobject> [WHERE ...] [ORDER BY SystemModstamp, Id]."""
    order = f" {ORDER}" if ordered else ""
    return f"SELECT {', '.join(fields)} FROM {sobject}{where(conditions)}{order}"


def count(sobject: str, conditions: Iterable[str | None]) -> str:
    return f"SELECT COUNT() FROM {sobject}{where(conditions)}"


def totals(
    groups: Sequence[str], amount: str, sobject: str, conditions: Iterable[str | None]
) -> str:
    """COUNT(Id) `n` and SUM(amount) `amount` per group."""
    keys = ", ".join(groups)
    return (
        f"SELECT {keys}, COUNT(Id) n, SUM({amount}) amount FROM {sobject}"
        f"{where(conditions)} GROUP BY {keys}"
    )
