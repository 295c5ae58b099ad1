"""The variance lifecycle (DESIGN.md, Reconciliation): findings become `variance` rows keyed by
(rule, subject_type, subject_id, dimension, period).

- a new key opens a variance;
- a key seen again with other figures updates its measures, thresholds, severity, message,
  `as_known_at` and `last_seen_at`; with the same ones (the `fingerprint`) nothing is written:
  an open variance was seen by every reconcile of its rule since `last_seen_at` (rewriting
  every open row on every run cost more than all the rules together);
- a worse severity sets `escalated_at` and moves an acknowledged variance back to open;
- a resolved key that returns reopens (`reopened_count` + 1);
- an open or acknowledged key of a rule that ran, in the run's scope, that no finding
  repeated is resolved.

The stored keys of the run's scope are read slim (key, status, fingerprint): unchanged findings,
new keys and the keys to resolve are known from that. New keys are loaded straight into
`variance` (COPY on PostgreSQL; the run holds the `@reconcile` lease, so no other run adds
keys meanwhile); the findings that change a stored key are staged in a TEMP table, and each
transition is one statement joining the stage to `variance` on its unique key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Column,
    Index,
    Integer,
    and_,
    case,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from ledger import staging
from ledger.models import Variance, table_of
from ledger.reconcile.findings import Finding
from ledger.reconcile.settings import SEVERITY_RANK

_v = table_of(Variance)
KEY = ("rule", "subject_type", "subject_id", "dimension", "period")

#: Findings of one run whose key is stored, mirroring `variance`, with the severity's rank.
stage_finding = staging.mirror(
    "stage_finding",
    _v,
    {"id"},
    [Column("rank", Integer), Index("ix_stage_finding_key", *KEY)],
)


@dataclass
class Lifecycle:
    """What one reconcile did to the variances."""

    opened: int = 0
    updated: int = 0
    unchanged: int = 0
    escalated: int = 0
    reopened: int = 0
    resolved: int = 0


def fingerprint(f: Finding) -> str:
    """A hash of what a finding says. Measures and thresholds hold text, numbers and None, in
    the order each rule builds them: their `repr` is as stable as JSON and costs a fraction of
    it (tens of thousands of findings per run). A rule that reorders its measures changes its
    fingerprints once: the next run rewrites those variances, the one after finds them
    unchanged."""
    text = repr((f.severity, f.message, f.measures, f.thresholds))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def _rank(column: Any) -> Any:
    return case(*((column == k, v) for k, v in SEVERITY_RANK.items()), else_=0)


def apply_findings(
    session: Session,
    findings: Sequence[Finding],
    rules_run: Iterable[str],
    *,
    as_known_at: datetime,
    now: datetime,
    project_code: str | None = None,
) -> Lifecycle:
    """Write the findings of `rules_run` through the lifecycle. `project_code`: a run scoped
    to one project resolves only that project's variances."""
    rules = sorted(set(rules_run))
    stats = Lifecycle()
    if not rules:
        return stats
    scope: list[Any] = [_v.c.rule.in_(rules)]
    if project_code is not None:
        scope.append(and_(_v.c.subject_type == "project", _v.c.subject_id == project_code))
    # The stored keys of the run's scope, slim: what deciding "unchanged" and "gone" needs.
    stored = {
        tuple(r[1:6]): (r[0], r[6], r[7])
        for r in session.execute(
            select(_v.c.id, *(_v.c[k] for k in KEY), _v.c.status, _v.c.fingerprint).where(*scope)
        ).all()
    }
    opened = {"status": "open", "as_known_at": as_known_at, "first_seen_at": now,
              "last_seen_at": now, "reopened_count": 0}  # fmt: skip
    seen: set[tuple[str, ...]] = set()
    new: list[dict[str, Any]] = []  # keys never stored: inserted as they are
    changed: list[dict[str, Any]] = []  # stored keys whose finding says something else
    for f in findings:
        key = f.key
        if key in seen:
            continue
        seen.add(key)
        mark = fingerprint(f)
        old = stored.get(key)
        if old is not None and old[1] != "resolved" and old[2] == mark:
            stats.unchanged += 1  # nothing to write
            continue
        row = {
            "rule": f.rule,
            "subject_type": f.subject_type,
            "subject_id": f.subject_id,
            "dimension": f.dimension,
            "period": f.period,
            "severity": f.severity,
            "message": f.message,
            "measures": f.measures,
            "thresholds": f.thresholds,
            "project_id": f.project_id,
            "fingerprint": mark,
            **(opened if old is None else {"rank": SEVERITY_RANK[f.severity]}),
        }
        (new if old is None else changed).append(row)

    def run(stmt: Any) -> int:
        result: Any = session.execute(stmt)
        return int(result.rowcount or 0)

    gone = [v[0] for key, v in stored.items() if key not in seen and v[1] != "resolved"]
    for i in range(0, len(gone), 500):
        stats.resolved += run(
            update(_v)
            .where(_v.c.id.in_(gone[i : i + 500]))
            .values(status="resolved", resolved_at=now)
        )
    if changed:
        _apply_changed(session, changed, stats, as_known_at=as_known_at, now=now)
    if new:
        # Loaded straight into `variance` (COPY on PostgreSQL), in key order (the unique
        # index is filled in order): no stage, no join.
        new.sort(key=itemgetter(*KEY))
        stats.opened = staging.insert_rows(session, _v, new, shared=(*opened, "thresholds"))
    return stats


def _apply_changed(
    session: Session,
    changed: list[dict[str, Any]],
    stats: Lifecycle,
    *,
    as_known_at: datetime,
    now: datetime,
) -> None:
    """Reopen, escalate or update the stored variances of `changed`, through the stage."""

    def run(stmt: Any) -> int:
        result: Any = session.execute(stmt)
        return int(result.rowcount or 0)

    staging.fill(session, stage_finding, changed)
    st = stage_finding
    match = and_(*(st.c[k] == _v.c[k] for k in KEY))
    live = _v.c.status.in_(("open", "acknowledged"))
    values = {
        "severity": st.c.severity,
        "message": st.c.message,
        "measures": st.c.measures,
        "thresholds": st.c.thresholds,
        "fingerprint": st.c.fingerprint,
        "as_known_at": as_known_at,
        "last_seen_at": now,
    }
    stats.reopened = run(
        update(_v)
        .where(match, _v.c.status == "resolved")
        .values(**values, status="open", resolved_at=None, reopened_count=_v.c.reopened_count + 1)
    )
    stats.escalated = run(
        update(_v)
        .where(match, live, st.c.rank > _rank(_v.c.severity))
        .values(**values, status="open", escalated_at=now)
    )
    stats.updated = run(
        update(_v)
        .where(
            match,
            live,
            or_(_v.c.fingerprint.is_(None), _v.c.fingerprint != st.c.fingerprint),
        )
        .values(**values)
    )


def acknowledge(session: Session, variance_id: int, note: str, by: str, now: datetime) -> Variance:
    """Acknowledge an open variance (the note goes into its measures' history). Raises
    LookupError for an unknown id and ValueError for a resolved one."""
    v = session.get(Variance, variance_id)
    if v is None:
        raise LookupError(f"no variance {variance_id}")
    if v.status == "resolved":
        raise ValueError(f"variance {variance_id} is resolved: nothing to acknowledge")
    v.status = "acknowledged"
    v.acknowledged_at = now
    v.acknowledged_by = by
    v.note = note
    return v
