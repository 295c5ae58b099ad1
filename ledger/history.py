"""Master data as known at a past time, from the history tables (migration 0014).

`known(table, at)` is a selectable shaped like the live table (same column names and types):
the table itself when `at` is None, else each row's latest version recorded by `at`, rows
hard-deleted by then left out. Soft deletes (`deleted_at`) are columns like any other: a
caller filters them as it does on the live table.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import FromClause, Table, func, select

from pmo_ledger.ledger.models import HISTORY


def known(table: Table, at: datetime | None, *, name: str | None = None) -> FromClause:
    """`table` as the ledger knew it at `at` (UTC; None: live). `name` names the subquery
    (default `<table>_known`). Raises KeyError for a table without history."""
    if at is None:
        return table
    h = HISTORY[table.name]
    latest = select(func.max(h.c.history_id)).where(h.c.recorded_at <= at).group_by(h.c.id)
    return (
        select(*(h.c[c.name] for c in table.columns))
        .where(h.c.history_id.in_(latest), h.c.operation != "D")
        .subquery(name or f"{table.name}_known")
    )
