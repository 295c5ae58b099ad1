"""A project's condition (issue 19): how its owner rates it, `on_target`, `at_risk` or
`in_trouble` (Workfront's `condition`; a code the connector does not know is kept as sent).
Nullable: a source that has no such field leaves it empty. No analyst view reads it (none lists
projects' own fields), so no view is rebuilt.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("project", sa.Column("condition", sa.String(length=20), nullable=True))


def downgrade() -> None:
    # DROP COLUMN in place (SQLite 3.35+): the analyst views read project, but not this column.
    with op.batch_alter_table("project", schema=None, recreate="never") as batch_op:
        batch_op.drop_column("condition")
