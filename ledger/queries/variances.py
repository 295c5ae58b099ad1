"""Variances as `pmo-ledger variances` and `GET /variances` list them: filtered by status,
project, rule and severity, most severe first and newest first within a severity, a page at a
time (`limit`/`offset`) with the total of the filtered rows; and one variance's history
(`variance_event`, `GET /variances/{id}/history` and the dashboard's variance page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Variance, VarianceEvent

#: Listing order of severities (an unknown one after them).
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True, slots=True)
class VarianceRow:
    """A variance row as readers show it."""

    id: int
    rule: str
    subject_type: str
    subject_id: str
    dimension: str
    period: str
    severity: str
    status: str
    message: str | None
    measures: dict[str, Any] | None
    thresholds: dict[str, Any] | None
    first_seen_at: datetime
    last_seen_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    escalated_at: datetime | None
    reopened_count: int
    note: str | None


@dataclass(frozen=True, slots=True)
class VariancePage:
    """One page of a filtered listing and how many rows the filter matched in all."""

    items: list[VarianceRow]
    total: int


def list_variances(
    session: Session,
    *,
    status: str | None = None,
    open_only: bool = False,
    project: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> VariancePage:
    """Variances by severity (high, medium, low), newest first within one: `limit` of them
    (all without one) from `offset` on, and the total the filters match. `open_only`: open and
    acknowledged ones; `project`: those whose subject is that project."""
    rank = case(SEVERITY_ORDER, value=Variance.severity, else_=len(SEVERITY_ORDER))
    where: list[ColumnElement[bool]] = []
    if status is not None:
        where.append(Variance.status == status)
    if open_only:
        where.append(Variance.status != "resolved")
    if project is not None:
        where += [Variance.subject_type == "project", Variance.subject_id == project]
    if rule is not None:
        where.append(Variance.rule == rule)
    if severity is not None:
        where.append(Variance.severity == severity)
    total = int(session.scalar(select(func.count()).select_from(Variance).where(*where)) or 0)
    q = (
        select(Variance)
        .where(*where)
        .order_by(rank, Variance.id.desc())
        .limit(limit)
        .offset(offset or None)
    )
    items = [
        VarianceRow(
            id=v.id,
            rule=v.rule,
            subject_type=v.subject_type,
            subject_id=v.subject_id,
            dimension=v.dimension,
            period=v.period,
            severity=v.severity,
            status=v.status,
            message=v.message,
            measures=v.measures,
            thresholds=v.thresholds,
            first_seen_at=v.first_seen_at,
            last_seen_at=v.last_seen_at,
            acknowledged_at=v.acknowledged_at,
            acknowledged_by=v.acknowledged_by,
            resolved_at=v.resolved_at,
            escalated_at=v.escalated_at,
            reopened_count=v.reopened_count,
            note=v.note,
        )
        for v in session.scalars(q)
    ]
    return VariancePage(items, total)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One event of a variance's history (`variance_event`): the step, when, the severity and
    status after it, who acknowledged and the note (or the variance carried to or from), the
    reconcile run that made it, and whether migration 0015 reconstructed it."""

    id: int
    event: str
    at: datetime
    severity: str
    status: str
    acknowledged_by: str | None
    note: str | None
    reconcile_run_id: int | None
    reconstructed: bool


@dataclass(frozen=True, slots=True)
class VarianceHistory:
    """A variance's status and reopen count now, and its events oldest first."""

    variance_id: int
    status: str
    reopened_count: int
    events: list[HistoryEntry]


def variance_history(session: Session, variance_id: int) -> VarianceHistory | None:
    """A variance's events in the order they were written (oldest first); None when there is
    no such variance."""
    v = session.get(Variance, variance_id)
    if v is None:
        return None
    e = VarianceEvent
    rows = session.execute(
        select(
            e.id, e.event, e.at, e.severity, e.status, e.acknowledged_by, e.note,
            e.reconcile_run_id, e.reconstructed,
        )
        .where(e.variance_id == variance_id)
        .order_by(e.id)
    )  # fmt: skip
    return VarianceHistory(v.id, v.status, v.reopened_count, [HistoryEntry(*r) for r in rows])
