"""v_sync_health: per connector and stream, the last run, checkpoint, open quarantine and the
latest control-total drift.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _text_e4(expr: str) -> str:
    """SQLite: an exact decimal TEXT from an integer x10^4 expression (never through REAL)."""
    return (
        f"CASE WHEN ({expr}) IS NULL THEN NULL ELSE "
        f"(CASE WHEN ({expr}) < 0 THEN '-' ELSE '' END) || (abs({expr}) / 10000) || '.' || "
        f"substr('0000' || (abs({expr}) % 10000), -4, 4) END"
    )


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    drift = (
        f"d.amount_drift AS amount_drift_e4, {_text_e4('d.amount_drift')} AS amount_drift"
        if sqlite
        else "d.amount_drift::numeric(20,4) AS amount_drift"
    )
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
                   sum(c.source_amount - c.ledger_amount) AS amount_drift
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
               d.checked_at AS drift_checked_at, d.count_drift, {drift}
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


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_sync_health")
