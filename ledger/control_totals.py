"""Control totals: a source's own count and amount per project and currency against the
ledger's lines of that source and stream, and the drift between them (`control_total`).

The ledger side reads every live line of the source and stream, counting or not (rule 8: verify
compares with the source as it is, authority flags aside); lines are grouped by the source's
own project key (`project_ref`), so a line loaded under UNMAPPED still meets its source group.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from ledger.models import ActualLine, ControlTotal, Project, ProjectLink, table_of

_al = table_of(ActualLine)
Key = tuple[str | None, str | None]  # (project_ref, currency)


@dataclass(frozen=True, slots=True)
class Drift:
    """One project and currency of one stream: the source's figures and the ledger's."""

    project_ref: str | None
    currency: str | None
    source_count: int
    source_amount: Decimal
    ledger_count: int
    ledger_amount: Decimal

    @property
    def count_drift(self) -> int:
        return self.source_count - self.ledger_count

    @property
    def amount_drift(self) -> Decimal:
        return self.source_amount - self.ledger_amount

    @property
    def drifted(self) -> bool:
        return self.count_drift != 0 or self.amount_drift != 0


def ledger_totals(session: Session, source: str, stream: str) -> dict[Key, tuple[int, Decimal]]:
    """Live lines of a source's stream: (count, sum of amounts) per (project_ref, currency)."""
    rows = session.execute(
        select(_al.c.project_ref, _al.c.currency, func.count(), func.sum(_al.c.amount))
        .where(_al.c.source == source, _al.c.stream == stream, _al.c.deleted_at.is_(None))
        .group_by(_al.c.project_ref, _al.c.currency)
    )
    return {(r[0], r[1]): (int(r[2]), r[3] if r[3] is not None else Decimal(0)) for r in rows}


def compare(
    source: Iterable[tuple[Key, int, Decimal]], ledger: dict[Key, tuple[int, Decimal]]
) -> list[Drift]:
    """Every group either side has, with both sides' figures (0 where a side lacks it)."""
    seen: dict[Key, tuple[int, Decimal]] = {}
    for key, count, amount in source:
        old = seen.get(key, (0, Decimal(0)))
        seen[key] = (old[0] + count, old[1] + amount)
    keys = sorted(set(seen) | set(ledger), key=lambda k: (k[0] or "", k[1] or ""))
    zero = (0, Decimal(0))
    return [Drift(k[0], k[1], *seen.get(k, zero), *ledger.get(k, zero)) for k in keys]


def _project_ids(session: Session, source: str, refs: set[str]) -> dict[str, int]:
    if not refs:
        return {}
    rows = session.execute(
        select(ProjectLink.external_id, ProjectLink.project_id).where(
            ProjectLink.source == source,
            ProjectLink.object_type == "project",
            ProjectLink.external_id.in_(refs),
        )
    ).tuples()
    return dict(rows.all())


def project_codes(session: Session, source: str, refs: set[str | None]) -> dict[str, str]:
    """Ledger project codes of a source's project keys (those that are linked)."""
    ids = _project_ids(session, source, {r for r in refs if r})
    if not ids:
        return {}
    codes = dict(
        session.execute(select(Project.id, Project.code).where(Project.id.in_(set(ids.values()))))
        .tuples()
        .all()
    )
    return {ref: codes[pid] for ref, pid in ids.items() if pid in codes}


def record(
    session: Session,
    source: str,
    stream: str,
    drifts: list[Drift],
    checked_at: datetime,
    run_id: int | None = None,
) -> None:
    """Store one check's figures in `control_total` (the caller commits)."""
    projects = _project_ids(session, source, {d.project_ref for d in drifts if d.project_ref})
    rows = [
        {
            "run_id": run_id,
            "source": source,
            "stream": stream,
            "project_id": projects.get(d.project_ref) if d.project_ref else None,
            "project_ref": d.project_ref,
            "currency": d.currency,
            "source_count": d.source_count,
            "source_amount": d.source_amount,
            "ledger_count": d.ledger_count,
            "ledger_amount": d.ledger_amount,
            "checked_at": checked_at,
        }
        for d in drifts
    ]
    if rows:
        session.execute(insert(table_of(ControlTotal)), rows)
