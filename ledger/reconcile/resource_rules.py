"""Hours and resource rules: `hours_overrun` (actual vs planned hours, per project and per
resource, to date), `over_allocation` (a resource's planned hours across all projects in a
period above its capacity, from the status period on) and `under_utilization` (actual hours
in a past period below a floor of capacity). Counting hours only (rule 8).

Resources are subjects of their own, keyed '<source>/<external id>'; their thresholds are the
rule's global ones (overrides name portfolios, programs and projects), and a run scoped to one
project does not judge them (their figures span projects).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, literal, select, type_coerce, union_all

from pmo_ledger.ledger.history import known
from pmo_ledger.ledger.models import (
    ActualLine,
    Allocation,
    LedgerEntry,
    Resource,
    ResourceCapacity,
    table_of,
)
from pmo_ledger.ledger.reconcile.context import RuleContext
from pmo_ledger.ledger.reconcile.findings import Finding, pct_over, ratio
from pmo_ledger.ledger.reconcile.runs import merge, periods_text
from pmo_ledger.ledger.types import Hours

_al = table_of(ActualLine)
_le = table_of(LedgerEntry)
_alloc = table_of(Allocation)
_cap = table_of(ResourceCapacity)
_res = table_of(Resource)
HOUR = Decimal("0.01")


def _h(value: Decimal) -> str:
    return str(value.quantize(HOUR))


def known_plan(ctx: RuleContext, table: Any) -> Any:
    """The columns of allocation, resource_capacity or resource as known at the run's
    as_known_at (`ledger.history`; live without one)."""
    return known(table, ctx.as_known_at).c


def _resource_keys(ctx: RuleContext) -> dict[int, str]:
    res = known_plan(ctx, _res)
    rows = ctx.session.execute(
        select(res.id, res.source, res.external_id).where(res.deleted_at.is_(None))
    )
    return {r[0]: f"{r[1]}/{r[2]}" for r in rows}


def _actual_hours_by_resource(ctx: RuleContext) -> Any:
    """(resource_id, period, hours) of counting hours: live lines, or entries as known."""
    if ctx.as_known_at is None:
        return select(_al.c.resource_id, _al.c.period, _al.c.hours.label("hours")).where(
            _al.c.deleted_at.is_(None),
            _al.c.counts_hours,
            _al.c.resource_id.is_not(None),
            _al.c.hours.is_not(None),
            ctx.in_scope(_al.c.project_id),
        )
    return select(_le.c.resource_id, _le.c.period, _le.c.hours_delta.label("hours")).where(
        _le.c.recorded_at <= ctx.as_known_at,
        _le.c.counts_hours,
        _le.c.resource_id.is_not(None),
        _le.c.hours_delta.is_not(None),
        ctx.in_scope(_le.c.project_id),
    )


def _planned(ctx: RuleContext, alloc: Any) -> tuple[Any, ...]:
    """Live allocations of the run's scope (`alloc`: `known_plan`'s allocation columns), from
    the hours authority when one is configured (rule 8: two sources planning the same project
    would otherwise count its plan twice; per-portfolio overrides of the hours authority are
    not applied to plans)."""
    where: tuple[Any, ...] = (alloc.deleted_at.is_(None), ctx.in_scope(alloc.project_id))
    authority = ctx.settings.authority.hours
    return (*where, alloc.source == authority) if authority else where


def _over_plan(sums: Any, *keys: Any) -> Any:
    """(keys..., actual, planned) summed from the `actual` and `planned` columns of `sums`
    per `keys`, where something is planned and the actual is above it."""
    actual, planned = func.sum(sums.c.actual), func.sum(sums.c.planned)
    return (
        select(
            *keys,
            type_coerce(actual, Hours()).label("actual"),
            type_coerce(planned, Hours()).label("planned"),
        )
        .group_by(*keys)
        .having(planned > 0)
        .having(actual > planned)
    )


def _exceeds(s: Any, actual: Decimal, planned: Decimal) -> bool:
    """Over plan by more than the rule's hours and pct (nothing planned: any pct)."""
    pct = pct_over(actual, planned)
    return actual - planned > s.hours and (pct is None or pct > s.pct)


