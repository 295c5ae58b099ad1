"""v_variance_lines matches a variance of a run of periods (issue 18): a budget_overrun,
source_disagreement or over_allocation finding over consecutive periods is one variance keyed by
its first period, with `measures.last_period` its last; 0004's view matched the lines of the
first period only. It now matches every period from the first to `last_period` (and shows that
bound as `through_period`), and a source_disagreement variance (dimension
`<left>~<right>[:<cost types>]`, never a cost type) the cost lines of its two sources and cost
types, where 0004's matched none.

The downgrade restores 0004's definition. A later migration that rebuilds a table the analyst
views read (SQLite batch mode) calls this revision's `drop_views` before and `create_views`
after.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib
from typing import Any

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _analyst_views() -> Any:
    """Revision 0004's module, which defines v_variance_lines."""
    return importlib.import_module("pmo_ledger.migrations.versions.0004_analyst_views")


def _create_variance_lines(dialect: str, *, runs: bool) -> None:
    op.execute("DROP VIEW IF EXISTS v_variance_lines")
    op.execute(_analyst_views().variance_lines_sql(dialect == "sqlite", runs=runs))


def create_views(dialect: str) -> None:
    """Every analyst view as of this revision: 0008's, with this revision's v_variance_lines."""
    importlib.import_module("pmo_ledger.migrations.versions.0008_evm_budget_authority").create_views(
        dialect
    )
    _create_variance_lines(dialect, runs=True)


def drop_views() -> None:
    """Drop every view `create_views` made."""
    _analyst_views().drop_views()


def upgrade() -> None:
    _create_variance_lines(op.get_bind().dialect.name, runs=True)


def downgrade() -> None:
    _create_variance_lines(op.get_bind().dialect.name, runs=False)
