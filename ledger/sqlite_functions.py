"""SQL functions every SQLite connection of the ledger gets: exact decimal arithmetic on the
scaled integers SQLite stores money and hours as (`ledger.types`).

SQLite has no exact decimal type; a percent of two amounts (scaled x10^4) needs products that
overflow a 64-bit integer for amounts in the hundreds of millions, where SQLite silently goes
over to floating point. These functions do that arithmetic in Python instead, with its
unbounded integers (the text is what `ledger.reconcile.findings.ratio` writes).
They are deterministic, so SQLite may evaluate them once per distinct argument list.

- `pmo_ratio(num, den)`: num x 100 / den as text to 4 places, rounded half up from the exact
  quotient ('12.5000', '-0.0000' when exactly one of num and den is negative, num 0 counting
  as positive: as Decimal writes it); NULL when den is 0 or an argument is NULL;
- `pmo_pct_gt(num, den, knob)`: 1 when num x 100 / den is above `knob` (a decimal as text),
  exactly, else 0; NULL when den is 0 or an argument is NULL.

Both are exact (integer arithmetic), as NUMERIC is on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from functools import lru_cache


def pmo_ratio(num: int | None, den: int | None) -> str | None:
    if num is None or not den:
        return None
    units = (2 * abs(num) * 1_000_000 + abs(den)) // (2 * abs(den))  # half up, in 10^-4
    sign = "-" if (num < 0) != (den < 0) else ""
    return f"{sign}{units // 10_000}.{units % 10_000:04d}"


def pmo_pct_gt(num: int | None, den: int | None, knob: str | None) -> int | None:
    if num is None or not den or knob is None:
        return None
    top, bottom = _ratio_of(knob)  # knob = top / bottom, bottom > 0
    left, right = num * 100 * bottom, top * den  # num x 100 / den > knob, times den x bottom
    return int(left > right if den > 0 else left < right)


@lru_cache(maxsize=256)
def _ratio_of(knob: str) -> tuple[int, int]:
    return Decimal(knob).as_integer_ratio()  # a rule has a few knobs: parsed once each


def register(connection: sqlite3.Connection) -> None:
    """Add the functions to one DBAPI connection (the engine's connect hook)."""
    connection.create_function("pmo_ratio", 2, pmo_ratio, deterministic=True)
    connection.create_function("pmo_pct_gt", 3, pmo_pct_gt, deterministic=True)
