"""The variance history (issue 24, item 3), and the lines of the data_quality checks in
v_variance_lines.

- `variance_event`: one row per step of a variance's life (opened, updated, escalated,
  acknowledged, resolved, reopened, carried), appended by reconcile and by every
  acknowledgement in the transaction of the step (`ledger/reconcile/events.py`). The upgrade
  reconstructs what the variance rows themselves date, marked `reconstructed`: `opened` at
  `first_seen_at`, `escalated` at `escalated_at`, `acknowledged` at `acknowledged_at` (by
  `acknowledged_by`, with the note as it is now) and `resolved` at `resolved_at`, each with the
  variance's current severity. Each column held the latest step only, so an earlier
  escalation, acknowledgement or resolution is gone, and past reopens stay a count
  (`reopened_count`).
- `v_variance_events`: the events with their variance's key and project, for analysts.
- `v_variance_lines`: a data_quality variance lists the lines its check counted (0011's view
  matched the dimension to a cost type, so it listed none): `after_close`, `outside_dates`
  (before the planned start, or after the planned finish), `missing_fx` and `negative_hours`
  on the variance's project, every live line counting or not, as
  `ledger/reconcile/quality_rules.py` counts them (on the partial indexes of 0006); and a
  source's `unmapped` variance, its live lines waiting on UNMAPPED. `through_period` is
  '9999-99' (every period) for them. A `quarantine:<stream>` variance has no ledger lines.

The ledger never deletes a variance; one deleted by hand (a test, a benchmark starting
afresh) takes its events with it (ON DELETE CASCADE). The downgrade drops the view and the
table (the history with it) and restores 0011's v_variance_lines. A later migration that
rebuilds a table the analyst views read (SQLite batch mode) calls this revision's `drop_views`
before and `create_views` after.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import importlib
from typing import Any

import sqlalchemy as sa
from alembic import op

from pmo_ledger.ledger.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

EVENTS = ("opened", "updated", "escalated", "acknowledged", "resolved", "reopened", "carried")
#: The data_quality line checks of a project: (dimension, the lines' condition), as
#: quality_rules._line_checks counts them (`outside_dates` in two branches, so each is a range
#: of the (project_id, posted_on) index; a line both before the start and after the finish,
#: dates reversed, is listed once).
LINE_CHECKS = (
    ("after_close", "l.posted_on > p.closed_on"),
    ("outside_dates", "l.posted_on < p.planned_start"),
    (
        "outside_dates",
        "l.posted_on > p.planned_finish"
        " AND (p.planned_start IS NULL OR l.posted_on >= p.planned_start)",
    ),
    ("missing_fx", "l.amount IS NOT NULL AND l.base_amount IS NULL"),
    ("negative_hours", "l.hours < 0"),
)


def _module(name: str) -> Any:
    return importlib.import_module(f"pmo_ledger.migrations.versions.{name}")


def variance_lines_sql(sqlite: bool) -> str:
    """0011's v_variance_lines plus one branch per data_quality line check and one for a
    source's unmapped lines (same columns, `through_period` TEXT in every branch so PostgreSQL
    flattens the UNION ALL and pushes a filter into each branch)."""
    views = _module("0004_analyst_views")
    cols = ", ".join(
        (
            views._money(sqlite, "l.amount", "amount"),
            views._money(sqlite, "l.base_amount", "base_amount"),
            views._money(sqlite, "l.hours", "hours", "numeric(14,4)"),
        )
    )
    head = f"""
        SELECT k.id AS variance_id, k.rule, k.subject_type, k.subject_id, k.dimension,
               k.period AS variance_period, CAST('9999-99' AS TEXT) AS through_period,
               l.id AS line_id, l.source, l.stream, l.external_id, l.project_id,
               p.code AS project_code, l.task_id, l.resource_id, l.kind, l.cost_type, l.period,
               l.posted_on, l.currency, {cols}, l.counts_amount, l.counts_hours,
               l.description, l.source_url"""
    checks = [
        f"""{head}
        FROM variance k
        JOIN project p ON p.id = k.project_id
        JOIN actual_line l ON l.project_id = k.project_id AND l.deleted_at IS NULL AND {where}
        WHERE k.rule = 'data_quality' AND k.subject_type = 'project'
          AND k.dimension = '{dimension}'"""
        for dimension, where in LINE_CHECKS
    ]
    unmapped = f"""{head}
        FROM variance k
        JOIN actual_line l ON l.project_id = 0 AND l.deleted_at IS NULL
             AND l.source = k.subject_id
        JOIN project p ON p.id = l.project_id
        WHERE k.rule = 'data_quality' AND k.subject_type = 'source' AND k.dimension = 'unmapped'"""
    base = views.variance_lines_sql(sqlite, runs=True)
    return base + "".join(f"\n        UNION ALL{b}" for b in (*checks, unmapped))


def variance_events_sql() -> str:
    """The events, oldest first by id, with their variance's key and project."""
    return """
        CREATE VIEW v_variance_events AS
        SELECT e.id AS event_id, e.variance_id, e.event, e.at, e.severity, e.status,
               e.acknowledged_by, e.note, e.reconcile_run_id, e.reconstructed,
               v.rule, v.subject_type, v.subject_id, v.dimension, v.period, v.project_id,
               p.code AS project_code
        FROM variance_event e
        JOIN variance v ON v.id = e.variance_id
        LEFT JOIN project p ON p.id = v.project_id
    """


