"""Analyst views: budget vs actual by period (and to date), earned value, resource utilization,
open variances and the lines behind a variance.

Every view sums counting values only (rule 8), live rows only (`deleted_at IS NULL`), and only
projects that are neither merged nor deleted. Money is exact on both engines (rule 6): numeric
on PostgreSQL; on SQLite integer `*_e4` columns (x10^4) beside an exact TEXT decimal built from
the integers, never REAL. Columns and example queries: docs/analysts.md.

`status period` (to date, PV, AC) is the regular fiscal_period row holding CURRENT_DATE (the
database's date: UTC on SQLite, the session time zone on PostgreSQL); NULL when the calendar
has no stored period for today, and then so are the figures that need it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from __future__ import annotations

import importlib
from typing import Any

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

VIEWS = (
    "v_project_budget_vs_actual_by_period",
    "v_project_evm",
    "v_resource_utilization",
    "v_open_variances",
    "v_variance_lines",
)
#: Rules that read every line, counting or not (rule 8); v_variance_lines lists all their lines.
ALL_LINE_RULES = "('source_disagreement', 'data_quality')"
_STATUS = """status AS (
            SELECT max(period) AS period FROM fiscal_period
            WHERE NOT special AND start_on <= CURRENT_DATE AND end_on >= CURRENT_DATE
        )"""
_LIVE_PROJECT = "p.merged_into_id IS NULL AND p.deleted_at IS NULL"


def _text_e4(expr: str) -> str:
    """SQLite: an exact decimal TEXT from an integer x10^4 expression (never through REAL)."""
    return (
        f"CASE WHEN ({expr}) IS NULL THEN NULL ELSE "
        f"(CASE WHEN ({expr}) < 0 THEN '-' ELSE '' END) || (abs({expr}) / 10000) || '.' || "
        f"substr('0000' || (abs({expr}) % 10000), -4, 4) END"
    )


def _money(sqlite: bool, expr: str, name: str, pg_type: str = "numeric(20,4)") -> str:
    """A money (or hours) column: `name_e4` + TEXT `name` on SQLite, `name` numeric on PG."""
    if sqlite:
        return f"{expr} AS {name}_e4, {_text_e4(expr)} AS {name}"
    return f"({expr})::{pg_type} AS {name}"


def _pct_e4(sqlite: bool, num: str, den: str) -> str:
    """num / den x 100 to 4 places, rounded half away from zero (Decimal's ROUND_HALF_UP): an
    integer x10^4 on SQLite, an integer-valued numeric (to scale by 0.0001) on PostgreSQL;
    NULL when den is NULL or 0.

    Both engines take one exact integer path: floor((2|num| x 10^6 + |den|) / (2|den|)) with the
    sign of num / den. num and den share one scale, so it cancels; SQLite's `/` on integers and
    PostgreSQL's `div()` truncate, and both operands are non-negative."""
    top, bottom = f"(2 * abs({num}) * 1000000 + abs({den}))", f"(2 * abs({den}))"
    q = f"({top} / {bottom})" if sqlite else f"div({top}, {bottom})"
    return (
        f"CASE WHEN {den} IS NULL OR {den} = 0 OR {num} IS NULL THEN NULL "
        f"WHEN ({num} >= 0) = ({den} > 0) THEN {q} ELSE -{q} END"
    )


def _floor_e6(x: str) -> str:
    """SQLite: floor(x / 10^6) for an integer x (`/` truncates toward zero)."""
    return f"(CASE WHEN ({x}) >= 0 THEN ({x}) / 1000000 ELSE -((-({x}) + 999999) / 1000000) END)"


def _round_e6(whole: str, frac: str) -> str:
    """SQLite: round half away from zero of whole + frac / 10^6, with |frac| < 10^6, exactly
    in integers (whole and frac may have opposite signs)."""
    non_negative = f"({whole}) > 0 OR (({whole}) = 0 AND ({frac}) >= 0)"
    up = _floor_e6(f"({frac}) + 500000")
    down = _floor_e6(f"-({frac}) + 500000")
    return f"(CASE WHEN {non_negative} THEN ({whole}) + {up} ELSE ({whole}) - {down} END)"


# --- v_project_budget_vs_actual ---------------------------------------------------------------


def budget_vs_actual_sql(sqlite: bool) -> str:
    """0001's columns, then the status period and budget, actual and variance through it."""
    inner = f"""
        WITH {_STATUS},
        a AS (
            SELECT l.project_id,
                   sum(CASE WHEN l.counts_amount AND l.kind = 'cost'
                            THEN coalesce(l.base_amount, 0) ELSE 0 END) AS actual,
                   sum(CASE WHEN l.counts_amount AND l.kind = 'cost' AND l.period <= s.period
                            THEN coalesce(l.base_amount, 0) ELSE 0 END) AS actual_to_date,
                   sum(CASE WHEN l.counts_amount AND l.kind = 'revenue'
                            THEN coalesce(l.base_amount, 0) ELSE 0 END) AS revenue,
                   sum(CASE WHEN l.counts_hours THEN coalesce(l.hours, 0) ELSE 0 END) AS hours,
                   sum(CASE WHEN l.counts_amount OR l.counts_hours THEN 1 ELSE 0 END) AS lines,
                   sum(CASE WHEN l.counts_amount AND l.amount IS NOT NULL AND l.base_amount IS NULL
                            THEN 1 ELSE 0 END) AS unconverted_lines
            FROM actual_line l CROSS JOIN status s
            WHERE l.deleted_at IS NULL
            GROUP BY l.project_id
        ),
        b AS (
            SELECT bl.project_id, sum(coalesce(bl.base_amount, 0)) AS budget,
                   sum(CASE WHEN bl.period <= s.period
                            THEN coalesce(bl.base_amount, 0) ELSE 0 END) AS budget_to_date
            FROM budget_line bl JOIN budget_version bv ON bv.id = bl.version_id
            CROSS JOIN status s
            WHERE bl.counts AND bl.deleted_at IS NULL AND bv.deleted_at IS NULL
              AND bv.kind = 'current' AND bv.superseded_at IS NULL
            GROUP BY bl.project_id
        )
        SELECT p.id AS project_id, p.code AS project_code, p.name AS project_name,
               pf.code AS portfolio_code, pg.code AS program_code,
               coalesce(b.budget, 0) AS budget, coalesce(a.actual, 0) AS actual,
               coalesce(a.revenue, 0) AS revenue, coalesce(a.hours, 0) AS actual_hours,
               coalesce(a.lines, 0) AS lines, coalesce(a.unconverted_lines, 0) AS unconverted_lines,
               s.period AS status_period,
               CASE WHEN s.period IS NOT NULL THEN coalesce(b.budget_to_date, 0) END
                   AS budget_to_date,
               CASE WHEN s.period IS NOT NULL THEN coalesce(a.actual_to_date, 0) END
                   AS actual_to_date
        FROM project p
        CROSS JOIN status s
        LEFT JOIN portfolio pf ON pf.id = p.portfolio_id
        LEFT JOIN program pg ON pg.id = p.program_id
        LEFT JOIN a ON a.project_id = p.id
        LEFT JOIN b ON b.project_id = p.id
        WHERE {_LIVE_PROJECT}
    """
    cols = ", ".join(
        (
            _money(sqlite, "budget", "budget"),
            _money(sqlite, "actual", "actual"),
            _money(sqlite, "budget - actual", "variance"),
            _money(sqlite, "actual_hours", "actual_hours", "numeric(14,4)"),
            _money(sqlite, "revenue", "revenue"),
            "lines, unconverted_lines, status_period",
            _money(sqlite, "budget_to_date", "budget_to_date"),
            _money(sqlite, "actual_to_date", "actual_to_date"),
            _money(sqlite, "budget_to_date - actual_to_date", "variance_to_date"),
        )
    )
    return f"""
        CREATE VIEW v_project_budget_vs_actual AS
        SELECT project_id, project_code, project_name, portfolio_code, program_code, {cols}
        FROM ({inner}) t
    """


def by_period_sql(sqlite: bool) -> str:
    """Per project and period: budget, actual, variance, hours, and cumulative figures."""
    inner = """
        WITH u AS (
            SELECT t.project_id, t.period, 0 AS budget,
                   CASE WHEN t.counts_amount AND t.kind = 'cost'
                        THEN t.base_amount ELSE 0 END AS actual,
                   CASE WHEN t.counts_amount AND t.kind = 'revenue'
                        THEN t.base_amount ELSE 0 END AS revenue,
                   CASE WHEN t.counts_hours THEN t.hours ELSE 0 END AS hours,
                   t.lines AS lines,
                   CASE WHEN t.counts_amount THEN t.unconverted_lines ELSE 0 END
                       AS unconverted_lines
            FROM actual_period_total t
            WHERE t.counts_amount OR t.counts_hours
            UNION ALL
            SELECT bl.project_id, bl.period, coalesce(bl.base_amount, 0), 0, 0, 0, 0, 0
            FROM budget_line bl JOIN budget_version bv ON bv.id = bl.version_id
            WHERE bl.counts AND bl.deleted_at IS NULL AND bv.deleted_at IS NULL
              AND bv.kind = 'current' AND bv.superseded_at IS NULL
        ),
        g AS (
            SELECT project_id, period, sum(budget) AS budget, sum(actual) AS actual,
                   sum(revenue) AS revenue, sum(hours) AS actual_hours, sum(lines) AS lines,
                   sum(unconverted_lines) AS unconverted_lines
            FROM u GROUP BY project_id, period
        )
        SELECT g.*,
               sum(budget) OVER w AS cumulative_budget,
               sum(actual) OVER w AS cumulative_actual
        FROM g
        WINDOW w AS (PARTITION BY project_id ORDER BY period ROWS UNBOUNDED PRECEDING)
    """
    cols = ", ".join(
        (
            _money(sqlite, "t.budget", "budget"),
            _money(sqlite, "t.actual", "actual"),
            _money(sqlite, "t.budget - t.actual", "variance"),
            _money(sqlite, "t.actual_hours", "actual_hours", "numeric(14,4)"),
            _money(sqlite, "t.revenue", "revenue"),
            "t.lines, t.unconverted_lines",
            _money(sqlite, "t.cumulative_budget", "cumulative_budget"),
            _money(sqlite, "t.cumulative_actual", "cumulative_actual"),
            _money(sqlite, "t.cumulative_budget - t.cumulative_actual", "cumulative_variance"),
        )
    )
    return f"""
        CREATE VIEW v_project_budget_vs_actual_by_period AS
        SELECT p.id AS project_id, p.code AS project_code, p.name AS project_name,
               pf.code AS portfolio_code, pg.code AS program_code, t.period, {cols}
        FROM ({inner}) t
        JOIN project p ON p.id = t.project_id
        LEFT JOIN portfolio pf ON pf.id = p.portfolio_id
        LEFT JOIN program pg ON pg.id = p.program_id
        WHERE {_LIVE_PROJECT}
    """


# --- v_project_evm ------------------------------------------------------------------------------


def _latest_percent(key: str, task_level: bool) -> str:
    """The latest percent on or before CURRENT_DATE per task (or per project's own rows)."""
    which = "ps.task_id IS NOT NULL" if task_level else "ps.task_id IS NULL"
    return f"""
            SELECT r.{key}, r.percent FROM (
                SELECT ps.{key}, ps.percent,
                       row_number() OVER (
                           PARTITION BY ps.{key}
                           ORDER BY ps.status_date DESC, ps.recorded_at DESC, ps.id DESC
                       ) AS rn
                FROM progress_snapshot ps
                WHERE {which} AND ps.status_date <= CURRENT_DATE
            ) r WHERE r.rn = 1"""


def evm_sql(sqlite: bool, *, counting_baselines: bool = False) -> str:
    """BAC, PV, EV, AC (and CV, SV) per project with a baseline in force at CURRENT_DATE.

    `counting_baselines` (migration 0008's view; this revision's is without it): only
    baselines with a live counting line are ranked, i.e. the project's budget authority's
    (rule 8); without it the latest baseline of any source is in force.

    EV is the sum over tasks of (the baseline's lines of the task) x percent / 100, or, when
    the baseline has no task line, BAC x the project's percent / 100; rounded half away from
    zero to 4 places. PostgreSQL multiplies exactly and scales by 0.01 (a multiplication: no
    division rounding). SQLite: bac_e4 x percent_e4 / 10^6 would overflow 64 bits above about
    922 million, so each product is split as (bac_e4 / 10^6) x pct + (bac_e4 % 10^6) x pct /
    10^6 (an identity under truncating division), summed, and rounded once in integers."""
    if sqlite:
        task_parts = """sum((tb.bac / 1000000) * tp.percent) AS whole,
                   sum((tb.bac % 1000000) * tp.percent) AS frac"""
        project_whole = "(coalesce(bu.bac, 0) / 1000000) * pp.percent"
        project_frac = "(coalesce(bu.bac, 0) % 1000000) * pp.percent"
    else:
        task_parts = "sum(tb.bac * tp.percent) AS whole, 0 AS frac"
        project_whole = "coalesce(bu.bac, 0) * pp.percent"
        project_frac = "0"
    counting = (
        """
              AND EXISTS (
                  SELECT 1 FROM budget_line cl
                  WHERE cl.version_id = bv.id AND cl.counts AND cl.deleted_at IS NULL
              )"""
        if counting_baselines
        else ""
    )
    inner = f"""
        WITH {_STATUS},
        ranked AS (
            SELECT bv.id, bv.project_id, bv.label, bv.number, bv.effective_from,
                   row_number() OVER (
                       PARTITION BY bv.project_id
                       ORDER BY bv.effective_from DESC, bv.number DESC, bv.id DESC
                   ) AS rn
            FROM budget_version bv
            WHERE bv.kind = 'baseline' AND bv.deleted_at IS NULL
              AND bv.effective_from <= CURRENT_DATE{counting}
        ),
        baseline AS (
            SELECT id, project_id, label, number, effective_from FROM ranked WHERE rn = 1
        ),
        lines AS (
            SELECT bl.project_id, bl.task_id, bl.period, coalesce(bl.base_amount, 0) AS amount
            FROM budget_line bl JOIN baseline b ON b.id = bl.version_id
            WHERE bl.counts AND bl.deleted_at IS NULL
        ),
        budget AS (
            SELECT l.project_id, sum(l.amount) AS bac,
                   sum(CASE WHEN l.period <= s.period THEN l.amount ELSE 0 END) AS pv,
                   count(l.task_id) AS task_lines
            FROM lines l CROSS JOIN status s
            GROUP BY l.project_id
        ),
        task_bac AS (
            SELECT project_id, task_id, sum(amount) AS bac
            FROM lines WHERE task_id IS NOT NULL GROUP BY project_id, task_id
        ),
        task_pct AS ({_latest_percent("task_id", True)}
        ),
        project_pct AS ({_latest_percent("project_id", False)}
        ),
        earned_by_task AS (
            SELECT tb.project_id, {task_parts}
            FROM task_bac tb JOIN task_pct tp ON tp.task_id = tb.task_id
            GROUP BY tb.project_id
        ),
        actual AS (
            SELECT t.project_id, sum(t.base_amount) AS ac
            FROM actual_period_total t CROSS JOIN status s
            WHERE t.counts_amount AND t.kind = 'cost' AND t.period <= s.period
            GROUP BY t.project_id
        )
        SELECT b.project_id, b.id AS baseline_id, b.label AS baseline_label,
               b.number AS baseline_number, b.effective_from AS baseline_effective_from,
               s.period AS status_period,
               CASE WHEN coalesce(bu.task_lines, 0) > 0 THEN 'task' ELSE 'project' END
                   AS ev_basis,
               coalesce(bu.bac, 0) AS bac,
               CASE WHEN s.period IS NOT NULL THEN coalesce(bu.pv, 0) END AS pv,
               CASE WHEN coalesce(bu.task_lines, 0) > 0 THEN coalesce(et.whole, 0)
                    ELSE coalesce({project_whole}, 0) END AS ev_whole,
               CASE WHEN coalesce(bu.task_lines, 0) > 0 THEN coalesce(et.frac, 0)
                    ELSE coalesce({project_frac}, 0) END AS ev_frac,
               CASE WHEN s.period IS NOT NULL THEN coalesce(a.ac, 0) END AS ac
        FROM baseline b
        CROSS JOIN status s
        LEFT JOIN budget bu ON bu.project_id = b.project_id
        LEFT JOIN earned_by_task et ON et.project_id = b.project_id
        LEFT JOIN project_pct pp ON pp.project_id = b.project_id
        LEFT JOIN actual a ON a.project_id = b.project_id
    """
    if sqlite:
        # EV x 10^4 = ev_whole + ev_frac / 10^6; carry ev_frac's whole part over first.
        ev = _round_e6("e.ev_whole + e.ev_frac / 1000000", "e.ev_frac % 1000000")
    else:
        ev = "(e.ev_whole * 0.01)::numeric(20,4)"
    money = [
        _money(sqlite, "t.bac", "bac"),
        _money(sqlite, "t.pv", "pv"),
        _money(sqlite, "t.ev", "ev"),
        _money(sqlite, "t.ac", "ac"),
        _money(sqlite, "t.ev - t.ac", "cv"),
        _money(sqlite, "t.ev - t.pv", "sv"),
    ]
    return f"""
        CREATE VIEW v_project_evm AS
        SELECT p.id AS project_id, p.code AS project_code, p.name AS project_name,
               pf.code AS portfolio_code, pg.code AS program_code,
               CURRENT_DATE AS status_date, t.status_period, t.baseline_id, t.baseline_label,
               t.baseline_number, t.baseline_effective_from, t.ev_basis, {", ".join(money)}
        FROM (
            SELECT e.*, {ev} AS ev FROM ({inner}) e
        ) t
        JOIN project p ON p.id = t.project_id
        LEFT JOIN portfolio pf ON pf.id = p.portfolio_id
        LEFT JOIN program pg ON pg.id = p.program_id
        WHERE {_LIVE_PROJECT}
    """


# --- v_resource_utilization ---------------------------------------------------------------------


def utilization_sql(sqlite: bool) -> str:
    """Per resource and period: capacity, planned (allocations) and counting actual hours."""
    inner = f"""
        WITH u AS (
            SELECT c.resource_id, c.period, 1 AS has_capacity, c.hours AS capacity,
                   0 AS planned, 0 AS actual
            FROM resource_capacity c
            UNION ALL
            SELECT a.resource_id, a.period, 0, 0, a.planned_hours, 0
            FROM allocation a JOIN project p ON p.id = a.project_id
            WHERE a.deleted_at IS NULL AND a.resource_id IS NOT NULL AND {_LIVE_PROJECT}
            UNION ALL
            SELECT l.resource_id, l.period, 0, 0, 0, l.hours
            FROM actual_line l JOIN project p ON p.id = l.project_id
            WHERE l.deleted_at IS NULL AND l.resource_id IS NOT NULL AND l.counts_hours
              AND l.hours IS NOT NULL AND {_LIVE_PROJECT}
        )
        SELECT resource_id, period,
               CASE WHEN max(has_capacity) = 1 THEN sum(capacity) END AS capacity,
               sum(planned) AS planned, sum(actual) AS actual
        FROM u GROUP BY resource_id, period
    """
    planned_pct = _pct_e4(sqlite, "t.planned", "t.capacity")
    actual_pct = _pct_e4(sqlite, "t.actual", "t.capacity")
    if sqlite:
        pcts = (
            f"{planned_pct} AS planned_pct_e4, {_text_e4(planned_pct)} AS planned_pct, "
            f"{actual_pct} AS actual_pct_e4, {_text_e4(actual_pct)} AS actual_pct"
        )
    else:
        pcts = f"({planned_pct}) * 0.0001 AS planned_pct, ({actual_pct}) * 0.0001 AS actual_pct"
    hours = ", ".join(
        _money(sqlite, f"t.{c}", f"{c}_hours", "numeric(14,4)")
        for c in ("capacity", "planned", "actual")
    )
    return f"""
        CREATE VIEW v_resource_utilization AS
        SELECT r.id AS resource_id, r.source AS resource_source,
               r.external_id AS resource_external_id, r.name AS resource_name, r.role,
               r.department, t.period, {hours}, {pcts}
        FROM ({inner}) t
        JOIN resource r ON r.id = t.resource_id
        WHERE r.deleted_at IS NULL
    """


# --- variances ----------------------------------------------------------------------------------


def open_variances_sql() -> str:
    """Open and acknowledged variances with their project and a severity rank for sorting."""
    return """
        CREATE VIEW v_open_variances AS
        SELECT v.id AS variance_id, v.rule, v.subject_type, v.subject_id, v.dimension, v.period,
               v.severity,
               CASE v.severity WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1
                    ELSE 0 END AS severity_rank,
               v.status, v.message, v.measures, v.thresholds, v.as_known_at, v.first_seen_at,
               v.last_seen_at, v.acknowledged_at, v.acknowledged_by, v.note, v.escalated_at,
               v.reopened_count, v.project_id, p.code AS project_code, p.name AS project_name,
               pf.code AS portfolio_code, pg.code AS program_code
        FROM variance v
        LEFT JOIN project p ON p.id = v.project_id
        LEFT JOIN portfolio pf ON pf.id = p.portfolio_id
        LEFT JOIN program pg ON pg.id = p.program_id
        WHERE v.status IN ('open', 'acknowledged')
    """


def variance_lines_sql(sqlite: bool, *, runs: bool = False) -> str:
    """The live actual lines behind each variance, matched over its key (no stored links).
    `runs` (migration 0011's view; this revision's is without it): a variance of a run of
    periods (`measures.last_period`) matches the lines of every period of the run, and a
    source_disagreement variance (dimension `<left>~<right>[:<cost types>]`) the cost lines of
    its two sources (and cost types)."""

    def measure(name: str) -> str:
        return f"json_extract(k.measures, '$.{name}')" if sqlite else f"(k.measures ->> '{name}')"

    measured = measure("through")
    dimension = "k.dimension IN ('total', 'hours', 'evm') OR l.cost_type = k.dimension"
    if runs:
        find = "instr" if sqlite else "strpos"
        colon = f"{find}(k.dimension, ':')"
        pair = (
            f"CASE WHEN {colon} > 0 THEN substr(k.dimension, 1, {colon} - 1) ELSE k.dimension END"
        )
        of_pair = (
            f"(substr({pair}, 1, length(l.source) + 1) = l.source || '~'"
            f" OR substr({pair}, length({pair}) - length(l.source)) = '~' || l.source)"
        )
        cost_types = (
            f"({colon} = 0 OR {find}(',' || substr(k.dimension, {colon} + 1) || ',',"
            f" ',' || l.cost_type || ',') > 0)"
        )
        dimension = (
            f"CASE WHEN k.rule = 'source_disagreement' THEN l.kind = 'cost' AND {of_pair}"
            f" AND {cost_types} ELSE {dimension} END"
        )
    match = f"""l.deleted_at IS NULL
              AND ({dimension})
              AND (k.rule IN {ALL_LINE_RULES}
                   OR (k.dimension = 'hours' AND l.counts_hours AND l.hours IS NOT NULL)
                   OR (k.dimension <> 'hours' AND l.counts_amount AND l.kind = 'cost'
                       AND l.amount IS NOT NULL))"""
    # One plain SELECT per subject and period kind, no CTE and no re-join: a variance of one
    # period joins its lines on (project, period) or (resource, period), an equi-join both
    # engines plan well, and a filter on variance_id, project or period reaches every branch.
    subjects = {
        "project": ("", "l.project_id = k.project_id"),
        "resource": (
            " JOIN resource r ON r.source || '/' || r.external_id = k.subject_id",
            "l.resource_id = r.id AND (k.project_id IS NULL OR l.project_id = k.project_id)",
        ),
    }
    through = f"coalesce({measured}, '9999-99')"
    # Every branch's `through_period` is TEXT: PostgreSQL flattens a UNION ALL into the query
    # around it (and pushes filters into it) only when the branches' column types agree.
    one = ("<>", "CAST(k.period AS TEXT)", "l.period = k.period")
    if runs:
        last = f"coalesce({measure('last_period')}, CAST(k.period AS TEXT))"
        one = ("<>", last, f"l.period >= k.period AND l.period <= {last}")
    periods = (one, ("=", through, f"l.period <= {through}"))
    cols = ", ".join(
        (
            _money(sqlite, "l.amount", "amount"),
            _money(sqlite, "l.base_amount", "base_amount"),
            _money(sqlite, "l.hours", "hours", "numeric(14,4)"),
        )
    )
    branches = [
        f"""
        SELECT k.id AS variance_id, k.rule, k.subject_type, k.subject_id, k.dimension,
               k.period AS variance_period, {bound} AS through_period,
               l.id AS line_id, l.source, l.stream, l.external_id, l.project_id,
               p.code AS project_code, l.task_id, l.resource_id, l.kind, l.cost_type, l.period,
               l.posted_on, l.currency, {cols}, l.counts_amount, l.counts_hours,
               l.description, l.source_url
        FROM variance k{resource_join}
        JOIN actual_line l ON {on} AND {period}
        JOIN project p ON p.id = l.project_id
        WHERE k.subject_type = '{subject}' AND k.period {op} '' AND {match}"""
        for subject, (resource_join, on) in subjects.items()
        for op, bound, period in periods
    ]
    return "CREATE VIEW v_variance_lines AS" + "\n        UNION ALL".join(branches)


# --- upgrade / downgrade ------------------------------------------------------------------------


def create_views(dialect: str) -> None:
    """Create every view of this revision (and its v_project_budget_vs_actual). A later
    migration that recreates a table these views read (SQLite batch mode) must call
    `drop_views` before and `create_views` after: SQLite refuses to rename a table over a
    view that reads a missing one."""
    sqlite = dialect == "sqlite"
    op.execute(budget_vs_actual_sql(sqlite))
    op.execute(by_period_sql(sqlite))
    op.execute(evm_sql(sqlite))
    op.execute(utilization_sql(sqlite))
    op.execute(open_variances_sql())
    op.execute(variance_lines_sql(sqlite))


def drop_views() -> None:
    """Drop every view `create_views` made, v_project_budget_vs_actual included."""
    for name in (*VIEWS, "v_project_budget_vs_actual"):
        op.execute(f"DROP VIEW IF EXISTS {name}")


def _core_schema() -> Any:
    """Revision 0001's module, whose `create_views` defines its v_project_budget_vs_actual."""
    return importlib.import_module("pmo_ledger.migrations.versions.0001_ledger_core_schema")


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_project_budget_vs_actual")
    create_views(op.get_bind().dialect.name)


def downgrade() -> None:
    drop_views()
    _core_schema().create_views(op.get_bind().dialect.name)
