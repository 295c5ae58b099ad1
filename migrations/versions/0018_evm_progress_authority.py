"""v_project_evm takes the progress of the project's own source first, as reconcile does
(`ledger.reconcile.evm_rules._latest_percent`): 0004's view ranked `progress_snapshot` by date
across every source, so another source's newer 100% hid the projects authority's 40%, and the
view's EV disagreed with the `forecast_overrun` rule's.

Per task (or per project's own rows) the snapshot in force is the latest on or before
CURRENT_DATE of the source that created the project (`project.source`), when it sent one,
else the latest of any source. A view cannot read `[ledger.authority] projects`: it takes the
project's creating source, which is that authority (rule 8: only it creates ledger projects)
unless the setting changed after the project was created, or the project has no source (made
by hand), where the view falls back to the latest of any source like 0004's.

The rest of the view is 0008's (the budget authority's baseline). The downgrade restores
0008's definition. A later migration that rebuilds a table the analyst views read (SQLite
batch mode) calls this revision's `drop_views` before and `create_views` after.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib
from typing import Any

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def _module(name: str) -> Any:
    return importlib.import_module(f"pmo_ledger.migrations.versions.{name}")


def latest_percent(key: str, task_level: bool) -> str:
    """The percent in force on or before CURRENT_DATE per task (or per project's own rows):
    the project's creating source's latest snapshot first, else the latest of any source."""
    which = "ps.task_id IS NOT NULL" if task_level else "ps.task_id IS NULL"
    return f"""
            SELECT r.{key}, r.percent FROM (
                SELECT ps.{key}, ps.percent,
                       row_number() OVER (
                           PARTITION BY ps.{key}
                           ORDER BY CASE WHEN ps.source = p.source THEN 0 ELSE 1 END,
                                    ps.status_date DESC, ps.recorded_at DESC, ps.id DESC
                       ) AS rn
                FROM progress_snapshot ps
                JOIN project p ON p.id = ps.project_id
                WHERE {which} AND ps.status_date <= CURRENT_DATE
            ) r WHERE r.rn = 1"""


def evm_sql(sqlite: bool) -> str:
    """0008's v_project_evm with this revision's progress ranking. 0004's `evm_sql` is frozen
    history, so its two progress subqueries are swapped for this revision's by text; a
    subquery not found (0004's text changed) is an error, never a silently old view."""
    views = _module("0004_analyst_views")
    sql: str = views.evm_sql(sqlite, counting_baselines=True)
    for key, task_level in (("task_id", True), ("project_id", False)):
        old = views._latest_percent(key, task_level)
        if sql.count(old) != 1:
            raise RuntimeError(f"0004's v_project_evm has no single {key} progress subquery")
        sql = sql.replace(old, latest_percent(key, task_level))
    return sql


def _create_evm(dialect: str) -> None:
    op.execute("DROP VIEW IF EXISTS v_project_evm")
    op.execute(evm_sql(dialect == "sqlite"))


def create_views(dialect: str) -> None:
    """Every analyst view as of this revision: 0015's, with this revision's v_project_evm."""
    _module("0015_variance_events").create_views(dialect)
    _create_evm(dialect)


def drop_views() -> None:
    """Drop every view `create_views` made."""
    _module("0015_variance_events").drop_views()


def upgrade() -> None:
    _create_evm(op.get_bind().dialect.name)


def downgrade() -> None:
    _module("0008_evm_budget_authority")._create_evm(
        op.get_bind().dialect.name, counting_baselines=True
    )