def create_views(dialect: str) -> None:
    """Every analyst view as of this revision: 0011's, with this revision's v_variance_lines
    and v_variance_events."""
    _module("0011_variance_lines_runs").create_views(dialect)
    op.execute("DROP VIEW IF EXISTS v_variance_lines")
    op.execute(variance_lines_sql(dialect == "sqlite"))
    op.execute(variance_events_sql())


def drop_views() -> None:
    """Drop every view `create_views` made."""
    op.execute("DROP VIEW IF EXISTS v_variance_events")
    _module("0011_variance_lines_runs").drop_views()


def _backfill(sqlite: bool) -> None:
    """One reconstructed event per dated step of each variance, in time order."""
    true = "1" if sqlite else "true"
    steps = (
        ("opened", "first_seen_at", "'open'", "NULL", "NULL", ""),
        ("escalated", "escalated_at", "'open'", "NULL", "NULL", "escalated_at IS NOT NULL"),
        ("acknowledged", "acknowledged_at", "'acknowledged'", "acknowledged_by", "note",
         "acknowledged_at IS NOT NULL"),
        ("resolved", "resolved_at", "'resolved'", "NULL", "NULL", "resolved_at IS NOT NULL"),
    )  # fmt: skip
    selects = " UNION ALL ".join(
        f"SELECT id AS variance_id, '{event}' AS event, {at} AS at, severity, {status} AS status,"
        f" CAST({by} AS VARCHAR(255)) AS acknowledged_by, CAST({note} AS TEXT) AS note,"
        f" {i} AS step FROM variance" + (f" WHERE {where}" if where else "")
        for i, (event, at, status, by, note, where) in enumerate(steps)
    )
    op.execute(
        "INSERT INTO variance_event (variance_id, event, at, severity, status, acknowledged_by,"
        f" note, reconcile_run_id, reconstructed) SELECT variance_id, event, at, severity,"
        f" status, acknowledged_by, note, NULL, {true} FROM ({selects}) s"
        " ORDER BY at, variance_id, step"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "variance_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("variance_id", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=14), nullable=False),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=255), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reconcile_run_id", sa.Integer(), nullable=True),
        sa.Column("reconstructed", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.CheckConstraint(
            "event IN (" + ",".join(f"'{e}'" for e in EVENTS) + ")",
            name=op.f("ck_variance_event_event"),
        ),
        sa.ForeignKeyConstraint(
            ["variance_id"],
            ["variance.id"],
            name=op.f("fk_variance_event_variance_id_variance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_variance_event")),
    )
    op.create_index(op.f("ix_variance_event_variance_id"), "variance_event", ["variance_id"])
    _backfill(dialect == "sqlite")
    op.execute("DROP VIEW IF EXISTS v_variance_lines")
    op.execute(variance_lines_sql(dialect == "sqlite"))
    op.execute(variance_events_sql())


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_variance_events")
    op.execute("DROP VIEW IF EXISTS v_variance_lines")
    op.execute(_module("0004_analyst_views").variance_lines_sql(
        op.get_bind().dialect.name == "sqlite", runs=True
    ))  # fmt: skip
    op.drop_index(op.f("ix_variance_event_variance_id"), table_name="variance_event")
    op.drop_table("variance_event")
