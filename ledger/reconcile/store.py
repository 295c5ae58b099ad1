"""The variance lifecycle (DESIGN.md, Reconciliation): findings become `variance` rows keyed by
(rule, subject_type, subject_id, dimension, period).

- a new key opens a variance;
- a key seen again that says something else (severity, message, measures or thresholds)
  updates them, `as_known_at` and `last_seen_at`; one that says the same is not written: an
  open variance was seen by every reconcile of its rule since `last_seen_at` (rewriting
  every open row on every run cost more than all the rules together);
- a worse severity sets `escalated_at` and moves an acknowledged variance back to open;
- a resolved key that returns reopens (`reopened_count` + 1);
- an open or acknowledged key of a rule that ran, in the run's scope, that no finding
  repeated is resolved;
- an acknowledged run of periods (`runs`) whose key no finding repeated, because the run
  gained an earlier period or lost its first, hands its acknowledgement on (`_carry`) to
  this run's findings of the same rule, subject and dimension whose periods overlap its own:
  the note with a line of history, who acknowledged it and when, and its `first_seen_at`; the
  finding is acknowledged unless it is worse (then open and escalated, as a worse severity
  does), and the old variance, resolved, says which variance it continues as.

A run's findings are gathered first in the TEMP table `stage_finding` (`stage`), in one INSERT ...
SELECT: the rules that render their findings in SQL, and the other rules' `Finding`s (loaded into
`stage_python` first, with the rows that rendered rules run on a second connection copied), each
row joined to the variance of its key when there is one (its id, status and severity rank, and
whether it says the same). That is the run's only join on the five-column key: each transition then
picks its rows from the stage and writes them by `variance.id`; new keys are the rows with no
variance (an anti-join against the table being filled once made PostgreSQL rescan it per inserted
row).

Each transition also appends its `variance_event` rows (`ledger.reconcile.events`), picked from
the stage as the transition picks them, before it writes (the new variances after: the ids
above the highest before); an unchanged finding, or one whose figures alone moved, writes none.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Index,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from pmo_ledger.ledger import staging
from pmo_ledger.ledger.db import local_setting
from pmo_ledger.ledger.models import Variance, table_of
from pmo_ledger.ledger.reconcile.events import add as add_event
from pmo_ledger.ledger.reconcile.events import append as append_events
from pmo_ledger.ledger.reconcile.events import next_run
from pmo_ledger.ledger.reconcile.findings import Finding
from pmo_ledger.ledger.reconcile.rendered import STAGE_COLUMNS, Rendered
from pmo_ledger.ledger.reconcile.settings import RULES, SEVERITY_RANK
from pmo_ledger.ledger.types import UtcDateTime

_v = table_of(Variance)
#: A run that opens this many variances analyzes the table (PostgreSQL).
ANALYZE_AFTER = 10_000
KEY = ("rule", "subject_type", "subject_id", "dimension", "period")
#: The stage's columns that are a `Finding`'s fields (and `variance` columns): all but rank.
FINDING_COLUMNS = tuple(c for c in STAGE_COLUMNS if c != "rank")

#: `Finding`s of the rules that make them in Python, before they join the stage.
stage_python = staging.mirror(
    "stage_python", _v, {c.name for c in _v.columns} - set(STAGE_COLUMNS), [Column("rank", Integer)]
)
#: One run's findings (`STAGE_COLUMNS`), each with the variance of its key, if any.
stage_finding = staging.mirror(
    "stage_finding",
    _v,
    {c.name for c in _v.columns} - set(STAGE_COLUMNS),
    [
        Column("rank", Integer),
        Column("variance_id", Integer),
        Column("stored_status", String(14)),
        Column("stored_rank", Integer),
        Column("same", Boolean),  # says what the variance says (severity, message, measures...)
        # SQLite's UPDATE ... FROM and NOT EXISTS look the stage up per variance
        Index("ix_stage_finding_variance_id", "variance_id"),
    ],
)
_st = stage_finding
_py = stage_python


@dataclass
class Lifecycle:
    """What one reconcile did to the variances."""

    opened: int = 0
    updated: int = 0
    unchanged: int = 0
    escalated: int = 0
    reopened: int = 0
    resolved: int = 0
    #: findings that took an acknowledgement over from a run of periods they continue
    carried: int = 0


def _rank(column: Any) -> Any:
    return case(*((column == k, v) for k, v in SEVERITY_RANK.items()), else_=0)


def stage(
    session: Session,
    rendered: Sequence[Rendered],
    findings: Iterable[Finding],
    *,
    append: bool = False,
    copied: Sequence[bytes] = (),
) -> None:
    """Empty the stage (unless `append`) and fill it with findings, in one statement: the
    rendered SELECTs (CTEs they share are computed once), the `Finding`s (the first of a key
    wins) and rows of rendered SELECTs run on another connection (`copied`: COPY text of
    `STAGE_COLUMNS`, `staging.copy_out`; PostgreSQL), each joined to the stored variance of its
    key. Rules never share keys (the rule is part of the key), so one run's rules may be staged
    in several calls."""
    if append:
        staging.ensure(session, _st)
    else:
        staging.empty(session, _st)
    staging.fill(
        session,
        _py,
        (
            {**{c: getattr(f, c) for c in FINDING_COLUMNS}, "rank": SEVERITY_RANK[f.severity]}
            for f in _first_of_each_key(findings).values()
        ),
    )
    if copied:
        staging.copy_in(session, _py, STAGE_COLUMNS, copied)
    # The Finding rows first: a UNION's columns are named after its first SELECT.
    selects = [select(*(_py.c[c] for c in STAGE_COLUMNS))]
    selects += [s for r in rendered for s in r.selects]
    found = union_all(*selects).subquery("found")
    same = and_(
        _v.c.severity == found.c.severity,
        _v.c.message.is_not_distinct_from(found.c.message),
        cast(_v.c.measures, Text()).is_not_distinct_from(cast(found.c.measures, Text())),
        cast(_v.c.thresholds, Text()).is_not_distinct_from(cast(found.c.thresholds, Text())),
    )
    joined = select(
        *(found.c[c] for c in STAGE_COLUMNS),
        _v.c.id,
        _v.c.status,
        _rank(_v.c.severity),
        case((_v.c.id.is_(None), None), (same, True), else_=False),
    ).outerjoin_from(found, _v, and_(*(found.c[k] == _v.c[k] for k in KEY)))
    columns = [*STAGE_COLUMNS, "variance_id", "stored_status", "stored_rank", "same"]
    # Hash joins (PostgreSQL): the planner's estimates of the rendered findings are far too low
    # (a CASE in the budget rules' group key, then a default selectivity per filter: 7 rows
    # for 38,407), so it probed variance's unique key once per finding and `project`'s per row.
    with local_setting(session, "enable_nestloop", "off"):
        session.execute(insert(_st).from_select(columns, joined))


def staged_counts(session: Session) -> dict[str, int]:
    """Findings per rule in the stage."""
    rows = session.execute(select(_st.c.rule, func.count()).group_by(_st.c.rule))
    return {rule: int(n) for rule, n in rows}


def staged_findings(session: Session) -> list[Finding]:
    """The stage as `Finding`s, in report order (`_in_order`)."""
    rows = session.execute(select(*(_st.c[c] for c in FINDING_COLUMNS)))
    return _in_order(_finding(*r) for r in rows)


def report_findings(
    session: Session, rendered: Sequence[Rendered], findings: Iterable[Finding]
) -> list[Finding]:
    """A report's findings, read without the stage (a report writes nothing, not even a TEMP
    table: it also runs in a read-only transaction): the `Finding`s (the first of a key wins)
    and the rows of the rendered SELECTs, in report order."""
    out = _first_of_each_key(findings)
    selects = [s for r in rendered for s in r.selects]
    if selects:
        query = selects[0] if len(selects) == 1 else union_all(*selects)
        for row in session.execute(query):
            f = _finding(*(v for c, v in zip(STAGE_COLUMNS, row, strict=True) if c != "rank"))
            out.setdefault(f.key, f)
    return _in_order(out.values())


def _first_of_each_key(findings: Iterable[Finding]) -> dict[tuple[str, ...], Finding]:
    """The findings by key, the first of a key kept (a rule that repeats a key)."""
    out: dict[tuple[str, ...], Finding] = {}
    for f in findings:
        out.setdefault(f.key, f)
    return out


def _finding(
    rule: str, subject_type: str, subject_id: str, dimension: str, period: str, severity: Any,
    message: str, measures: Any, thresholds: Any, project_id: int | None,
) -> Finding:  # fmt: skip
    def parsed(value: Any) -> dict[str, Any]:  # SQLite hands a rendered SELECT's JSON as text
        return (json.loads(value) if isinstance(value, str) else value) or {}

    return Finding(
        rule=rule, subject_type=subject_type, subject_id=subject_id, dimension=dimension,
        period=period, severity=severity, message=message, measures=parsed(measures),
        thresholds=parsed(thresholds), project_id=project_id,
    )  # fmt: skip


def _in_order(findings: Iterable[Finding]) -> list[Finding]:
    """By rule (in RULES order), then subject, dimension and period."""
    order = {r: i for i, r in enumerate(RULES)}
    return sorted(findings, key=lambda f: (order.get(f.rule, len(RULES)), f.key[1:]))


def apply_staged(
    session: Session,
    rules_run: Iterable[str],
    *,
    as_known_at: datetime,
    now: datetime,
    project_code: str | None = None,
) -> Lifecycle:
    """Write the staged findings of `rules_run` through the lifecycle. `project_code`: a run
    scoped to one project resolves only that project's variances."""
    rules = sorted(set(rules_run))
    stats = Lifecycle()
    if not rules:
        return stats

    def run(stmt: Any) -> int:
        result: Any = session.execute(stmt)
        return int(result.rowcount or 0)

    if session.get_bind().dialect.name == "postgresql":
        # A TEMP table has no statistics: the transitions' plans need its size.
        session.execute(text(f"ANALYZE {_st.name} (variance_id, stored_status, same)"))
    staged = int(session.scalar(select(func.count()).select_from(_st)) or 0)
    stored = _st.c.variance_id == _v.c.id
    live = _st.c.stored_status.in_(("open", "acknowledged"))
    values = {
        "severity": _st.c.severity,
        "message": _st.c.message,
        "measures": _st.c.measures,
        "thresholds": _st.c.thresholds,
        "as_known_at": as_known_at,
        "last_seen_at": now,
    }
    number = next_run(session)

    def record(event: str, variance_id: Any, severity: Any, status: Any, *where: Any) -> None:
        """The events of a transition, before it is written (its rows are picked as it picks
        them): variance_event, in the same transaction (`ledger.reconcile.events`)."""
        append_events(session, event, variance_id, severity, status, *where, at=now, run=number)

    known = _st.c.variance_id.is_not(None)
    record("reopened", _st.c.variance_id, _st.c.severity, "open",
           known, _st.c.stored_status == "resolved")  # fmt: skip
    stats.reopened = run(
        update(_v)
        .where(stored, _st.c.stored_status == "resolved")
        .values(**values, status="open", resolved_at=None, reopened_count=_v.c.reopened_count + 1)
    )
    record("escalated", _st.c.variance_id, _st.c.severity, "open",
           known, live, _st.c.rank > _st.c.stored_rank)  # fmt: skip
    # A lower severity is a step of its own; figures that moved alone are no event
    # (`ledger.reconcile.events`).
    record("updated", _st.c.variance_id, _st.c.severity, _st.c.stored_status,
           known, live, _st.c.rank < _st.c.stored_rank)  # fmt: skip
    stats.escalated = run(
        update(_v)
        .where(stored, live, _st.c.rank > _st.c.stored_rank)
        .values(**values, status="open", escalated_at=now)
    )
    stats.updated = run(
        update(_v)
        .where(stored, live, _st.c.rank <= _st.c.stored_rank, _st.c.same.is_(False))
        .values(**values)
    )
    scope: list[Any] = [_v.c.rule.in_(rules), _v.c.status.in_(("open", "acknowledged"))]
    if project_code is not None:
        scope += [_v.c.subject_type == "project", _v.c.subject_id == project_code]
    unrepeated = ~exists(select(1).where(_st.c.variance_id == _v.c.id))
    handed_on = _unrepeated_acknowledged(session, [*scope, unrepeated])
    record("resolved", _v.c.id, _v.c.severity, "resolved", *scope, unrepeated)
    stats.resolved = run(
        update(_v).where(*scope, unrepeated).values(status="resolved", resolved_at=now)
    )
    before = session.scalar(select(func.max(_v.c.id))) or 0
    opened = insert(_v).from_select(
        [*FINDING_COLUMNS, "status", "as_known_at", "first_seen_at",
         "last_seen_at", "reopened_count"],
        select(
            *(_st.c[c] for c in FINDING_COLUMNS),
            literal("open"), literal(as_known_at, UtcDateTime()), literal(now, UtcDateTime()),
            literal(now, UtcDateTime()), literal(0),
        )
        # Not sorted by key: a sort of tens of thousands of text keys (collation-aware) cost
        # more than inserting them into the unique index in stage order saves.
        .where(_st.c.variance_id.is_(None)),
    )  # fmt: skip
    # rowcount of an INSERT is kept only when asked for (SQLAlchemy 2.0.28+)
    stats.opened = run(opened.execution_options(preserve_rowcount=True))
    if stats.opened:
        # The new rows are the ids above the highest before (one reconcile at a time).
        record("opened", _v.c.id, _v.c.severity, "open", _v.c.id > before)
    stats.unchanged = staged - stats.opened - stats.reopened - stats.escalated - stats.updated
    stats.carried = _carry(session, handed_on, now, number) if handed_on else 0
    if stats.opened >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # The planner would see the new rows only after autovacuum's next pass; the next
        # run's join of the stage to `variance` is planned on the table's real size now.
        # Its size and the key columns are what that join's plan needs: a small sample
        # (statistics target 10, for this transaction) gives both (PostgreSQL, 77,801 new
        # variances: 0.23 s -> 0.02 s; the join is still a hash join).
        with local_setting(session, "default_statistics_target", "10"):
            session.execute(text(f"ANALYZE {_v.name} ({', '.join(KEY)})"))
    return stats


