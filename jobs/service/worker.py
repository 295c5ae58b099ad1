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
from datetime import date, timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError

from pmo_ledger.connectors.base import Allowance
from pmo_ledger.connectors.errors import ConnectorError
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.lease import Lease, new_holder
from pmo_ledger.jobs.reconcile import LEASE as RECONCILE_LEASE
from pmo_ledger.jobs.reconcile import run_reconcile
from pmo_ledger.jobs.run_records import SyncResult
from pmo_ledger.jobs.service.notify import Notifier, run_event, variance_event
from pmo_ledger.jobs.sync import AlreadyRunning, StartedSync, start_sync
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.queries.runs import last_done

log = structlog.get_logger(__name__)


class ServiceStopping(RuntimeError):
    """The service is shutting down and starts no more runs."""


STOPPING = "the service is stopping; it starts no more runs"


@dataclass
class Worker:
    """Runs syncs and reconciles for the service; see the module docstring.

    Every run is registered in `_active` by `start`, under the same lock as the check that the
    service is not stopping, so `stop` sees every run that got past that check: runs still in
    `start` are waited for (`_starting`), and a run that registers after `stop` has finished
    is discarded at once."""

    app: App
    notifier: Notifier
    #: The runner's cancel event: set by `stop`, checked by every run between two pages.
    cancel: threading.Event = field(default_factory=threading.Event)
    #: Each scheduled connector's interval (set by the scheduler).
    intervals: dict[str, timedelta] = field(default_factory=dict)
    #: The source API allowance each connector's last run saw.
    allowances: dict[str, Allowance] = field(default_factory=dict)
    #: The holder names of this process's reconciles in progress: each run has its own, so a
    #: stalled run whose lease expired cannot confirm the lease its successor took.
    _reconcile_holders: set[str] = field(default_factory=set)
    _active: dict[int, StartedSync] = field(default_factory=dict)
    _starting: int = 0
    _reconciles: int = 0
    _stopped: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def stopping(self) -> bool:
        return self.cancel.is_set()

    def running(self) -> list[int]:
        """The ids of the runs this process is executing."""
        with self._lock:
            return sorted(self._active)

    def _busy(self) -> bool:
        with self._lock:
            return bool(self._active or self._starting or self._reconciles)

    # --- syncs ---------------------------------------------------------------------------

    def start(
        self, name: str, *, full: bool = False, since: date | None = None, trigger: str
    ) -> StartedSync:
        """Take the lease, open the run row and register the run. Raises ServiceStopping,
        AlreadyRunning (with the running run's id) or ConnectorConfigError."""
        with self._lock:
            if self.stopping:
                raise ServiceStopping(STOPPING)
            self._starting += 1
        started: StartedSync | None = None
        try:
            started = start_sync(self.app, name, full, since, trigger=trigger)
        finally:
            with self._lock:
                self._starting -= 1
                late = started is not None and self._stopped.is_set()
                if started is not None and not late:
                    self._active[started.run_id] = started
        if late:
            assert started is not None
            started.discard("the service stopped before the run began")
            raise ServiceStopping(STOPPING)
        assert started is not None
        return started

    def submit(self, started: StartedSync) -> None:
        """Execute a started run in a thread of its own. Raises ServiceStopping (the run is
        discarded: interrupted, its lease freed) when the service began stopping meanwhile."""
        with self._lock:
            stopping = self.stopping
            if stopping:
                self._active.pop(started.run_id, None)
        if stopping:
            started.discard("the service stopped before the run began")
            raise ServiceStopping(STOPPING)
        self._thread(started).start()

    def _thread(self, started: StartedSync) -> threading.Thread:
        # A daemon: a run still inside a page read when the service exits must not hold the
        # process (stop has marked it interrupted and freed its lease by then).
        return threading.Thread(
            target=self._execute, args=(started,), name=f"sync-{started.run_id}", daemon=True
        )

    def scheduled_sync(self, name: str) -> None:
        """The job of `sync:<name>`: run it unless another replica ran it recently or is
        running it now. The run goes on a daemon thread that this job waits for, until the
        service has stopped (the scheduler's own threads are joined when the process exits)."""
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
        except ServiceStopping:
            return
        except (ConnectorError, SQLAlchemyError) as exc:
            log.error("sync_not_started", connector=name, error=str(exc))
            return
        thread = self._thread(started)
        thread.start()
        while thread.is_alive() and not self._stopped.is_set():
            thread.join(0.2)

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
        if result is None or (result.lease_lost and self.stopping):
            return  # stopped by the service: `stop` marked it interrupted
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
        with self._lock:
            if self.stopping:
                return
            self._reconciles += 1
            holder = new_holder()
            self._reconcile_holders.add(holder)
        try:
            outcome = run_reconcile(self.app, holder=holder)
        except Exception:  # the job boundary
            log.exception("reconcile_crashed")
            return
        finally:
            with self._lock:
                self._reconciles -= 1
                self._reconcile_holders.discard(holder)
        self.notifier.send(variance_event(outcome.raised))

    # --- stopping ------------------------------------------------------------------------

    def stop(self, timeout: float) -> list[int]:
        """Set the cancel event, wait at most `timeout` seconds for the runs in progress to
        finish their batch (and for runs being started and reconciles), then mark those still
        running interrupted and free their leases. Returns the ids of the runs it marked."""
        self.cancel.set()
        deadline = time.monotonic() + timeout
        while self._busy() and time.monotonic() < deadline:
            time.sleep(0.05)
        with self._lock:
            self._stopped.set()  # from here on a run that registers is discarded by `start`
            left = list(self._active.values())
            reconciling = sorted(self._reconcile_holders)
        marked = []
        for started in left:
            run_id = started.run_id
            try:
                interrupted = started.interrupt(
                    "the service stopped before the run reached a page boundary; the next run "
                    "resumes from the last committed checkpoint"
                )
            except SQLAlchemyError as exc:
                log.error("run_not_marked", run_id=run_id, error=str(exc))
                continue
            if interrupted:
                marked.append(run_id)
                log.warning("run_interrupted", run_id=run_id, reason="stop timeout")
        for holder in reconciling:
            Lease(self.app.engine, RECONCILE_LEASE, holder, self.app.settings.lease_ttl).release()
        return marked
