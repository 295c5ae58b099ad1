"""The reconcile runner: one live reconcile at a time across processes and machines.

A live run takes the lease `@reconcile` (the same `sync_lock` row mechanism as syncs). A run
triggered while it is held sets `pending` on the lease and returns; the holder, when done,
releases the lease only if nothing is pending, else clears the flag and runs once more: however
many triggers arrive during a run, exactly one more run follows. Reports (`status_date` in the
past, `as_known_at`) read only and take no lease.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.lease import Heartbeat, Lease, new_holder
from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.models import Variance
from pmo_ledger.ledger.reconcile import ReconcileResult, reconcile
from pmo_ledger.ledger.time.periods import ensure_periods

log = structlog.get_logger(__name__)
LEASE = "@reconcile"


@dataclass(frozen=True)
class Raised:
    """A variance that became high and open in a run: opened, escalated or reopened."""

    id: int
    rule: str
    subject_type: str
    subject_id: str
    dimension: str
    period: str
    message: str | None


@dataclass
class ReconcileOutcome:
    """What a trigger did: the runs it made (the last one's result), or that it queued one;
    `raised`: the variances its runs made high and open (for notifications)."""

    results: list[ReconcileResult] = field(default_factory=list)
    queued: bool = False
    raised: list[Raised] = field(default_factory=list)

    @property
    def last(self) -> ReconcileResult | None:
        return self.results[-1] if self.results else None


def _now() -> datetime:
    return datetime.now(UTC)


def reconcile_report(
    app: App,
    *,
    status_date: date | None = None,
    as_known_at: datetime | None = None,
    project: str | None = None,
) -> ReconcileResult:
    """A read-only run: findings as of a status date or as known at a past time."""
    app.require_head()
    now = _now()
    with app.reading() as session:
        return reconcile(
            session,
            app.settings,
            app.config.reconcile,
            now=now,
            status_date=status_date,
            as_known_at=as_known_at,
            project=project,
            write=False,
        )


def run_reconcile(
    app: App, *, project: str | None = None, holder: str | None = None
) -> ReconcileOutcome:
    """A live reconcile under the `@reconcile` lease, repeated once per pending request.
    Raises LookupError for an unknown project."""
    app.require_head()
    lease = Lease(app.engine, LEASE, holder or new_holder(), app.settings.lease_ttl)
    outcome = ReconcileOutcome()
    while lease.acquire() is not None:
        if lease.request_rerun():
            log.info("reconcile_queued", reason="a reconcile is running; one more run follows")
            outcome.queued = True
            return outcome
    try:
        with Heartbeat(lease):
            while True:
                result, raised = _live(app, project, lease)
                outcome.results.append(result)
                outcome.raised.extend(raised)
                if lease.release_unless_pending():
                    break
                log.info("reconcile_rerun", reason="requested while running")
    except BaseException:
        lease.release()
        raise
    return outcome


def _high_open(session: Session) -> set[int]:
    return set(
        session.scalars(
            select(Variance.id).where(Variance.severity == "high", Variance.status == "open")
        )
    )


def _live(app: App, project: str | None, lease: Lease) -> tuple[ReconcileResult, list[Raised]]:
    # Each transaction renews the lease before it commits (`Lease.confirm`): on SQLite it
    # holds the write lock, and so blocks the heartbeat, for as long as it lasts.
    now = _now()
    with app.transaction() as session:
        # Stale aggregates are rebuilt and committed first: a run whose transaction has
        # written nothing reads its rules on two connections (`reconcile(parallel=True)`).
        ensure_periods(session, app.settings.calendar, now.date(), now.date())
        for source in aggregates.stale_sources(session):
            aggregates.rebuild(session, source, now=now)
        lease.confirm(session.connection())
    with app.transaction() as session:
        before = _high_open(session)
        result = reconcile(session, app.settings, app.config.reconcile, now=now, project=project)
        lease.confirm(session.connection())
        new = sorted(_high_open(session) - before)
        raised = [
            Raised(v.id, v.rule, v.subject_type, v.subject_id, v.dimension, v.period, v.message)
            for i in range(0, len(new), 500)
            for v in session.scalars(select(Variance).where(Variance.id.in_(new[i : i + 500])))
        ]
    lc = result.lifecycle
    log.info(
        "reconcile_finished",
        period=result.period,
        findings=result.total,
        opened=lc.opened if lc else 0,
        resolved=lc.resolved if lc else 0,
        escalated=lc.escalated if lc else 0,
        reopened=lc.reopened if lc else 0,
        raised_high=len(raised),
    )
    return result, raised