def _over(
    ctx: RuleContext, rule: str, rows: Any, subject: str, key_of: Any, dimension: str,
    period_of: Any, what: str,
) -> list[Finding]:  # fmt: skip
    """Findings of the rows (actual, planned, and what `key_of` and `period_of` read) over
    plan; a row with a `last` period is a run of periods (`runs.Run`)."""
    out: list[Finding] = []
    for row in rows:
        subject_id, project_id, s = key_of(row)
        if subject_id is None or s is None or not s.enabled:
            continue
        actual, planned = Decimal(row.actual or 0), Decimal(row.planned or 0)
        if not _exceeds(s, actual, planned):
            continue
        over, pct = actual - planned, pct_over(actual, planned)
        period = period_of(row)
        last = getattr(row, "last", None)
        where = periods_text(period, last, row.n) if last else f" in {period}" if period else ""
        measures = {"actual": _h(actual), "planned": _h(planned), "over": _h(over),
                    "over_pct": ratio(pct), "through": ctx.period}  # fmt: skip
        if last:
            measures["last_period"] = last
        out.append(
            Finding(
                rule=rule,
                subject_type=subject,
                subject_id=subject_id,
                dimension=dimension,
                period=period,
                severity=s.severity(pct, hours=over),
                message=(
                    f"{subject_id}: {what} {_h(actual)} h against {_h(planned)} h"
                    f"{where or ' to date'}: {_h(over)} h over"
                    + (f" ({ratio(pct)}%)" if pct is not None else "")
                ),
                measures=measures,
                thresholds=ctx.thresholds(s, "pct", "hours", "high_pct", "high_hours"),
                project_id=project_id,
            )
        )  # fmt: skip
    return out


def hours_overrun(ctx: RuleContext) -> list[Finding]:
    """Actual counting hours vs planned hours (allocations) through the status period: per
    project, and per resource across its projects."""
    through = ctx.period
    zero = literal(0, Hours())
    alloc = known_plan(ctx, _alloc)
    a = ctx.actuals().subquery("a")
    per_project = union_all(
        select(a.c.project_id.label("pid"), a.c.hours.label("actual"), zero.label("planned"))
        .where(a.c.counts_hours, a.c.period <= through),
        select(alloc.project_id, zero, alloc.planned_hours)
        .where(*_planned(ctx, alloc), alloc.period <= through),
    ).subquery("u")  # fmt: skip
    project_rows = _over_plan(per_project, per_project.c.pid)

    def project_key(row: Any) -> tuple[str | None, int | None, Any]:
        info = ctx.projects.get(row.pid)
        if info is None:
            return None, None, None
        return info.code, row.pid, ctx.rule_for("hours_overrun", row.pid)

    found = _over(ctx, "hours_overrun", ctx.session.execute(project_rows), "project",
                  project_key, "hours", lambda r: "", "actual hours")  # fmt: skip
    if ctx.project_id is not None:
        return found  # a resource's figures span projects: not judged from one project

    h = _actual_hours_by_resource(ctx).subquery("h")
    per_resource = union_all(
        select(h.c.resource_id.label("rid"), h.c.hours.label("actual"), zero.label("planned"))
        .where(h.c.period <= through),
        select(alloc.resource_id, zero, alloc.planned_hours)
        .where(*_planned(ctx, alloc), alloc.period <= through, alloc.resource_id.is_not(None)),
    ).subquery("r")  # fmt: skip
    resource_rows = _over_plan(per_resource, per_resource.c.rid)
    keys = _resource_keys(ctx)
    global_rule = ctx.global_rule("hours_overrun")

    def resource_key(row: Any) -> tuple[str | None, int | None, Any]:
        return keys.get(row.rid), None, global_rule

    return found + _over(ctx, "hours_overrun", ctx.session.execute(resource_rows), "resource",
                         resource_key, "hours", lambda r: "", "actual hours")  # fmt: skip


