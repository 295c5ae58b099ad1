"""The variance lifecycle (DESIGN.md, Reconciliation): findings become `variance` rows keyed by
(rule, subject_type, subject_id, dimension, period).

- a new key opens a variance;
- a key seen again updates its measures, thresholds, severity and `as_known_at`;
- a worse severity sets `escalated_at` and moves an acknowledged variance back to open;
- a resolved key that returns reopens (`reopened_count` + 1);
- an open or acknowledged key of a rule that ran, in the run's scope, that no finding
  repeated is resolved.

Findings are few (per project, resource and period, never per line), so transitions are
decided in Python against the stored keys of the rules that ran and written in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, insert, or_, select, update
from sqlalchemy.orm import Session

from ledger.models import Variance, table_of
from ledger.reconcile.findings import Finding
from ledger.reconcile.settings import SEVERITY_RANK

_v = table_of(Variance)


@dataclass
class Lifecycle:
    """What one reconcile did to the variances."""

    opened: int = 0
    updated: int = 0
    unchanged: int = 0
    escalated: int = 0
    reopened: int = 0
    resolved: int = 0


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
    stored = {
        (r.rule, r.subject_type, r.subject_id, r.dimension, r.period): r
        for r in session.execute(
            select(
                _v.c.id,
                _v.c.rule,
                _v.c.subject_type,
                _v.c.subject_id,
                _v.c.dimension,
                _v.c.period,
                _v.c.status,
                _v.c.severity,
                _v.c.message,
                _v.c.measures,
                _v.c.thresholds,
            ).where(*scope)
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str, str, str]] = set()
    for f in findings:
        if f.key in seen:
            continue
        seen.add(f.key)
        old = stored.get(f.key)
        values = {
            "severity": f.severity,
            "message": f.message,
            "measures": f.measures,
            "thresholds": f.thresholds,
        }
        if old is None:
            inserts.append(
                {
                    "rule": f.rule,
                    "subject_type": f.subject_type,
                    "subject_id": f.subject_id,
                    "dimension": f.dimension,
                    "period": f.period,
                    "status": "open",
                    "as_known_at": as_known_at,
                    "first_seen_at": now,
                    "last_seen_at": now,
                    "reopened_count": 0,
                    "project_id": f.project_id,
                    **values,
                }
            )
            stats.opened += 1
            continue
        change: dict[str, Any] = {}
        if old.status == "resolved":
            change.update(status="open", resolved_at=None, reopened_count=_v.c.reopened_count + 1)
            stats.reopened += 1
        elif SEVERITY_RANK[f.severity] > SEVERITY_RANK.get(old.severity, 0):
            change.update(escalated_at=now, status="open")
            stats.escalated += 1
        same = (
            old.severity == f.severity
            and old.message == f.message
            and old.measures == f.measures
            and old.thresholds == f.thresholds
        )
        if same and not change:
            stats.unchanged += 1
            continue
        updates.append({"_id": old.id, **values, **change, "as_known_at": as_known_at})
        if not change:
            stats.updated += 1
    if inserts:
        session.execute(insert(_v), inserts)
    for row in updates:  # few rows; each may set different columns
        vid = row.pop("_id")
        row["last_seen_at"] = now
        session.execute(update(_v).where(_v.c.id == vid).values(**row))
    gone = [
        old.id
        for key, old in stored.items()
        if key not in seen and old.status in ("open", "acknowledged")
    ]
    for i in range(0, len(gone), 500):
        session.execute(
            update(_v)
            .where(_v.c.id.in_(gone[i : i + 500]))
            .values(status="resolved", resolved_at=now)
        )
    stats.resolved = len(gone)
    # Everything still open in scope was found again by this run.
    session.execute(
        update(_v)
        .where(*scope, or_(_v.c.status == "open", _v.c.status == "acknowledged"))
        .values(last_seen_at=now)
    )
    return stats


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
