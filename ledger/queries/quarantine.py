"""Quarantine entries as `pmo-ledger quarantine list` shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import Quarantine


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    id: int
    source: str
    stream: str
    external_id: str
    reason: str
    detail: str | None
    last_seen_at: datetime
    resolution: str | None
    resolved_at: datetime | None


def quarantine_entries(
    session: Session,
    *,
    status: str = "open",
    source: str | None = None,
    reason: str | None = None,
    limit: int = 200,
) -> list[QuarantineEntry]:
    """Quarantine entries, newest first."""
    q = select(Quarantine).where(Quarantine.status == status)
    if source:
        q = q.where(Quarantine.source == source)
    if reason:
        q = q.where(Quarantine.reason == reason)
    q = q.order_by(Quarantine.last_seen_at.desc(), Quarantine.id.desc()).limit(limit)
    return [
        QuarantineEntry(
            id=e.id,
            source=e.source,
            stream=e.stream,
            external_id=e.external_id,
            reason=e.reason,
            detail=e.detail,
            last_seen_at=e.last_seen_at,
            resolution=e.resolution,
            resolved_at=e.resolved_at,
        )
        for e in session.scalars(q)
    ]
