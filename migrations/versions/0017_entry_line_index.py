"""The index audit of issue 25: `ledger_entry` loses its index on `line_id`.

No read of the ledger asks for a line's entries: the reconcile rules, the status workbook and
the analysts' as-known-at query read entries by `recorded_at` (`ix_ledger_entry_recorded_at`)
or by project and `recorded_at` (`ix_ledger_entry_project_id`); the writer inserts entries and
never reads them back; and actual lines are never deleted, so the foreign key
`ledger_entry.line_id -> actual_line.id` never looks entries up by line. The index cost every
entry a write and was, after the line key, the largest of the table (docs/benchmarks.md, "Index
audit (issue 25)"). Every other index of the large tables serves a rule, a view or a writer
lookup and stays.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain DROP INDEX on both engines (no batch copy of ledger_entry on SQLite).
    op.drop_index("ix_ledger_entry_line_id", table_name="ledger_entry")


def downgrade() -> None:
    op.create_index("ix_ledger_entry_line_id", "ledger_entry", ["line_id"], unique=False)
