"""Drop variance.fingerprint: the lifecycle compares what a finding says (severity, message,
measures, thresholds) in SQL, column by column, now that the busiest rules render their
findings in SQL (no hash is computed per finding).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+): the views of 0004 that read `variance` do not name
    # the column, so they need not be dropped and re-created.
    with op.batch_alter_table("variance", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("fingerprint")


def downgrade() -> None:
    op.add_column("variance", sa.Column("fingerprint", sa.String(length=40), nullable=True))
