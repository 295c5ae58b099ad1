"""control_total keeps hours and budgets; v_sync_health shows their drift and how many groups
drift.

`pmo-ledger verify` compares hours (where the source states them) and, on a budget stream, the
project's current budget besides counts and amounts. `control_total` gets `source_hours` /
`ledger_hours` and `source_budget` / `ledger_budget`; a measure a check did not compare is
NULL on both sides, so `source_amount` / `ledger_amount` become nullable (NULL on a budget
stream's rows). `v_sync_health` adds `hours_drift`, `budget_drift` and `drifted_groups`: the
sums net out across projects and currencies (a line moved from one project to another drifts
+x and -x), the number of groups with any drift does not.

SQLite cannot change a column's nullability in place: the table is copied (batch mode), with
the view that reads it dropped first and created again after.

Downgrade: a budget row's figures move back into the amount columns (what verify stored before
it told budgets apart), hours are dropped, and 0002's view returns.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

from pmo_ledger.ledger import types as ledger_types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_AMOUNTS = ("source_amount", "ledger_amount")


def _text_e4(expr: str) -> str:
    """SQLite: an exact decimal TEXT from an integer x10^4 expression (never through REAL)."""
    return (
        f"CASE WHEN ({expr}) IS NULL THEN NULL ELSE "
        f"(CASE WHEN ({expr}) < 0 THEN '-' ELSE '' END) || (abs({expr}) / 10000) || '.' || "
        f"substr('0000' || (abs({expr}) % 10000), -4, 4) END"
    )


def _drift(sqlite: bool, name: str) -> str:
    """A drift column: `name_e4` + TEXT `name` on SQLite, `name` numeric on PostgreSQL."""
    if sqlite:
        return f"d.{name} AS {name}_e4, {_text_e4('d.' + name)} AS {name}"
    return f"d.{name}::numeric(20,4) AS {name}"


def _differs(a: str, b: str) -> str:
    """Whether two figures of one row differ (NULL, not compared, on both sides: equal)."""
    return f"coalesce(c.{a}, 0) <> coalesce(c.{b}, 0)"


def create_view(dialect: str) -> None:
    """v_sync_health with the drift of every measure of the latest check per stream."""
    sqlite = dialect == "sqlite"
    drifted = " OR ".join(
        [
            "c.source_count <> c.ledger_count",
            _differs("source_amount", "ledger_amount"),
            _differs("source_hours", "ledger_hours"),
            _differs("source_budget", "ledger_budget"),
        ]
    )
    drifts = ", ".join(_drift(sqlite, m) for m in ("amount_drift", "hours_drift", "budget_drift"))
    op.execute(
        f"""
        CREATE VIEW v_sync_health AS
        WITH streams AS (
            SELECT connector, stream FROM sync_state
            UNION
            SELECT r.connector, s.stream FROM sync_run_stream s JOIN sync_run r ON r.id = s.run_id
        ),
        last_run AS (
            SELECT r.connector, s.stream, max(r.id) AS run_id
            FROM sync_run_stream s JOIN sync_run r ON r.id = s.run_id
            GROUP BY r.connector, s.stream
        ),
        last_success AS (
            SELECT r.connector, s.stream, max(s.finished_at) AS finished_at
            FROM sync_run_stream s JOIN sync_run r ON r.id = s.run_id
            WHERE s.status = 'succeeded'
            GROUP BY r.connector, s.stream
        ),
        open_quarantine AS (
            SELECT source, stream, count(*) AS entries
            FROM quarantine WHERE status = 'open' GROUP BY source, stream
        ),
        latest_check AS (
            SELECT source, stream, max(checked_at) AS checked_at
            FROM control_total GROUP BY source, stream
        ),
        drift AS (
            SELECT c.source, c.stream, max(c.checked_at) AS checked_at,
                   sum(c.source_count - c.ledger_count) AS count_drift,
                   sum(c.source_amount - c.ledger_amount) AS amount_drift,
                   sum(c.source_hours - c.ledger_hours) AS hours_drift,
                   sum(c.source_budget - c.ledger_budget) AS budget_drift,
                   sum(CASE WHEN {drifted} THEN 1 ELSE 0 END) AS drifted_groups
            FROM control_total c
            JOIN latest_check l
              ON l.source = c.source AND l.stream = c.stream AND l.checked_at = c.checked_at
            GROUP BY c.source, c.stream
        )
        SELECT st.connector, st.stream,
               lr.run_id AS last_run_id, r.status AS last_run_status,
               r.started_at AS last_run_started_at, r.finished_at AS last_run_finished_at,
               rs.status AS last_stream_status, rs.error AS last_stream_error,
               ls.finished_at AS last_success_at,
               ss.checkpoint, ss.updated_at AS checkpoint_updated_at,
               coalesce(q.entries, 0) AS open_quarantine,
               d.checked_at AS drift_checked_at, d.count_drift, {drifts},
               d.drifted_groups
        FROM streams st
        LEFT JOIN last_run lr ON lr.connector = st.connector AND lr.stream = st.stream
        LEFT JOIN sync_run r ON r.id = lr.run_id
        LEFT JOIN sync_run_stream rs ON rs.run_id = lr.run_id AND rs.stream = st.stream
        LEFT JOIN last_success ls ON ls.connector = st.connector AND ls.stream = st.stream
        LEFT JOIN sync_state ss ON ss.connector = st.connector AND ss.stream = st.stream
        LEFT JOIN open_quarantine q ON q.source = st.connector AND q.stream = st.stream
        LEFT JOIN drift d ON d.source = st.connector AND d.stream = st.stream
        """
    )


def _money() -> ledger_types.ExactDecimal:
    return ledger_types.ExactDecimal(precision=20, scale=4)


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_sync_health")
    with op.batch_alter_table("control_total", schema=None) as batch_op:
        for name in _AMOUNTS:
            batch_op.alter_column(name, existing_type=_money(), nullable=True)
        batch_op.add_column(
            sa.Column("source_hours", ledger_types.ExactDecimal(precision=14, scale=4))
        )
        batch_op.add_column(
            sa.Column("ledger_hours", ledger_types.ExactDecimal(precision=14, scale=4))
        )
        batch_op.add_column(sa.Column("source_budget", _money()))
        batch_op.add_column(sa.Column("ledger_budget", _money()))
    create_view(op.get_bind().dialect.name)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_sync_health")
    op.execute(
        "UPDATE control_total SET "
        "source_amount = coalesce(source_amount, source_budget, 0), "
        "ledger_amount = coalesce(ledger_amount, ledger_budget, 0)"
    )
    with op.batch_alter_table("control_total", schema=None) as batch_op:
        for name in ("ledger_budget", "source_budget", "ledger_hours", "source_hours"):
            batch_op.drop_column(name)
        for name in _AMOUNTS:
            batch_op.alter_column(name, existing_type=_money(), nullable=False)
    importlib.import_module("pmo_ledger.migrations.versions.0002_sync_health_view").upgrade()
