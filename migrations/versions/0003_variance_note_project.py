"""variance: the operator's acknowledgement note and the project a finding concerns.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("variance", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_variance_project_id"), ["project_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("variance", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_variance_project_id"))
        batch_op.drop_column("project_id")
        batch_op.drop_column("note")
