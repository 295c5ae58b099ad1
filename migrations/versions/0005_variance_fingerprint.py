"""variance.fingerprint: a hash of what a finding says (severity, message, measures,
thresholds), so a re-run tells an unchanged variance in SQL by one column.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (no batch copy): SQLite supports it, and the views of 0004 that read
    # `variance` need not be dropped and re-created.
    op.add_column("variance", sa.Column("fingerprint", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variance", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("fingerprint")
