"""The portfolio snapshot (issue 24, item 6): per project, the figures the dashboard's
portfolio page shows (current budget, counting actual cost, BAC, PV, EV, AC at the status
date), written by each live reconcile in its own transaction with the ledger's change markers
it read (`portfolio_snapshot`, one kept), so the page reads them instead of computing them
while the ledger has not moved. Nothing else refers to the tables: downgrade drops them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pmo_ledger.ledger import types as ledger_types

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _money(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, ledger_types.ExactDecimal(precision=20, scale=4), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "portfolio_snapshot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status_date", sa.Date(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("computed_at", ledger_types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("markers", sa.JSON(), nullable=False),
        sa.Column("settings_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portfolio_snapshot")),
    )
    op.create_table(
        "portfolio_snapshot_row",
        sa.Column("snapshot_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        _money("budget", False),
        _money("actual", False),
        _money("bac", True),
        _money("pv", True),
        sa.Column("ev", sa.Text(), nullable=True),
        _money("ac", True),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["portfolio_snapshot.id"],
            name=op.f("fk_portfolio_snapshot_row_snapshot_id_portfolio_snapshot"),
        ),
        sa.PrimaryKeyConstraint(
            "snapshot_id", "project_id", name=op.f("pk_portfolio_snapshot_row")
        ),
    )


def downgrade() -> None:
    op.drop_table("portfolio_snapshot_row")
    op.drop_table("portfolio_snapshot")
