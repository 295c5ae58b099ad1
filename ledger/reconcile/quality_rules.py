"""`source_disagreement` (two systems' cost for the same project and period apart) and
`data_quality` (what keeps the ledger from being trusted: quarantine, unmapped actuals,
postings after a project closed or outside its dates, missing FX rates, negative hours).
Both read all lines, counting or not (rule 8: they judge the sources, not the authority).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, type_coerce, union_all

from pmo_ledger.ledger.history import known
from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    ActualLine,
    LedgerEntry,
    Project,
    Quarantine,
    table_of,
)
from pmo_ledger.ledger.reconcile.context import RuleContext
from pmo_ledger.ledger.reconcile.findings import Finding, money
from pmo_ledger.ledger.reconcile.rendered import Rendered, cat, once, project_finding, text_of
from pmo_ledger.ledger.reconcile.runs import islands, periods_sql
from pmo_ledger.ledger.reconcile.settings import Severity, SourcePair
from pmo_ledger.ledger.types import Hours, Money

_al = table_of(ActualLine)
_le = table_of(LedgerEntry)
_pr = table_of(Project)
_q = table_of(Quarantine)


def _pair_rows(ctx: RuleContext, pair: SourcePair) -> Any:
    """(pid, period, left, right): the pair's cost per project and period, where the two are
    apart by more than the smallest configured amount."""
    a = ctx.actuals().subquery("a")
    sql = ctx.sql
    zero = literal(0, Money())
    where = [a.c.kind == "cost", a.c.period <= ctx.period]
    if pair.cost_types:
        where.append(a.c.cost_type.in_(pair.cost_types))
    both = union_all(
        select(a.c.project_id.label("pid"), a.c.period.label("period"),
               a.c.base_amount.label("left"), zero.label("right"))
        .where(a.c.source == pair.left, *where),
        select(a.c.project_id, a.c.period, zero, a.c.base_amount)
        .where(a.c.source == pair.right, *where),
    ).subquery("u")  # fmt: skip
    left = sql.raw(func.sum(both.c.left))
    right = sql.raw(func.sum(both.c.right))
    floor = sql.value(ctx.min_knob("source_disagreement", "amount"))
    return (
        select(
            both.c.pid,
            both.c.period,
            type_coerce(func.sum(both.c.left), Money()).label("left"),
            type_coerce(func.sum(both.c.right), Money()).label("right"),
        )
        .where(both.c.pid != UNMAPPED_ID)
        .group_by(both.c.pid, both.c.period)
        .having(or_(left - right > floor, right - left > floor))
        .subquery("pair")
    )


def source_disagreement(ctx: RuleContext) -> Rendered | None:
    """Per configured pair, per project and period through the status period: the two
    sources' cost (base currency) apart by more than pct (of the larger) and amount.
    Consecutive periods of a project apart the same way (the same source the higher) are one
    finding (`runs`), judged high on their sums. Rendered in SQL (`rendered`): the figures as
    text once per finding, then the message and measures."""
    sql = ctx.sql
    groups = ctx.project_groups("source_disagreement")
    selects = []
    dimensions: set[str] = set()

    def knob(project_id: Any, render: Any) -> Any:
        return sql.knob(groups, project_id, render)

    def apart(left: Any, right: Any) -> tuple[Any, Any]:
        """(gap, the larger magnitude) of two money expressions."""
        gap = case((left >= right, left - right), else_=right - left)
        larger = case((func.abs(left) >= func.abs(right), func.abs(left)), else_=func.abs(right))
        return gap, larger

    for i, pair in enumerate(ctx.global_rule("source_disagreement").pairs):
        dimension = f"{pair.left}~{pair.right}" + (
            f":{','.join(pair.cost_types)}" if pair.cost_types else ""
        )
        if dimension[:100] in dimensions:
            continue  # the same key as an earlier pair: its findings stand (the first wins)
        dimensions.add(dimension[:100])
        rows = _pair_rows(ctx, pair)
        p = rows.c
        gap, larger = apart(sql.raw(p.left), sql.raw(p.right))
        apart_periods = (
            select(
                p.pid, p.period, p.left, p.right,
                case((sql.raw(p.left) >= sql.raw(p.right), 1), else_=0).label("left_higher"),
            )
            .join_from(rows, _pr, _pr.c.id == p.pid)
            .where(
                _pr.c.merged_into_id.is_(None),
                _pr.c.deleted_at.is_(None),
                knob(p.pid, lambda s: literal(s.enabled)),
                larger != 0,
                gap > knob(p.pid, lambda s: sql.value(s.amount)),
                sql.pct_gt(gap, larger, knob(p.pid, lambda s: sql.pct_literal(s.pct))),
            )
            .subquery(f"apart_{i}")
        )  # fmt: skip
        merged = islands(
            ctx, apart_periods, ("pid", "left_higher"), (("left", Money()), ("right", Money()))
        ).subquery(f"apart_runs_{i}")
        m = merged.c
        left, right = sql.raw(m.left), sql.raw(m.right)
        gap, larger = apart(left, right)
        high_pct = knob(m.pid, lambda s: sql.pct_literal(s.high_pct))
        f = once(
            select(
                m.pid,
                _pr.c.code,
                m.period,
                m.last,
                m.n,
                (
                    sql.pct_gt(gap, larger, high_pct)
                    & (gap >= knob(m.pid, lambda s: sql.value_at_least(s.high_amount)))
                ).label("high"),
                sql.money(left).label("lm"),
                sql.money(right).label("rm"),
                sql.money(gap).label("gm"),
                sql.ratio(gap, larger).label("pr"),
            ).join_from(merged, _pr, _pr.c.id == m.pid),
            f"disagreement_{i}",
        ).c
        message = cat(f.code, periods_sql(f.period, f.last, f.n), f": {pair.left} ", f.lm,
                      f" vs {pair.right} ", f.rm, " (", f.gm, " apart, ", f.pr, "%)")  # fmt: skip
        measures = sql.json_object(
            [("left", f.lm), ("right", f.rm), ("gap", f.gm), ("gap_pct", f.pr),
             ("left_source", pair.left), ("right_source", pair.right),
             ("last_period", f.last)]
        )  # fmt: skip
        thresholds = ctx.thresholds_text(
            "source_disagreement", f.pid, "pct", "amount", "high_pct", "high_amount"
        )
        selects.append(
            project_finding(
                sql, "source_disagreement", code=f.code, dimension=text_of(dimension[:100]),
                period=f.period, high=f.high, message=message, measures=measures,
                thresholds=thresholds, project_id=f.pid,
            )
        )  # fmt: skip
    if not selects:
        return None
    return Rendered(tuple(selects))


_LINE_CHECKS: dict[str, tuple[Severity, str]] = {
    "after_close": ("medium", "lines posted after the project closed"),
    "outside_dates": ("low", "lines posted outside the project's planned dates"),
    "missing_fx": ("medium", "lines without a rate to the base currency"),
    "negative_hours": ("low", "lines with negative hours"),
}


def _line_checks(ctx: RuleContext) -> Any:
    """(project_id, lines failing each check...) per project: for each project, one count per
    check over the partial index that holds its candidates (migration 0006), not a pass over
    every line. The lines before a project's start, after its finish or after it closed are
    ranges of (project_id, posted_on); lines waiting for a rate or with negative hours are
    indexed apart. A line both before the start and after the finish (dates reversed) counts
    once. Correlated counts keep the project the outer loop on both engines (joined, SQLite
    walked the whole index and looked each line's project up)."""

    def count(*where: Any) -> Any:
        return (
            select(func.count())
            .where(_al.c.project_id == _pr.c.id, _al.c.deleted_at.is_(None), *where)
            .correlate(_pr)
            .scalar_subquery()
        )

    return select(
        _pr.c.id.label("project_id"),
        count(_al.c.posted_on > _pr.c.closed_on).label("after_close"),
        count(_al.c.posted_on < _pr.c.planned_start).label("before_start"),
        count(
            _al.c.posted_on > _pr.c.planned_finish,
            or_(_pr.c.planned_start.is_(None), _al.c.posted_on >= _pr.c.planned_start),
        ).label("after_finish"),
        count(_al.c.amount.is_not(None), _al.c.base_amount.is_(None)).label("missing_fx"),
        count(_al.c.hours < 0).label("negative_hours"),
    ).where(ctx.in_scope(_pr.c.id), _pr.c.id != UNMAPPED_ID)


def _lines_known(ctx: RuleContext, at: datetime) -> Any:
    """Each line as known at `at`, from its entries recorded by then (rule 3): the dimensions
    of its latest entry (a dimension change is a reversal then the new version, so the latest
    is the new one), its hours and base amount (the sums of its deltas), whether it waited for
    a rate (the latest entry moved an amount with no base), leaving out the lines whose latest
    entry was a deletion. One pass over the entries recorded by then: an as-known-at run only."""
    le = _le.c
    by_line: dict[str, Any] = {"partition_by": le.line_id}
    ranked = (
        select(
            le.line_id, le.source, le.project_id, le.posted_on, le.reason,
            (le.amount_delta.is_not(None) & le.base_delta.is_(None)).label("unrated"),
            func.row_number().over(order_by=le.id.desc(), **by_line).label("latest"),
            type_coerce(func.sum(le.hours_delta).over(**by_line), Hours()).label("hours"),
            type_coerce(func.sum(le.base_delta).over(**by_line), Money()).label("base_amount"),
        )
        .where(le.recorded_at <= at)
        .subquery("ranked")
    )  # fmt: skip
    r = ranked.c
    return (
        select(r.line_id, r.source, r.project_id, r.posted_on, r.unrated, r.hours, r.base_amount)
        .where(r.latest == 1, r.reason != "delete")
        .subquery("line_known")
    )


def _line_checks_known(ctx: RuleContext, at: datetime) -> Any:
    """`_line_checks` as known at `at`: the lines as their entries stood (`_lines_known`)
    against the projects' dates then (`ledger.history`)."""
    lines = _lines_known(ctx, at).c
    p = known(_pr, at).c

    def count(*where: Any) -> Any:
        return func.count(case((and_(*where), 1)))

    return (
        select(
            p.id.label("project_id"),
            count(lines.posted_on > p.closed_on).label("after_close"),
            count(lines.posted_on < p.planned_start).label("before_start"),
            count(
                lines.posted_on > p.planned_finish,
                or_(p.planned_start.is_(None), lines.posted_on >= p.planned_start),
            ).label("after_finish"),
            count(lines.unrated).label("missing_fx"),
            count(lines.hours < 0).label("negative_hours"),
        )
        .select_from(p.id.table)
        .join(lines.line_id.table, lines.project_id == p.id)
        .where(ctx.in_scope(p.id), p.id != UNMAPPED_ID)
        .group_by(p.id)
    )


def data_quality(ctx: RuleContext) -> list[Finding]:
    """Findings per source (open quarantine per stream, unmapped actuals) and per project
    (the line checks above); any count above zero is a finding. As known at a past time:
    the lines as their entries stood then, the projects' dates then, quarantine open then."""
    s = ctx.global_rule("data_quality")
    if not s.enabled:
        return []
    at = ctx.as_known_at
    out: list[Finding] = []
    checks = _line_checks(ctx) if at is None else _line_checks_known(ctx, at)
    for row in ctx.session.execute(checks).all():
        info = ctx.projects.get(row.project_id)
        if info is None:
            continue
        failing = {
            "after_close": row.after_close,
            "outside_dates": row.before_start + row.after_finish,
            "missing_fx": row.missing_fx,
            "negative_hours": row.negative_hours,
        }
        for check, (level, what) in _LINE_CHECKS.items():
            lines = int(failing[check])
            if not lines:
                continue
            out.append(
                Finding(
                    rule="data_quality", subject_type="project", subject_id=info.code,
                    dimension=check, period="", severity=level,
                    message=f"{info.code}: {lines} {what}",
                    measures={"lines": lines}, project_id=row.project_id,
                )
            )  # fmt: skip
    if ctx.project_id is not None:
        return out  # quarantine and UNMAPPED belong to sources, not to one project
    held = select(_q.c.source, _q.c.stream, func.count()).where(
        _q.c.status == "open"
        if at is None
        else and_(_q.c.first_seen_at <= at, or_(_q.c.resolved_at.is_(None), _q.c.resolved_at > at))
    )
    for source, stream, n in ctx.session.execute(held.group_by(_q.c.source, _q.c.stream)):
        out.append(
            Finding(
                rule="data_quality", subject_type="source", subject_id=source,
                dimension=f"quarantine:{stream}"[:100], period="", severity="medium",
                message=f"{source}.{stream}: {n} records wait in quarantine",
                measures={"entries": int(n)},
            )
        )  # fmt: skip
    held_lines: Any = _al.c if at is None else _lines_known(ctx, at).c
    unmapped = (
        select(
            held_lines.source,
            func.count(),
            type_coerce(func.sum(held_lines.base_amount), Money()),
        )
        .where(held_lines.project_id == UNMAPPED_ID)
        .group_by(held_lines.source)
    )
    if at is None:
        unmapped = unmapped.where(_al.c.deleted_at.is_(None))
    for source, n, amount in ctx.session.execute(unmapped):
        out.append(
            Finding(
                rule="data_quality", subject_type="source", subject_id=source,
                dimension="unmapped", period="", severity="medium",
                message=f"{source}: {n} actual lines wait on UNMAPPED ({money(amount)} base)",
                measures={"lines": int(n), "base_amount": money(amount)},
            )
        )  # fmt: skip
    return out
