"""A budget version may be `released` (issue 21): the share of a project's budget that may be
spent now (SAP PS's budget release, activity KBFR), which SAP's availability control checks
actual cost against. It is never the budget: the rules, EVM and the analyst views keep reading
`current` (and `baseline`) versions, so no view changes; budget_version's CHECK on `kind`
widens to let the new kind in.

SQLite has no ALTER for a CHECK: the stored CREATE TABLE is edited as SQLite documents for a
constraint no row breaks (see `_check`). PostgreSQL drops and adds the constraint.

Downgrade deletes the released versions (their lines and history first: nothing else refers to
them) and narrows the CHECK back.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_NAME = "ck_budget_version_kind"
_BEFORE = "kind IN ('baseline','current','forecast','plan')"
_AFTER = "kind IN ('baseline','current','forecast','plan','released')"


def _check(before: str, after: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(op.f(_NAME), "budget_version", type_="check")
        op.create_check_constraint("kind", "budget_version", after)
        return
    # SQLite's documented way to change a CHECK that no stored row breaks (lang_altertable,
    # "making other kinds of table schema changes"): edit the stored CREATE TABLE and bump
    # the schema version. A batch copy cannot run here: budget_line and budget_entry refer to
    # the table, and foreign keys cannot be switched off inside the migration's transaction.
    version = op.get_bind().exec_driver_sql("PRAGMA schema_version").scalar()
    op.execute("PRAGMA writable_schema = ON")
    op.get_bind().exec_driver_sql(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) "
        "WHERE type = 'table' AND name = 'budget_version'",
        (f"CONSTRAINT {_NAME} CHECK ({before})", f"CONSTRAINT {_NAME} CHECK ({after})"),
    )
    op.execute(f"PRAGMA schema_version = {int(version or 0) + 1}")
    op.execute("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _check(_BEFORE, _AFTER)


def downgrade() -> None:
    released = "SELECT id FROM budget_version WHERE kind = 'released'"
    op.execute(f"DELETE FROM budget_entry WHERE version_id IN ({released})")
    op.execute(f"DELETE FROM budget_line WHERE version_id IN ({released})")
    op.execute("DELETE FROM budget_version WHERE kind = 'released'")
    _check(_AFTER, _BEFORE)