#: What `_carry` reads of a variance.
_CARRIED = (_v.c.id, _v.c.rule, _v.c.subject_type, _v.c.subject_id, _v.c.dimension, _v.c.period,
            _v.c.measures, _v.c.severity, _v.c.status, _v.c.acknowledged_at,
            _v.c.acknowledged_by, _v.c.note, _v.c.first_seen_at, _v.c.escalated_at)  # fmt: skip


def _unrepeated_acknowledged(session: Session, where: list[Any]) -> list[Any]:
    """The acknowledged variances of periods that `where` picks (those about to be resolved)."""
    return list(session.execute(
        select(*_CARRIED).where(*where, _v.c.status == "acknowledged", _v.c.period != "")
    ))  # fmt: skip


def _periods(row: Any) -> tuple[str, str]:
    """A variance's first and last period ('YYYY-PP' sort in time order)."""
    measures = (json.loads(row.measures) if isinstance(row.measures, str) else row.measures) or {}
    return row.period, str(measures.get("last_period") or row.period)


def _span(first: str, last: str) -> str:
    return first if first == last else f"{first}..{last}"


def _carry(session: Session, old: Sequence[Any], now: datetime, run: int) -> int:
    """Hand the acknowledgements of `old` (acknowledged runs no finding repeated, now resolved)
    on to this run's findings that continue them (same rule, subject and dimension, periods
    overlapping); see the module's docstring. Each side gets a `carried` event naming the
    other (and a finding worse than what it continues, `escalated`); `run`: the run's number.
    Returns how many findings took one."""
    subject = ("rule", "subject_type", "subject_id", "dimension")
    by_subject: dict[tuple[str, ...], list[Any]] = {}
    for o in old:
        by_subject.setdefault(tuple(getattr(o, c) for c in subject), []).append(o)
    prefix = tuple_(*(_v.c[c] for c in subject))
    current = and_(*(_st.c[k] == _v.c[k] for k in KEY), _v.c.period != "")
    candidates = [
        row
        for keys in (list(by_subject)[i : i + 500] for i in range(0, len(by_subject), 500))
        for row in session.execute(select(*_CARRIED).where(current, prefix.in_(keys)))
    ]  # this run's findings of those subjects, as stored now
    day = now.strftime("%Y-%m-%d")
    continued: dict[int, tuple[Any, list[int]]] = {}  # old id -> (old, the findings it went to)
    for new in candidates:
        first, last = _periods(new)
        mine = [o for o in by_subject[tuple(getattr(new, c) for c in subject)]
                if (p := _periods(o))[0] <= last and first <= p[1]]  # fmt: skip
        if not mine:
            continue
        notes = [new.note] + [
            line
            for o in mine
            for line in (o.note, f"[acknowledged by {o.acknowledged_by or '?'} as variance "
                                 f"{o.id} ({_span(*_periods(o))}); carried to "
                                 f"{_span(first, last)} on {day}]")
        ]  # fmt: skip
        values: dict[str, Any] = {
            "note": "\n".join(filter(None, notes)),
            "first_seen_at": min([new.first_seen_at, *(o.first_seen_at for o in mine)]),
        }
        latest = max(mine, key=lambda o: o.acknowledged_at or o.first_seen_at)
        if new.status != "acknowledged":
            worse = SEVERITY_RANK[new.severity] > max(SEVERITY_RANK[o.severity] for o in mine)
            values |= {"acknowledged_at": latest.acknowledged_at,
                       "acknowledged_by": latest.acknowledged_by}  # fmt: skip
            values |= {"status": "open", "escalated_at": now} if worse else {
                "status": "acknowledged"
            }  # fmt: skip
        session.execute(update(_v).where(_v.c.id == new.id).values(**values))
        status = values.get("status", new.status)
        frame = {"at": now, "severity": new.severity, "run": run}
        add_event(session, new.id, "carried", **frame, status=status,
                   by=latest.acknowledged_by, note=f"from variance "
                   f"{', '.join(str(o.id) for o in mine)}")  # fmt: skip
        if "escalated_at" in values and new.escalated_at != now:  # not escalated by this run yet
            add_event(session, new.id, "escalated", **frame, status=status)
        for o in mine:
            continued.setdefault(o.id, (o, []))[1].append(new.id)
    for o, ids in continued.values():
        said = f"[continued as variance {', '.join(map(str, ids))} on {day}]"
        session.execute(
            update(_v).where(_v.c.id == o.id).values(note=f"{o.note or ''}\n{said}".strip())
        )
        add_event(session, o.id, "carried", at=now, severity=o.severity, status="resolved",
                   by=o.acknowledged_by, note=f"to variance {', '.join(map(str, ids))}",
                   run=run)  # fmt: skip
    return len({new_id for _, ids in continued.values() for new_id in ids})


def acknowledge(session: Session, variance_id: int, note: str, by: str, now: datetime) -> Variance:
    """Acknowledge an open variance (its note, who and when are kept with it, and an
    `acknowledged` event in its history). Raises LookupError for an unknown id and ValueError
    for a resolved one."""
    v = session.get(Variance, variance_id)
    if v is None:
        raise LookupError(f"no variance {variance_id}")
    if v.status == "resolved":
        raise ValueError(f"variance {variance_id} is resolved: nothing to acknowledge")
    v.status = "acknowledged"
    v.acknowledged_at = now
    v.acknowledged_by = by
    v.note = note
    add_event(session, v.id, "acknowledged", at=now, severity=v.severity,
               status="acknowledged", by=by, note=note)  # fmt: skip
    return v
