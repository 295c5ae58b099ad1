"""Budget rules: `budget_overrun` (cumulative to date, and per period) and `burn_rate` (the last
closed period). Counting values only (rule 8), in the base currency.

Both compare actual cost with the current budget version's time-phased lines. A project whose
budget is not split by cost type (its lines are 'total') is compared in total; otherwise per
cost type. Sums come from one `UNION ALL` of the two sides grouped once per (project,
dimension, period) (no FULL JOIN: SQLite has none it plans well); the cumulative, per-period
and last-closed-period comparisons are read from those groups in one statement shared by both
rules. SQL keeps only rows over the smallest configured amount, and Python applies each
project's own thresholds to those rows with Decimal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, literal, select, type_coerce, union_all

from ledger.reconcile.budget_source import current_versions, version_lines
from ledger.reconcile.context import RuleContext
from ledger.reconcile.findings import Finding, money, pct_over, ratio
from ledger.types import Money

TOTAL = "total"


def _compared(ctx: RuleContext) -> dict[str, list[Any]]:
    """Rows (project_id, dimension, period, actual, budget) over the candidate amounts, by
    what they compare: 'to_date' (period ''), 'period' (each period through the status
    period), 'burn' (the last closed period). One statement, read once per run and shared by
    budget_overrun and burn_rate: the two sides are grouped per (project, dimension, period)
    once (a materialized CTE) and the cumulative rows are summed from those groups."""
    cached: dict[str, list[Any]] | None = ctx.cache.get("budget_compared")
    if cached is not None:
        return cached
    through = ctx.period
    budget = version_lines(ctx, current_versions(ctx)).subquery("b")
    actual = ctx.actuals().subquery("a")
    total_only = (
        select(budget.c.project_id)
        .group_by(budget.c.project_id)
        .having(func.max(case((budget.c.cost_type == TOTAL, 0), else_=1)) == 0)
    )
    a_dim = case((actual.c.project_id.in_(total_only), literal(TOTAL)), else_=actual.c.cost_type)
    zero = literal(0, Money())
    both = union_all(
        select(
            actual.c.project_id.label("project_id"),
            a_dim.label("dim"),
            actual.c.period.label("period"),
            actual.c.base_amount.label("actual"),
            zero.label("budget"),
        ).where(actual.c.counts_amount, actual.c.kind == "cost", actual.c.period <= through),
        select(
            budget.c.project_id, budget.c.cost_type, budget.c.period, zero, budget.c.amount
        ).where(budget.c.period <= through),
    ).subquery("u")
    groups = (
        select(
            both.c.project_id,
            both.c.dim,
            both.c.period,
            type_coerce(func.sum(both.c.actual), Money()).label("actual"),
            type_coerce(func.sum(both.c.budget), Money()).label("budget"),
        )
        .group_by(both.c.project_id, both.c.dim, both.c.period)
        .cte("per_period")
        .prefix_with("MATERIALIZED", dialect="postgresql")
        .prefix_with("MATERIALIZED", dialect="sqlite")
    )
    g = groups.c
    over = g.actual - g.budget

    def floor(rule: str) -> Any:
        return literal(ctx.min_knob(rule, "amount"), Money())

    parts = [
        select(literal("period").label("what"), g.project_id, g.dim, g.period, g.actual,
               g.budget).where(over > floor("budget_overrun")),
        select(literal("to_date"), g.project_id, g.dim, literal(""),
               type_coerce(func.sum(g.actual), Money()),
               type_coerce(func.sum(g.budget), Money()))
        .group_by(g.project_id, g.dim)
        .having(func.sum(g.actual) - func.sum(g.budget) > floor("budget_overrun")),
    ]  # fmt: skip
    if ctx.last_closed is not None:
        parts.append(
            select(literal("burn"), g.project_id, g.dim, g.period, g.actual, g.budget).where(
                g.period == ctx.last_closed, over > floor("burn_rate")
            )
        )
    cached = {"period": [], "to_date": [], "burn": []}
    for row in ctx.session.execute(union_all(*parts)).all():
        cached[row[0]].append(row[1:])
    ctx.cache["budget_compared"] = cached
    return cached


def _overruns(ctx: RuleContext, rule: str, rows: list[Any], what: str) -> list[Finding]:
    out: list[Finding] = []
    through = ctx.period
    for project_id, dim, period, actual, budget in rows:
        info = ctx.projects.get(project_id)
        if info is None:
            continue
        s = ctx.rule_for(rule, project_id)
        if not s.enabled:
            continue
        actual, budget = Decimal(actual or 0), Decimal(budget or 0)
        over = actual - budget
        pct = pct_over(actual, budget)
        if over <= s.amount or (pct is not None and pct <= s.pct):
            continue
        severity = "high" if pct is None else s.severity(pct)
        where = f" in {period}" if period else " to date"
        a, b, o, p = money(actual), money(budget), money(over), ratio(pct)
        out.append(
            Finding(
                rule=rule,
                subject_type="project",
                subject_id=info.code,
                dimension=dim,
                period=period,
                severity=severity,
                message=(
                    f"{info.code} {dim}: {what} {a} against a budget of {b}{where}: {o} over"
                    + (f" ({p}%)" if pct is not None else " (no budget)")
                ),
                measures={"actual": a, "budget": b, "over": o, "over_pct": p, "through": through},
                thresholds=ctx.thresholds(s, "pct", "amount", "high_pct"),
                project_id=project_id,
            )
        )
    return out


def budget_overrun(ctx: RuleContext) -> list[Finding]:
    """Cumulative actual cost vs cumulative time-phased budget through the status date's
    period, per project and cost type; and the same per period (each period to date)."""
    rows = _compared(ctx)
    return _overruns(ctx, "budget_overrun", rows["to_date"], "actual cost") + _overruns(
        ctx, "budget_overrun", rows["period"], "actual cost"
    )


def burn_rate(ctx: RuleContext) -> list[Finding]:
    """The last closed period's actual cost vs that period's budget, per project."""
    if ctx.last_closed is None:
        return []
    return _overruns(ctx, "burn_rate", _compared(ctx)["burn"], "spent")
