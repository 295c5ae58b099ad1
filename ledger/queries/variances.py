"""Variances as `pmo-ledger variances` and `GET /variances` list them: filtered, most severe
first and newest first within a severity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Variance

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


def list_variances(
    session: Session,
    *,
    status: str | None = None,
    open_only: bool = False,
    project: str | None = None,
    rule: str | None = None,
    severity: str | None = None,
    limit: int | None = None,
) -> list[VarianceRow]:
    """Variances by severity (high, medium, low), newest first within one, at most `limit`
    (all without one). `open_only`: open and acknowledged ones; `project`: those whose
    subject is that project."""
    rank = case(SEVERITY_ORDER, value=Variance.severity, else_=len(SEVERITY_ORDER))
    q = select(Variance).order_by(rank, Variance.id.desc()).limit(limit)
    if status is not None:
        q = q.where(Variance.status == status)
    if open_only:
        q = q.where(Variance.status != "resolved")
    if project is not None:
        q = q.where(Variance.subject_type == "project", Variance.subject_id == project)
    if rule is not None:
        q = q.where(Variance.rule == rule)
    if severity is not None:
        q = q.where(Variance.severity == severity)
    return [
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
