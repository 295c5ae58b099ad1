"""Partial indexes over live actual lines that the reconcile rules scan instead of the lines
(issue 5, speed): counting hours per resource and period (hours_overrun, under_utilization);
(project, posted_on) for lines outside a project's dates or after it closed, and the few lines
waiting for a rate or with negative hours (data_quality).

SQLite uses a partial index only when the query repeats its terms: its predicates are spelled
as SQLAlchemy renders the rules' conditions there (`counts_hours = 1`).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: name: (columns, PostgreSQL predicate, SQLite predicate)
INDEXES: dict[str, tuple[list[str], str, str]] = {
    "ix_actual_line_resource_hours": (
        ["resource_id", "period", "hours"],
        "deleted_at IS NULL AND counts_hours AND resource_id IS NOT NULL AND hours IS NOT NULL",
        "deleted_at IS NULL AND counts_hours = 1 AND resource_id IS NOT NULL AND hours IS NOT NULL",
    ),
    "ix_actual_line_project_posted_on": (
        ["project_id", "posted_on"],
        "deleted_at IS NULL",
        "deleted_at IS NULL",
    ),
    "ix_actual_line_missing_fx": (
        ["project_id"],
        "deleted_at IS NULL AND amount IS NOT NULL AND base_amount IS NULL",
        "deleted_at IS NULL AND amount IS NOT NULL AND base_amount IS NULL",
    ),
    "ix_actual_line_negative_hours": (
        ["project_id"],
        "deleted_at IS NULL AND hours < 0",
        "deleted_at IS NULL AND hours < 0",
    ),
}


def upgrade() -> None:
    # Plain CREATE INDEX (no batch copy of actual_line on SQLite).
    for name, (columns, pg, lite) in INDEXES.items():
        op.create_index(
            name,
            "actual_line",
            columns,
            postgresql_where=sa.text(pg),
            sqlite_where=sa.text(lite),
        )


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="actual_line")
