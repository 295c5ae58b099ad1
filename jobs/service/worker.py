"""What `pmo-ledger serve` runs: syncs (scheduled or triggered over HTTP) and reconciles.

A sync starts with `jobs.sync.start_sync`, which takes the connector's lease and opens the run
row in the caller's thread (so an HTTP trigger can answer with the run id, or 409 when the
lease is held), then executes in a thread of its own (`submit`) or in the scheduler's
(`scheduled_sync`). Every run in progress is tracked, so `stop` can set the runner's cancel
event (checked between pages), wait at most the stop timeout for a batch being committed, and
mark whatever is still running interrupted, freeing its lease. After a run that loaded
something, the reconcile follows (`[reconcile] after_sync`); failed and partial runs and new
high-severity variances go to the webhooks.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from connectors.base import Allowance
from connectors.errors import ConnectorError
from jobs.app import App
from jobs.lease import Lease, new_holder
from jobs.reconcile import LEASE as RECONCILE_LEASE
from jobs.reconcile import run_reconcile
from jobs.run_records import SyncResult
from jobs.service.notify import Notifier, run_event, variance_event
from jobs.sync import AlreadyRunning, StartedSync, start_sync
from ledger.models import SyncRun, utcnow

log = structlog.get_logger(__name__)


#: Runs that count for "overdue" and for "ran recently".
DONE = ("succeeded", "partial")


def last_done(session: Session, connector: str) -> datetime | None:
    """When the connector's last succeeded or partial run started."""
    return session.scalar(
        select(func.max(SyncRun.started_at)).where(
            SyncRun.connector == connector, SyncRun.status.in_(DONE)
        )
    )


class ServiceStopping(RuntimeError):
    """The service is shutting down and starts no more runs."""


@dataclass
class _Active:
    started: StartedSync
    thread: threading.Thread


@dataclass
class Worker:
    """Runs syncs and reconciles for the service; see the module docstring."""

    app: App
    notifier: Notifier
    #: The runner's cancel event: set by `stop`, checked by every run between two pages.
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Each scheduled connector's interval (set by the scheduler).
    intervals: dict[str, timedelta] = field(default_factory=dict)
    #: The source API allowance each connector's last run saw.
    allowances: dict[str, Allowance] = field(default_factory=dict)
    reconcile_holder: str = field(default_factory=new_holder)
    _active: dict[int, _Active] = field(default_factory=dict)
    _reconciling: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stopping(self) -> bool:
        return self.cancel.is_set()

    def running(self) -> list[int]:
        """The ids of the runs this process is executing."""
        with self._lock:
            return sorted(self._active)

    # --- syncs ---------------------------------------------------------------------------

    def start(
        self, name: str, *, full: bool = False, since: date | None = None, trigger: str
    ) -> StartedSync:
        """Take the lease and open the run row. Raises ServiceStopping, AlreadyRunning (with
        the running run's id) or ConnectorConfigError."""
        if self.stopping:
            raise ServiceStopping("the service is stopping; it starts no more runs")
        return start_sync(self.app, name, full, since, trigger=trigger)

    def submit(self, started: StartedSync) -> None:
        """Execute a started run in a thread of its own. Raises ServiceStopping (the run is
        discarded: interrupted, its lease freed) when the service began stopping meanwhile."""
        if self.stopping:
            started.discard("the service stopped before the run began")
            raise ServiceStopping("the service is stopping; it starts no more runs")
        thread = threading.Thread(
            target=self._execute, args=(started,), name=f"sync-{started.run_id}", daemon=True
        )
        with self._lock:
            self._active[started.run_id] = _Active(started, thread)
        thread.start()

    def scheduled_sync(self, name: str) -> None:
        """The job of `sync:<name>`: run it here unless another replica ran it recently or is
        running it now."""
        if self.stopping:
            return
        interval = self.intervals.get(name)
        try:
            if interval is not None:
                with self.app.reading() as session:
                    last = last_done(session, name)
                if last is not None and utcnow() - last < interval / 2:
                    log.info("sync_skipped", connector=name, reason="ran recently",
                             last_run=last.isoformat())  # fmt: skip
                    return
            started = self.start(name, trigger="schedule")
        except AlreadyRunning as exc:
            log.info("sync_skipped", connector=name, reason=str(exc))
            return
        except (ConnectorError, ServiceStopping, SQLAlchemyError) as exc:
            log.error("sync_not_started", connector=name, error=str(exc))
            return
        with self._lock:
            self._active[started.run_id] = _Active(started, threading.current_thread())
        self._execute(started)

    def _execute(self, started: StartedSync) -> None:
        name = started.run.name
        structlog.contextvars.bind_contextvars(run_id=started.run_id, connector=name)
        result: SyncResult | None = None
        try:
            result = started.execute(self.cancel)
        except Exception:  # the job boundary: the runner records what it can
            log.exception("sync_crashed")
        finally:
            with self._lock:
                self._active.pop(started.run_id, None)
            structlog.contextvars.unbind_contextvars("run_id", "connector")
        allowance = started.connector.api_allowance()
        if allowance is not None:
            self.allowances[name] = allowance
        if result is None:
            return
        self.notifier.send(run_event(result, started.trigger))
        cfg = self.app.config.reconcile
        if cfg.enabled and cfg.after_sync and result.status in ("succeeded", "partial"):
            self.reconcile()

    # --- reconcile -----------------------------------------------------------------------

    def scheduled_reconcile(self) -> None:
        """The job `reconcile`."""
        self.reconcile()

    def reconcile(self) -> None:
        """A live reconcile (one more follows if one is running anywhere); new high-severity
        variances go to the webhooks. Never raises."""
        if self.stopping:
            return
        self._reconciling.set()
        try:
            outcome = run_reconcile(self.app, holder=self.reconcile_holder)
        except Exception:  # the job boundary
            log.exception("reconcile_crashed")
            return
        finally:
            self._reconciling.clear()
        self.notifier.send(variance_event(outcome.raised))

    # --- stopping ------------------------------------------------------------------------

    def stop(self, timeout: float) -> list[int]:
        """Set the cancel event, wait at most `timeout` seconds for the runs in progress to
        finish their batch, then mark those still running interrupted and free their leases.
        Returns the ids of the runs it had to mark."""
        self.cancel.set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = list(self._active.values())
            if not busy and not self._reconciling.is_set():
                break
            for each in busy:
                each.thread.join(max(0.0, min(0.1, deadline - time.monotonic())))
            if not busy:
                time.sleep(0.05)
        with self._lock:
            left = list(self._active.values())
        marked = []
        for each in left:
            run_id = each.started.run_id
            try:
                with self.app.engine.begin() as conn:
                    res = conn.execute(
                        update(SyncRun)
                        .where(SyncRun.id == run_id, SyncRun.status == "running")
                        .values(
                            status="interrupted",
                            finished_at=utcnow(),
                            message="the service stopped before the run reached a page "
                            "boundary; the next run resumes from the last committed checkpoint",
                        )
                    )
                each.started.lease.release()  # a batch still in flight cannot commit now
            except SQLAlchemyError as exc:
                log.error("run_not_marked", run_id=run_id, error=str(exc))
                continue
            if res.rowcount:
                marked.append(run_id)
                log.warning("run_interrupted", run_id=run_id, reason="stop timeout")
        if self._reconciling.is_set():
            Lease(
                self.app.engine, RECONCILE_LEASE, self.reconcile_holder, self.app.settings.lease_ttl
            ).release()
        return marked
