"""Budget lines as the rules read them: live, or as known at a past time.

Live, a version's counting lines are `budget_line`; as known at T they are the `budget_entry`
rows recorded by T (the lines' history), of versions that existed then. The budget rules read
the current versions, earned value the baseline in force; both go through `version_lines`.

A version counts when its source is the budget authority for its project (rule 8): the writer
stores that as `counts` on each line (and `authority apply` re-flags them), so a version
counts when it has a live counting line. Earned value ranks only such baselines
(`counting_versions`): with a second source also sending baselines, the latest baseline of
any source would be one whose lines do not count, and BAC, PV and EV would be 0.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, func, or_, select

from pmo_ledger.ledger.models import BudgetEntry, BudgetLine, BudgetVersion, table_of
from pmo_ledger.ledger.reconcile.context import RuleContext

bv = table_of(BudgetVersion)
_bl = table_of(BudgetLine)
_be = table_of(BudgetEntry)


def existing_versions(ctx: RuleContext) -> list[Any]:
    """Conditions on `budget_version`: it exists (as known at a past time: existed then)."""
    at = ctx.as_known_at
    if at is None:
        return [bv.c.deleted_at.is_(None)]
    return [bv.c.created_at <= at, or_(bv.c.deleted_at.is_(None), bv.c.deleted_at > at)]


def current_versions(ctx: RuleContext) -> Any:
    """Ids of the current (not superseded) budget versions, live or as known at a past time."""
    at = ctx.as_known_at
    not_superseded = (
        bv.c.superseded_at.is_(None)
        if at is None
        else or_(bv.c.superseded_at.is_(None), bv.c.superseded_at > at)
    )
    return (
        select(bv.c.id)
        .where(bv.c.kind == "current", not_superseded, *existing_versions(ctx))
        .subquery("cv")
    )


def version_lines(ctx: RuleContext, versions: Any) -> Any:
    """(project_id, task_id, cost_type, period, amount) of the counting lines of `versions` (a
    subquery with an `id` column), in the run's scope: `budget_line` live, `budget_entry`
    recorded by `as_known_at` otherwise; amounts in the base currency, NULL as 0."""
    live: list[Any]
    if ctx.as_known_at is None:
        src, amount, live = _bl, _bl.c.base_amount, [_bl.c.deleted_at.is_(None)]
    else:
        src, amount, live = _be, _be.c.base_delta, [_be.c.recorded_at <= ctx.as_known_at]
    return (
        select(
            src.c.project_id,
            src.c.task_id,
            src.c.cost_type,
            src.c.period,
            func.coalesce(amount, 0).label("amount"),
        )
        .join(versions, versions.c.id == src.c.version_id)
        .where(src.c.counts, *live, ctx.in_scope(src.c.project_id))
    )


def counting_versions(ctx: RuleContext) -> Any:
    """A condition on `budget_version`: the version has a live counting line (its source
    counts for budgets on its project). As known at T: a line whose last entry recorded by T
    (by recorded_at, then id: a reversal comes before the new version) counts and is not a
    deletion."""
    at = ctx.as_known_at
    if at is None:
        return exists().where(_bl.c.version_id == bv.c.id, _bl.c.counts, _bl.c.deleted_at.is_(None))
    ranked = (
        select(
            _be.c.version_id,
            _be.c.counts,
            _be.c.reason,
            func.row_number()
            .over(
                partition_by=_be.c.budget_line_id,
                order_by=(_be.c.recorded_at.desc(), _be.c.id.desc()),
            )
            .label("rank"),
        )
        .where(_be.c.recorded_at <= at, ctx.in_scope(_be.c.project_id))
        .subquery("line_then")
    )
    return bv.c.id.in_(
        select(ranked.c.version_id).where(
            ranked.c.rank == 1, ranked.c.counts, ranked.c.reason != "delete"
        )
    )
