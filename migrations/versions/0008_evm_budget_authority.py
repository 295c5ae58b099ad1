"""v_project_evm takes the baseline of the project's budget authority (rule 8): only baselines
with a live counting line are ranked. With the PSA as budget authority and an ERP also sending
baselines, the latest baseline of any source was the ERP's, whose lines do not count, and BAC,
PV and EV were 0 for every project. `forecast_overrun` chooses the same way
(`ledger.reconcile.budget_source.counting_versions`).

The downgrade restores 0004's definition. A later migration that rebuilds a table the analyst
views read (SQLite batch mode) calls this revision's `drop_views` before and `create_views`
after, not 0004's (whose v_project_evm is the old one).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib
from typing import Any

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _analyst_views() -> Any:
    """Revision 0004's module, which defines the analyst views."""
    return importlib.import_module("pmo_ledger.migrations.versions.0004_analyst_views")


def _create_evm(dialect: str, *, counting_baselines: bool) -> None:
    op.execute("DROP VIEW IF EXISTS v_project_evm")
    op.execute(_analyst_views().evm_sql(dialect == "sqlite", counting_baselines=counting_baselines))


def create_views(dialect: str) -> None:
    """Every analyst view as of this revision: 0004's, with this revision's v_project_evm."""
    _analyst_views().create_views(dialect)
    _create_evm(dialect, counting_baselines=True)


def drop_views() -> None:
    """Drop every view `create_views` made."""
    _analyst_views().drop_views()


def upgrade() -> None:
    _create_evm(op.get_bind().dialect.name, counting_baselines=True)


def downgrade() -> None:
    _create_evm(op.get_bind().dialect.name, counting_baselines=False)
