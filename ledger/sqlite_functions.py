"""SQL functions every SQLite connection of the ledger gets: exact decimal arithmetic on the
scaled integers SQLite stores money and hours as (`ledger.types`).

SQLite has no exact decimal type; a percent of two amounts (scaled x10^4) needs products that
overflow a 64-bit integer for amounts in the hundreds of millions, where SQLite silently goes
over to floating point. These functions do that arithmetic with `Decimal` instead, the way the
reconcile rules do it in Python (`ledger.reconcile.findings`). They are deterministic, so
SQLite may evaluate them once per distinct argument list.

- `pmo_ratio(num, den)`: num x 100 / den as text to 4 places, rounded half up ('12.5000');
  NULL when den is 0 or an argument is NULL;
- `pmo_pct_gt(num, den, knob)`: 1 when num x 100 / den is above `knob` (a decimal as text),
  else 0; NULL when den is 0 or an argument is NULL.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from ledger.reconcile.findings import ratio


def pmo_ratio(num: int | None, den: int | None) -> str | None:
    if num is None or not den:
        return None
    return ratio(Decimal(num) * 100 / Decimal(den))


def pmo_pct_gt(num: int | None, den: int | None, knob: str | None) -> int | None:
    if num is None or not den or knob is None:
        return None
    return int(Decimal(num) * 100 / Decimal(den) > Decimal(knob))


def register(connection: sqlite3.Connection) -> None:
    """Add the functions to one DBAPI connection (the engine's connect hook)."""
    connection.create_function("pmo_ratio", 2, pmo_ratio, deterministic=True)
    connection.create_function("pmo_pct_gt", 3, pmo_pct_gt, deterministic=True)
