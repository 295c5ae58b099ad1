"""`INSERT ... ON CONFLICT` on both engines, the one upsert the ledger uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_for(session: Session, table: Table) -> Any:
    """The dialect's own `insert()` (the one that has `on_conflict_do_*`)."""
    return insert_for_dialect(session.get_bind().dialect, table)


def insert_for_dialect(dialect: Dialect, table: Table) -> Any:
    """The `insert()` of this dialect (SQLite or PostgreSQL)."""
    name = dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"the ledger runs on SQLite and PostgreSQL, not {name}")


def upsert(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    update: Sequence[str] | None = None,
) -> None:
    """Insert `rows`; on a conflict over `keys` update `update` columns (None: all others,
    []: do nothing)."""
    if not rows:
        return
    stmt = insert_for(session, table)
    cols = update if update is not None else [c for c in rows[0] if c not in keys]
    if cols:
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols}
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt, list(rows))
