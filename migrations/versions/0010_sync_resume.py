"""Streams read furthest behind first, and full reads that resume (issue 16): when each stream
last read to its end (`sync_state.finished_at`), where an unfinished full read continues
(`sync_state.resume`), and the keys such a read listed in earlier runs (`scope_listed`).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from pmo_ledger.ledger import types as ledger_types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "sync_state",
        sa.Column("finished_at", ledger_types.UtcDateTime(timezone=True), nullable=True),
    )
    op.add_column("sync_state", sa.Column("resume", sa.JSON(), nullable=True))
    op.create_table(
        "scope_listed",
        sa.Column("connector", sa.String(length=100), nullable=False),
        sa.Column("stream", sa.String(length=100), nullable=False),
        sa.Column("scope_key", sa.String(length=255), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=False),
        sa.PrimaryKeyConstraint(
            "connector", "stream", "scope_key", "external_id", name=op.f("pk_scope_listed")
        ),
    )


def downgrade() -> None:
    op.drop_table("scope_listed")
    # DROP COLUMN in place (SQLite 3.35+): v_sync_health reads sync_state but not these.
    with op.batch_alter_table("sync_state", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("resume")
        batch_op.drop_column("finished_at")
