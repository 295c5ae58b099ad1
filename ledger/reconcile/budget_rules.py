"""Budget rules: `budget_overrun` (cumulative to date, and per period) and `burn_rate` (the last
closed period). Counting values only (rule 8), in the base currency.

Both compare actual cost with the current budget version's time-phased lines. A project whose
budget is not split by cost type (its lines are 'total') is compared in total; otherwise per
cost type. Sums come from one `UNION ALL` of the two sides grouped once (no FULL JOIN: SQLite
has none it plans well); SQL keeps only rows over the smallest configured amount, and Python
applies each project's own thresholds to those few rows with Decimal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, literal, select, union_all

from ledger.reconcile.budget_source import current_versions, version_lines
from ledger.reconcile.context import RuleContext
from ledger.reconcile.findings import Finding, knobs, money, pct_over, ratio
from ledger.types import Money

TOTAL = "total"


def _compared(ctx: RuleContext, rule: str, periods: Any, by_period: bool) -> Any:
    """Rows (project_id, dimension, period, actual, budget) over the candidate amount."""
    budget = version_lines(ctx, current_versions(ctx)).subquery("b")
    actual = ctx.actuals().subquery("a")
    total_only = (
        select(budget.c.project_id)
        .group_by(budget.c.project_id)
        .having(func.max(case((budget.c.cost_type == TOTAL, 0), else_=1)) == 0)
    )
    a_dim = case((actual.c.project_id.in_(total_only), literal(TOTAL)), else_=actual.c.cost_type)
    a_period = actual.c.period if by_period else literal("")
    b_period = budget.c.period if by_period else literal("")
    zero = literal(0, Money())
    a_where = [actual.c.counts_amount, actual.c.kind == "cost"]
    b_where: list[Any] = []
    if periods is not None:
        a_where.append(periods(actual.c.period))
        b_where.append(periods(budget.c.period))
    both = union_all(
        select(
            actual.c.project_id.label("project_id"),
            a_dim.label("dim"),
            a_period.label("period"),
            actual.c.base_amount.label("actual"),
            zero.label("budget"),
        ).where(*a_where),
        select(
            budget.c.project_id,
            budget.c.cost_type,
            b_period,
            zero,
            budget.c.amount,
        ).where(*b_where),
    ).subquery("u")
    floor = literal(ctx.min_knob(rule, "amount"), Money())
    return (
        select(
            both.c.project_id,
            both.c.dim,
            both.c.period,
            func.sum(both.c.actual),
            func.sum(both.c.budget),
        )
        .group_by(both.c.project_id, both.c.dim, both.c.period)
        .having(func.sum(both.c.actual) - func.sum(both.c.budget) > floor)
    )


def _overruns(ctx: RuleContext, rule: str, rows: Any, what: str) -> list[Finding]:
    out: list[Finding] = []
    for project_id, dim, period, actual, budget in ctx.session.execute(rows):
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
        out.append(
            Finding(
                rule=rule,
                subject_type="project",
                subject_id=info.code,
                dimension=dim,
                period=period,
                severity=severity,
                message=(
                    f"{info.code} {dim}: {what} {money(actual)} against a budget of "
                    f"{money(budget)}{where}: {money(over)} over"
                    + (f" ({ratio(pct)}%)" if pct is not None else " (no budget)")
                ),
                measures={
                    "actual": money(actual),
                    "budget": money(budget),
                    "over": money(over),
                    "over_pct": ratio(pct),
                    "through": ctx.period,
                },
                thresholds=knobs(pct=s.pct, amount=s.amount, high_pct=s.high_pct),
                project_id=project_id,
            )
        )
    return out


def budget_overrun(ctx: RuleContext) -> list[Finding]:
    """Cumulative actual cost vs cumulative time-phased budget through the status date's
    period, per project and cost type; and the same per period (each period to date)."""
    through = ctx.period

    def to_date(col: Any) -> Any:
        return col <= through

    cumulative = _compared(ctx, "budget_overrun", to_date, by_period=False)
    per_period = _compared(ctx, "budget_overrun", to_date, by_period=True)
    return _overruns(ctx, "budget_overrun", cumulative, "actual cost") + _overruns(
        ctx, "budget_overrun", per_period, "actual cost"
    )


def burn_rate(ctx: RuleContext) -> list[Finding]:
    """The last closed period's actual cost vs that period's budget, per project."""
    period = ctx.last_closed
    if period is None:
        return []

    def that_period(col: Any) -> Any:
        return col == period

    rows = _compared(ctx, "burn_rate", that_period, by_period=True)
    return _overruns(ctx, "burn_rate", rows, "spent")
