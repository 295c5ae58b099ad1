"""Append-only history of the master data that is updated in place (migration 0014).

Portfolios, programs, projects, project links, tasks, dependencies, resources, capacity and
allocations are rows the writers update in place; a report as known at a past time T needs
them as they stood then. Each such table `<t>` has a `<t>_history` table holding every version
of every row: the table's own columns, plus

- `history_id`: the version's id, increasing in the order versions were recorded;
- `recorded_at`: when the ledger learned it (UTC), the writer's batch time (`updated_at`) when
  that moved forward, else the database's clock (a path that forgot to bump `updated_at`);
- `operation`: `I` insert, `U` update, `D` a hard delete (a tombstone: the row's last values).

Database triggers write them (created by the migration on SQLite and PostgreSQL), so every
write path is caught, the ORM's, the writers' set-based SQL, admin merges and hand-run SQL
alike. `ledger.history.known(table, at)` reads a table as known at T from them.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table

from pmo_ledger.ledger.models.base import Base, UtcDateTime, table_of
from pmo_ledger.ledger.models.resources import Allocation, Resource, ResourceCapacity
from pmo_ledger.ledger.models.structure import (
    Portfolio,
    Program,
    Project,
    ProjectLink,
    Task,
    TaskDependency,
)

#: The tables whose versions are kept, each as `<name>_history`.
TRACKED = (Portfolio, Program, Project, ProjectLink, Task, TaskDependency, Resource,
           ResourceCapacity, Allocation)  # fmt: skip
#: The columns a history table adds to its table's own.
HISTORY_COLUMNS = ("history_id", "recorded_at", "operation")


def history_name(table: str) -> str:
    """The history table of a tracked table."""
    return f"{table}_history"


def _history_table(live: Table) -> Table:
    columns = [Column(c.name, c.type, nullable=c.name != "id") for c in live.columns]
    return Table(
        history_name(live.name),
        Base.metadata,
        Column("history_id", Integer, primary_key=True),
        *columns,
        Column("recorded_at", UtcDateTime(), nullable=False),
        Column("operation", String(1), nullable=False),
        Index(None, "id", "recorded_at"),
    )


#: Live table name -> its history Table.
HISTORY: dict[str, Table] = {m.__tablename__: _history_table(table_of(m)) for m in TRACKED}
