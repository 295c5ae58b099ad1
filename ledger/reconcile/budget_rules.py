"""Budget rules: `budget_overrun` (cumulative to date, and per period) and `burn_rate` (the last
closed period). Counting values only (rule 8), in the base currency.

Both compare actual cost with the current budget version's time-phased lines. A project whose
budget is not split by cost type (its lines are 'total') is compared in total; otherwise per
cost type. Sums come from one `UNION ALL` of the two sides grouped once per (project,
dimension, period) (no FULL JOIN: SQLite has none it plans well); the cumulative, per-period
and last-closed-period comparisons are read from those groups in one statement shared by both
rules. The findings are rendered in SQL (`rendered`): each project's own thresholds, exact
comparisons, and the message and measures as text.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    case,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)

from pmo_ledger.ledger.models import Project, table_of
from pmo_ledger.ledger.reconcile.budget_source import current_versions, version_lines
from pmo_ledger.ledger.reconcile.context import RuleContext
from pmo_ledger.ledger.reconcile.rendered import Rendered, cat, once, project_finding, text_of
from pmo_ledger.ledger.reconcile.runs import islands, periods_sql
from pmo_ledger.ledger.types import Money

_pr = table_of(Project)

TOTAL = "total"


def _compared(ctx: RuleContext) -> Any:
    """A CTE of rows (what, project_id, dim, period, actual, budget) over the smallest
    configured amount, by what they compare: 'to_date' (period ''), 'period' (each period
    through the status period), 'burn' (the last closed period). Shared by budget_overrun and
    burn_rate (their SELECTs go into one statement): the two sides are grouped per (project,
    dimension, period) once (a materialized CTE) and the cumulative rows summed from those
    groups."""
    cached: Any = ctx.cache.get("budget_compared")
    if cached is not None:
        return cached
    through = ctx.period
    sql = ctx.sql
    # Read once (materialized), for the projects budgeted in total and for the sums.
    budget = (
        version_lines(ctx, current_versions(ctx))
        .cte("b")
        .prefix_with("MATERIALIZED", dialect="postgresql")
        .prefix_with("MATERIALIZED", dialect="sqlite")
    )
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

    def over(actual: Any, budget: Any, rule: str) -> Any:
        return sql.raw(actual) - sql.raw(budget) > sql.value(ctx.min_knob(rule, "amount"))

    parts = [
        select(literal("period").label("what"), g.project_id, g.dim, g.period, g.actual,
               g.budget).where(over(g.actual, g.budget, "budget_overrun")),
        select(literal("to_date"), g.project_id, g.dim, literal(""),
               type_coerce(func.sum(g.actual), Money()),
               type_coerce(func.sum(g.budget), Money()))
        .group_by(g.project_id, g.dim)
        .having(over(func.sum(g.actual), func.sum(g.budget), "budget_overrun")),
    ]  # fmt: skip
    if ctx.last_closed is not None:
        parts.append(
            select(literal("burn"), g.project_id, g.dim, g.period, g.actual, g.budget).where(
                g.period == ctx.last_closed, over(g.actual, g.budget, "burn_rate")
            )
        )
    cached = union_all(*parts).cte("compared")
    ctx.cache["budget_compared"] = cached
    return cached


def _runs(ctx: RuleContext, found: Any) -> Any:
    """The rows of `found` (what, project_id, dim, period, actual, budget) with consecutive
    'period' rows of a project and dimension merged into one (`runs.islands`): (what,
    project_id, dim, period (the first), last (the last period; NULL to date), n (periods),
    actual, budget), the measures summed."""
    f = found.c
    per_period = select(f.project_id, f.dim, f.period, f.actual, f.budget).where(
        f.what == "period"
    )
    merged = islands(
        ctx, per_period.subquery("per_period_over"), ("project_id", "dim"),
        (("actual", Money()), ("budget", Money())),
    ).subquery("merged")  # fmt: skip
    m = merged.c
    return union_all(
        select(literal("period").label("what"), m.project_id, m.dim, m.period, m.last, m.n,
               m.actual, m.budget),
        select(f.what, f.project_id, f.dim, f.period,
               case((f.what == "to_date", null()), else_=f.period), literal(1), f.actual,
               f.budget)
        .where(f.what != "period"),
    ).subquery("runs")  # fmt: skip


def _overruns(ctx: RuleContext, rule: str, whats: tuple[str, ...], what: str) -> Rendered:
    """The rule's findings from the compared rows of `whats`: actual above budget by more
    than the project's amount and pct (no budget: any amount over). Consecutive periods over
    budget are one finding (`_runs`). High only when material both ways: over by more than
    high_pct and by at least high_amount; a period with no budget is at most medium (to date,
    no budget at all is high from high_amount on)."""
    c = _compared(ctx).c
    sql = ctx.sql
    groups = ctx.project_groups(rule)

    def knob(project_id: Any, render: Any) -> Any:
        return sql.knob(groups, project_id, render)

    actual, budget = sql.raw(c.actual), sql.raw(c.budget)
    over = actual - budget
    pct = knob(c.project_id, lambda s: sql.pct_literal(s.pct))
    found = (
        select(c.what, c.project_id, c.dim, c.period, c.actual, c.budget)
        .where(
            c.what.in_(whats),
            knob(c.project_id, lambda s: literal(s.enabled)),
            over > knob(c.project_id, lambda s: sql.value(s.amount)),
            (budget == 0) | sql.pct_gt(over, budget, pct),
        )
        .subquery("over_budget")
    )
    runs = _runs(ctx, found)
    m = runs.c
    actual, budget = sql.raw(m.actual), sql.raw(m.budget)
    over = actual - budget
    no_budget = budget == 0
    high_pct = knob(m.project_id, lambda s: sql.pct_literal(s.high_pct))
    material = over >= knob(m.project_id, lambda s: sql.value_at_least(s.high_amount))
    high = material & case(
        (no_budget, m.what == "to_date"), else_=sql.pct_gt(over, budget, high_pct)
    )
    # The figures as text, each computed once (materialized: inlined, every use would
    # compute it again), then put together into the message and measures.
    f = once(
        select(
            m.project_id,
            _pr.c.code,
            m.dim,
            m.period,
            m.last,
            m.n,
            no_budget.label("no_budget"),
            high.label("high"),
            sql.money(actual).label("a"),
            sql.money(budget).label("b"),
            sql.money(over).label("o"),
            sql.ratio(over, budget).label("p"),
        )
        .join_from(runs, _pr, _pr.c.id == m.project_id)
        .where(_pr.c.merged_into_id.is_(None), _pr.c.deleted_at.is_(None)),
        f"{rule}_found",
    ).c
    periods = periods_sql(f.period, f.last, f.n)
    message = cat(
        f.code, " ", f.dim, f": {what} ", f.a, " against a budget of ", f.b,
        case((f.period == "", text_of(" to date")), else_=periods),
        ": ", f.o, " over",
        case((f.no_budget, text_of(" (no budget)")), else_=cat(" (", f.p, "%)")),
    )  # fmt: skip
    measures = sql.json_object(
        [("actual", f.a), ("budget", f.b), ("over", f.o), ("over_pct", f.p),
         ("through", ctx.period), ("last_period", f.last)]
    )  # fmt: skip
    query = project_finding(
        sql, rule, code=f.code, dimension=f.dim, period=f.period, high=f.high, message=message,
        measures=measures, project_id=f.project_id,
        thresholds=ctx.thresholds_text(
            rule, f.project_id, "pct", "amount", "high_pct", "high_amount"
        ),
    )  # fmt: skip
    return Rendered((query,))


def budget_overrun(ctx: RuleContext) -> Rendered:
    """Cumulative actual cost vs cumulative time-phased budget through the status date's
    period, per project and cost type; and the same per period (each period to date)."""
    return _overruns(ctx, "budget_overrun", ("to_date", "period"), "actual cost")


def burn_rate(ctx: RuleContext) -> Rendered | None:
    """The last closed period's actual cost vs that period's budget, per project."""
    if ctx.last_closed is None:
        return None
    return _overruns(ctx, "burn_rate", ("burn",), "spent")
