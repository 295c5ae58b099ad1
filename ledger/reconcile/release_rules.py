"""`released_overrun`: a project's actual cost to date above its released budget (issue 21).

SAP PS releases a share of a project's budget for spending (the release, activity KBFR), and
its availability control checks what is assigned against that release, not against the whole
budget. The SAP connector loads the release as a budget version of kind `released`; this rule
does the same check on the ledger's figures: counting actual cost (rule 8) through the status
period, in the base currency, against the sum of every line of the project's live released
versions (a release is overall, not phased: it is what may be spent, whenever). The release is
no budget authority's figure (only SAP states one), so its lines are read whether or not they
count for budgets. A project without a released version is not checked.

Knobs and materiality are `budget_overrun`'s: over by more than `pct` and `amount`; high when
over by more than `high_pct` and by at least `high_amount`, else medium.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, type_coerce

from pmo_ledger.ledger.models import BudgetEntry, BudgetLine, table_of
from pmo_ledger.ledger.reconcile.budget_source import bv, existing_versions
from pmo_ledger.ledger.reconcile.context import RuleContext
from pmo_ledger.ledger.reconcile.evm_rules import actual_cost
from pmo_ledger.ledger.reconcile.findings import Finding, money, pct_over, ratio
from pmo_ledger.ledger.types import Money

RULE = "released_overrun"
_bl = table_of(BudgetLine)
_be = table_of(BudgetEntry)


def released(ctx: RuleContext) -> dict[int, Decimal]:
    """Each project's released budget in the base currency: its live released versions'
    lines (as known at `as_known_at`: their entries recorded by then), counting or not."""
    versions = select(bv.c.id).where(bv.c.kind == "released", *existing_versions(ctx))
    src: Any
    live: list[Any]
    if ctx.as_known_at is None:
        src, amount, live = _bl, _bl.c.base_amount, [_bl.c.deleted_at.is_(None)]
    else:
        src, amount, live = _be, _be.c.base_delta, [_be.c.recorded_at <= ctx.as_known_at]
    rows = ctx.session.execute(
        select(src.c.project_id, type_coerce(func.sum(func.coalesce(amount, 0)), Money()))
        .where(src.c.version_id.in_(versions), *live, ctx.in_scope(src.c.project_id))
        .group_by(src.c.project_id)
    )
    return {r[0]: Decimal(r[1] or 0) for r in rows}


def released_overrun(ctx: RuleContext) -> list[Finding]:
    """Projects whose actual cost to date exceeds their released budget (see the module)."""
    release = released(ctx)
    if not release:
        return []
    spent = actual_cost(ctx)
    out: list[Finding] = []
    for project_id, limit in sorted(release.items()):
        info = ctx.projects.get(project_id)
        if info is None:
            continue
        s = ctx.rule_for(RULE, project_id)
        actual = spent.get(project_id, Decimal(0))
        over = actual - limit
        pct = pct_over(actual, limit)
        if not s.enabled or over <= s.amount or (pct is not None and pct <= s.pct):
            continue
        share = f"{ratio(pct)}%" if pct is not None else "nothing released"
        out.append(
            Finding(
                rule=RULE,
                subject_type="project",
                subject_id=info.code,
                dimension="total",  # every cost type (v_variance_lines lists them all)
                period="",
                severity=s.severity(pct, amount=over),
                message=(
                    f"{info.code}: actual cost {money(actual)} to date exceeds the released "
                    f"budget of {money(limit)} by {money(over)} ({share})"
                ),
                measures={"actual": money(actual), "released": money(limit),
                          "over": money(over), "over_pct": ratio(pct), "through": ctx.period},
                thresholds=ctx.thresholds(s, "pct", "amount", "high_pct", "high_amount"),
                project_id=project_id,
            )
        )  # fmt: skip
    return out