def over_allocation(ctx: RuleContext) -> list[Finding]:
    """A resource's planned hours across all projects in a period (the status period and
    later) above its capacity in that period by more than pct and hours; consecutive such
    periods of a resource are one finding (`runs`), judged on their sums. Not in a
    project-scoped run."""
    if ctx.project_id is not None:
        return []
    zero = literal(0, Hours())
    alloc, capacity = known_plan(ctx, _alloc), known_plan(ctx, _cap)
    both = union_all(
        select(alloc.resource_id.label("rid"), alloc.period.label("period"),
               alloc.planned_hours.label("actual"), zero.label("planned"))
        .where(*_planned(ctx, alloc), alloc.resource_id.is_not(None),
               alloc.period >= ctx.period),
        select(capacity.resource_id, capacity.period, zero, capacity.hours)
        .where(capacity.period >= ctx.period),
    ).subquery("u")  # fmt: skip
    rows = _over_plan(both, both.c.rid, both.c.period)
    keys = _resource_keys(ctx)
    s = ctx.global_rule("over_allocation")
    if not s.enabled:
        return []
    over = [
        r for r in ctx.session.execute(rows)
        if r.rid in keys and _exceeds(s, Decimal(r.actual or 0), Decimal(r.planned or 0))
    ]  # fmt: skip
    return _over(ctx, "over_allocation", merge(ctx, over, lambda r: r.rid), "resource",
                 lambda r: (keys.get(r.key), None, s), "capacity", lambda r: r.period,
                 "planned")  # fmt: skip


def under_utilization(ctx: RuleContext) -> list[Finding]:
    """A resource's actual counting hours in a past period (before the status period) below
    floor_pct of its capacity; high below high_floor_pct. Not in a project-scoped run."""
    s = ctx.global_rule("under_utilization")
    if not s.enabled or ctx.project_id is not None:
        return []
    sql = ctx.sql
    past = ctx.period
    capacity = known_plan(ctx, _cap)
    cap = (
        select(
            capacity.resource_id.label("rid"),
            capacity.period,
            type_coerce(func.sum(capacity.hours), Hours()).label("capacity"),
        )
        .where(capacity.period < past)
        .group_by(capacity.resource_id, capacity.period)
        .having(func.sum(capacity.hours) > 0)
        .subquery("cap")
    )
    h = _actual_hours_by_resource(ctx).subquery("h")
    worked = (
        select(h.c.resource_id, h.c.period, func.sum(h.c.hours).label("hours"))
        .where(h.c.period < past)
        .group_by(h.c.resource_id, h.c.period)
        .subquery("worked")
    )
    actual = func.coalesce(worked.c.hours, literal(0, Hours()))
    # used < floor_pct, exactly: (capacity - actual) x 100 / capacity > 100 - floor_pct
    below = sql.pct_gt(
        sql.raw(cap.c.capacity) - sql.raw(actual),
        cap.c.capacity,
        sql.pct_literal(Decimal(100) - s.floor_pct),
    )
    rows = (
        select(
            cap.c.rid, cap.c.period, cap.c.capacity, type_coerce(actual, Hours()).label("actual")
        )
        .select_from(
            cap.outerjoin(
                worked, and_(worked.c.resource_id == cap.c.rid, worked.c.period == cap.c.period)
            )
        )
        .where(below)
    )
    keys = _resource_keys(ctx)
    out: list[Finding] = []
    for row in ctx.session.execute(rows):  # the findings only: the comparison ran in SQL
        key = keys.get(row.rid)
        if key is None:
            continue
        actual_h, capacity = Decimal(row.actual or 0), Decimal(row.capacity)
        used = actual_h * 100 / capacity
        out.append(
            Finding(
                rule="under_utilization",
                subject_type="resource",
                subject_id=key,
                dimension="capacity",
                period=row.period,
                severity="high" if used < s.high_floor_pct else "medium",
                message=(
                    f"{key}: {_h(actual_h)} h of {_h(capacity)} h capacity in {row.period} "
                    f"({ratio(used)}%, floor {s.floor_pct}%)"
                ),
                measures={
                    "actual": _h(actual_h),
                    "capacity": _h(capacity),
                    "used_pct": ratio(used),
                },
                thresholds=ctx.thresholds(s, "floor_pct", "high_floor_pct"),
            )
        )
    return out
