"""The variance history: `variance_event` rows, appended in the transaction that makes each
step of a variance's life and never updated or deleted (docs/dashboard.md, "The history").

A live reconcile writes one event per transition, set-based, from the same staged rows the
lifecycle writes `variance` from (`store.apply_staged`): `opened`, `reopened`, `escalated`,
`updated` (the severity fell, the finding still there), `resolved`, and `carried` when an
acknowledgement is handed on (`store._carry`). A variance its rules found again unchanged, or
whose figures alone moved (the amounts of an overrun grow with every sync), gets no event: the
variance row holds its latest figures and the entries reproduce any earlier ones as known at
T, while an event per changed figure would write about one row per finding per run.
`acknowledge` writes `acknowledged`. Read-only runs (`--status-date` in the past,
`--as-known-at`) never reach this module.

Every event of one run carries the run's `now` as `at` and its number, `reconcile_run_id`: one
more than the last number written (the runs that wrote events are numbered 1, 2, ...; reconcile
runs one at a time under its lease).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, insert, literal, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import VarianceEvent, table_of
from pmo_ledger.ledger.types import UtcDateTime

_e = table_of(VarianceEvent)
#: The columns `append` fills, in order.
_COLUMNS = ("variance_id", "event", "at", "severity", "status", "reconcile_run_id")


def next_run(session: Session) -> int:
    """The number of the run about to write events: one more than the last written (the
    newest events first, skipping acknowledgements: a walk down the primary key)."""
    last = session.scalar(
        select(_e.c.reconcile_run_id)
        .where(_e.c.reconcile_run_id.is_not(None))
        .order_by(_e.c.id.desc())
        .limit(1)
    )
    return int(last or 0) + 1


def append(
    session: Session,
    event: str,
    variance_id: Any,
    severity: Any,
    status: Any,
    *where: Any,
    at: datetime,
    run: int,
) -> None:
    """One `event` per row that `where` picks, in one INSERT ... SELECT: `variance_id`,
    `severity` and `status` are column expressions of the rows picked (or a status as text)."""
    state = literal(status, String()) if isinstance(status, str) else status
    rows = select(
        variance_id, literal(event, String()), literal(at, UtcDateTime()), severity, state,
        literal(run, Integer()),
    ).where(*where)  # fmt: skip
    session.execute(insert(_e).from_select(list(_COLUMNS), rows))


def add(
    session: Session,
    variance_id: int,
    event: str,
    *,
    at: datetime,
    severity: str,
    status: str,
    by: str | None = None,
    note: str | None = None,
    run: int | None = None,
) -> None:
    """One event of one variance (an acknowledgement, an acknowledgement carried on)."""
    session.execute(
        insert(_e).values(
            variance_id=variance_id, event=event, at=at, severity=severity, status=status,
            acknowledged_by=by, note=note, reconcile_run_id=run, reconstructed=False,
        )
    )  # fmt: skip
