"""The sync runner: one connector's streams from the source into the ledger (rules 4-5).

`run_sync` takes the connector's lease, opens a `sync_run`, reads each stream from its
checkpoint minus the lookback (or the first open period), accumulates pages into batches
(`batch_rows`, `batch_seconds`, or a ScopeEnd) and commits each batch in one transaction with
its furthest checkpoint, the run's counters and `sync_run_stream` figures. Keys seen inside an
open scope go to the TEMP table `scope_seen` on the run's one connection; at ScopeEnd the
writer reverses what the scope did not list, unless the mass-delete guard stops it. Runs end
succeeded | partial | failed | interrupted | abandoned (DESIGN.md "Operations").

A kind that reads ahead is read by a producer thread (jobs/prefetch.py) while the runner
writes; once a stream's read has come to its end, the next stream's read opens while the
stream's last batch is written (`_read_ahead`), its pages written in its own turn.

The streams furthest behind go first (`_ordered`). A stream whose own settings are wrong
(StreamConfigError), or whose query ran too long (StreamTransientError, `partial`), stops alone
and the run goes on. A full read of a stream that stops early (an error the connector raised,
a cancel) keeps its connector's `Page.resume`, the keys it listed and what read it is, and the
next run continues it when it is the same read with all of its keys, or starts it over
(docs/architecture.md, "Streams in order, full reads that resume"). A retirement (the stream's
object changed) keeps the old object's sync_state until its implicit ScopeEnd.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import (
    Connector,
    Cursor,
    Page,
    ReadRequest,
    ScopeEnd,
    ScopeStart,
    StreamSpec,
    fingerprint,
)
from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
    StreamConfigError,
    StreamTransientError,
)
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.causes import short_cause
from pmo_ledger.jobs.gc_tuning import tune_for_batches
from pmo_ledger.jobs.lease import Heartbeat, Held, Lease, LeaseLost, new_holder
from pmo_ledger.jobs.prefetch import Prefetch
from pmo_ledger.jobs.run_records import RunRecorder, StreamResult, SyncResult, summary
from pmo_ledger.ledger import aggregates
from pmo_ledger.ledger.db import WRITING
from pmo_ledger.ledger.models import Project, ProjectLink, SyncRun, SyncState, utcnow
from pmo_ledger.ledger.time.calendar import period_key
from pmo_ledger.ledger.time.periods import PeriodIndex
from pmo_ledger.ledger.write import (
    WrittenKeys,
    apply_batch,
    end_scope,
    forget_all_scopes,
    forget_resume,
    forget_scope,
    has_lines,
    restore_listed,
    save_listed,
    store_checkpoint,
)

log = structlog.get_logger(__name__)


class AlreadyRunning(RuntimeError):
    """The connector's lease is held: "already running: run N since HH:MM UTC"."""

    def __init__(self, held: Held) -> None:
        super().__init__(f"already running: {held}")
        self.run_id = held.run_id


class ConnectorDisabled(ConnectorConfigError):
    """The connector has `enabled = false`: it runs only when the caller allows it explicitly."""

    def __init__(self, name: str) -> None:
        super().__init__(f"connector {name} is disabled (enabled = false in [connectors.{name}])")
        self.name = name


class SyncCancelled(Exception):
    """The cancel event was set: the run stops between pages."""


@dataclass(frozen=True)
class _State:
    """A stream's row in `sync_state`, as the run found it."""

    checkpoint: Cursor | None = None
    fingerprint: str | None = None
    finished_at: datetime | None = None
    resume: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Opening:
    """How a stream's read opens: the connector's fingerprints of it (as configured), its row
    in `sync_state`, the run's scope key and the request they make."""

    fingerprint: str | None
    read_key: str
    state: _State
    scope: str | None
    request: ReadRequest


@dataclass
class _Ahead:
    """The next stream's read, opened while the stream before it still writes (`_read_ahead`)."""

    spec: StreamSpec
    opening: _Opening
    pages: Prefetch[Page]


@dataclass
class _Buffer:
    records: list[Any] = field(default_factory=list)
    deletions: list[str] = field(default_factory=list)
    rejected: list[Any] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __len__(self) -> int:
        return len(self.records) + len(self.deletions) + len(self.rejected)

    def add(self, page: Page) -> None:
        if not self:
            self.started = time.monotonic()
        self.records.extend(page.records)
        self.deletions.extend(page.deletions)
        self.rejected.extend(page.rejected)

    def clear(self) -> None:
        self.records.clear()
        self.deletions.clear()
        self.rejected.clear()


def run_sync(
    app: App,
    name: str,
    full: bool = False,
    since: date | None = None,
    streams: list[str] | None = None,
    project: str | None = None,
    period: str | None = None,
    dry_run: bool = False,
    allow_mass_delete: bool = False,
    *,
    trigger: str = "cli",
    cancel: threading.Event | None = None,
    connector: Connector | None = None,
    holder: str | None = None,
    on_batch: Callable[[StreamResult], None] | None = None,
    allow_disabled: bool = False,
) -> SyncResult:
    """Run one sync of connector `name`. Raises AlreadyRunning when its lease is held (no
    run row is written), ConnectorDisabled for a disabled connector unless `allow_disabled`
    (nothing is written), and ConnectorConfigError for an unknown connector or bad settings."""
    if dry_run:
        run = _prepare(
            app, name, connector, allow_mass_delete, dry_run=True, allow_disabled=allow_disabled
        )
        try:
            run.select(full, since, streams, project, period)
            run.cancel, run.on_batch = cancel or run.cancel, on_batch
            return run.execute(None, None)
        finally:
            run.connector.close()
    started = start_sync(
        app,
        name,
        full,
        since,
        streams,
        project,
        period,
        allow_mass_delete,
        trigger=trigger,
        connector=connector,
        holder=holder,
        allow_disabled=allow_disabled,
    )
    return started.execute(cancel, on_batch)


@dataclass
class StartedSync:
    """A run that holds its connector's lease and has its `sync_run` row: `execute` it, in
    this thread or another, or `discard` it. Either one releases the lease."""

    run: _Run
    lease: Lease
    run_id: int
    trigger: str

    @property
    def connector(self) -> Connector:
        return self.run.connector

    def execute(
        self,
        cancel: threading.Event | None = None,
        on_batch: Callable[[StreamResult], None] | None = None,
    ) -> SyncResult:
        """Read the selected streams (DESIGN.md rules 4-5) and finish the run row."""
        self.run.cancel = cancel or self.run.cancel
        self.run.on_batch = on_batch
        try:
            with Heartbeat(self.lease) as heartbeat:
                self.run.heartbeat = heartbeat
                return self.run.execute(self.lease, self.run_id)
        finally:
            self.lease.release()
            self.run.connector.close()  # its sessions and sockets, on every path

    def interrupt(self, message: str) -> bool:
        """Mark the run interrupted with `message` (unless it already ended) and free the
        lease, so a batch still in flight cannot commit. True when the row was marked."""
        try:
            with self.run.app.engine.begin() as conn:
                res = conn.execute(
                    update(SyncRun)
                    .where(SyncRun.id == self.run_id, SyncRun.status == "running")
                    .values(status="interrupted", finished_at=utcnow(), message=message)
                )
        finally:
            self.lease.release()
        return bool(res.rowcount)

    def discard(self, message: str) -> None:
        """Never execute it: the run ends interrupted with `message` and the lease is freed."""
        try:
            self.interrupt(message)
        finally:
            self.run.connector.close()


def start_sync(
    app: App,
    name: str,
    full: bool = False,
    since: date | None = None,
    streams: list[str] | None = None,
    project: str | None = None,
    period: str | None = None,
    allow_mass_delete: bool = False,
    *,
    trigger: str = "cli",
    connector: Connector | None = None,
    holder: str | None = None,
    allow_disabled: bool = False,
) -> StartedSync:
    """Take connector `name`'s lease and open its run row, ready to execute. Raises
    AlreadyRunning when the lease is held (no run row is written), ConnectorDisabled for a
    disabled connector unless `allow_disabled` (no run row either), ConnectorConfigError for an
    unknown connector, bad settings or a selection the connector cannot read."""
    run = _prepare(
        app, name, connector, allow_mass_delete, dry_run=False, allow_disabled=allow_disabled
    )
    try:
        run.select(full, since, streams, project, period)
        lease = Lease(app.engine, name, holder or new_holder(), app.settings.lease_ttl)
        held = lease.acquire()
        if held is not None:
            raise AlreadyRunning(held)
        try:
            with app.engine.connect() as conn:
                opened = RunRecorder(conn, name, False).open(
                    trigger, run.options(), holder=lease.holder
                )
                assert opened.run_id is not None
                with conn.begin():
                    lease.attach(conn, opened.run_id)
        except BaseException:
            lease.release()
            raise
    except BaseException:
        run.connector.close()
        raise
    log.info("sync_run_started", connector=name, run_id=opened.run_id, trigger=trigger)
    return StartedSync(run, lease, opened.run_id, trigger)


def _prepare(
    app: App,
    name: str,
    connector: Connector | None,
    allow_mass_delete: bool,
    *,
    dry_run: bool,
    allow_disabled: bool,
) -> _Run:
    tune_for_batches()  # once a process: the collector off the batches' short-lived objects
    cfg = app.config.connectors.get(name)
    if cfg is None:
        known = ", ".join(sorted(app.config.connectors)) or "none configured"
        raise ConnectorConfigError(f"unknown connector {name!r} (configured: {known})")
    # Before the connector is built: a disabled one may hold settings that no longer work.
    if not cfg.enabled and not allow_disabled:
        raise ConnectorDisabled(name)
    if connector is None:
        connector = app.connector(name)
    if connector.context.known_projects is None:
        connector.context.known_projects = _known_projects(app, name)
    run = _Run(app, name, connector, cfg.lookback, dry_run, allow_mass_delete)
    if not cfg.enabled:
        run.allow_disabled = True  # recorded in the run's options
        log.warning("disabled_connector_run", connector=name, dry_run=dry_run)
    return run


def _known_projects(app: App, name: str) -> Callable[[Iterable[str]], set[str]]:
    """The connector's read-only look at the ledger's projects (`ConnectorContext.
    known_projects`): of the codes given, those a ledger project takes for source `name`, read
    in a session of its own (`ledger.queries.source_lines.unknown_projects`)."""

    def known(codes: Iterable[str]) -> set[str]:
        from pmo_ledger.ledger.queries.source_lines import unknown_projects

        wanted = set(codes)
        with app.sessions() as session:
            return wanted - set(unknown_projects(session, app.config.ledger, name, wanted))

    return known


class _Run:
    """One run's state: its connection (TEMP tables live there), lease, records and results."""

    def __init__(
        self,
        app: App,
        name: str,
        connector: Connector,
        lookback: Any,
        dry_run: bool,
        allow_mass_delete: bool,
    ) -> None:
        self.app, self.name, self.connector = app, name, connector
        self.settings = app.settings
        self.lookback = lookback
        self.dry_run, self.allow_mass_delete = dry_run, allow_mass_delete
        self.allow_disabled = False  # a disabled connector run by explicit override
        self.cancel = threading.Event()  # the caller's event is set by execute
        self.on_batch: Callable[[StreamResult], None] | None = None
        self.heartbeat: Heartbeat | None = None
        self.lease: Lease | None = None
        self.conn: Connection | None = None
        self.specs: list[StreamSpec] = []
        self.full = False
        self.since: date | None = None
        self.scope: str | None = None
        self.scope_kind: str | None = None
        self._ahead: _Ahead | None = None  # the next stream's read, opened early

    # --- what to read --------------------------------------------------------------------

    def select(
        self,
        full: bool,
        since: date | None,
        streams: list[str] | None,
        project: str | None,
        period: str | None,
    ) -> None:
        declared = self.connector.streams
        wanted = streams or list(declared)
        unknown = [s for s in wanted if s not in declared]
        if unknown:
            raise ConnectorConfigError(
                f"connector {self.name} has no stream {', '.join(unknown)} "
                f"(streams: {', '.join(declared)})"
            )
        if project and period:
            raise ConnectorConfigError("re-sync one scope at a time: --project or --period")
        self.scope_kind = "project" if project else "period" if period else None
        specs = [declared[s] for s in wanted]
        if self.scope_kind:
            specs = [s for s in specs if self.scope_kind in s.scopes]
            if not specs:
                raise ConnectorConfigError(
                    f"no stream of {self.name} can re-sync a {self.scope_kind}"
                )
        self.specs, self.full, self.since = specs, full, since
        self._project, self._period = project, period

    def _scope_key(self, session: Session) -> str | None:
        if self._period:
            return f"period:{self._period}"
        if self._project:
            # A ledger project code names the source's key through its project link.
            ref = session.scalar(
                select(ProjectLink.external_id)
                .join(Project, Project.id == ProjectLink.project_id)
                .where(
                    Project.code == self._project,
                    ProjectLink.source == self.name,
                    ProjectLink.object_type == "project",
                )
            )
            return f"project:{ref or self._project}"
        return None

    def _request(
        self, session: Session, spec: StreamSpec, stored: Cursor | None, scope: str | None
    ) -> ReadRequest:
        if scope:
            return ReadRequest(None, stored, scope)
        if self.full:
            return ReadRequest(None, stored, None)
        if self.since is not None:
            start = (
                Cursor("timestamp", datetime.combine(self.since, dtime(0), tzinfo=UTC))
                if spec.cursor == "timestamp"
                else Cursor("period", period_key(self.since.year, self.since.month))
            )
            return ReadRequest(start, stored, None)
        if spec.cursor == "period":
            first = PeriodIndex.load(session, self.settings.calendar.name).first_open()
            return ReadRequest(Cursor("period", first) if first else stored, stored, None)
        if stored is None:
            return ReadRequest(None, None, None)
        return ReadRequest(stored.minus(self.lookback), stored, None)

    # --- the run -------------------------------------------------------------------------

    def execute(self, lease: Lease | None, run_id: int | None) -> SyncResult:
        """Run the streams; `run_id` is the run row `start_sync` opened (None: a dry run)."""
        self.lease = lease
        with self.app.engine.connect() as conn:
            conn.execution_options(**WRITING)  # SQLite: each batch takes the write lock at BEGIN
            self.conn = conn
            recorder = RunRecorder(conn, self.name, self.dry_run)
            result = recorder.adopt(run_id)
            self._clear_seen()  # a pooled connection may hold another run's scope keys
            outer = conn.begin() if self.dry_run else None
            try:
                self._streams(result, recorder)
            finally:
                if outer is not None:
                    outer.rollback()
            self._clear_seen()  # and this run's, of a scope it left open, must not stay
            if not self.dry_run and result.status not in ("failed", "interrupted"):
                self._rebuild_aggregates()
            recorder.close(result)
        log.info(
            "sync_run_finished",
            connector=self.name,
            run_id=result.run_id,
            status=result.status,
            message=result.message,
        )
        return result

    def options(self) -> dict[str, Any]:
        return {
            "full": self.full,
            "since": self.since.isoformat() if self.since else None,
            "streams": [s.name for s in self.specs],
            "project": self._project,
            "period": self._period,
            "dry_run": self.dry_run,
            "allow_mass_delete": self.allow_mass_delete,
            "allow_disabled": self.allow_disabled,
        }

    def _streams(self, result: SyncResult, recorder: RunRecorder) -> None:
        try:
            self._each_stream(result, recorder)
        finally:
            self._drop_ahead()  # a read opened ahead for a stream the run does not get to

    def _each_stream(self, result: SyncResult, recorder: RunRecorder) -> None:
        finished = 0
        order = self._ordered(self.specs)
        for n, spec in enumerate(order):
            outcome = StreamResult(spec.name, run_id=result.run_id)
            result.streams.append(outcome)
            try:
                self._stream(spec, outcome, recorder, order[n + 1] if n + 1 < len(order) else None)
                finished += 1
            except SyncCancelled:
                outcome.fail("interrupted", "cancelled between two pages")
                result.finish(
                    "interrupted",
                    f"cancelled during stream {spec.name}; "
                    "the next run resumes from the last committed checkpoint",
                )
                return
            except LeaseLost as exc:
                outcome.fail("failed", str(exc))
                result.finish("failed", f"{exc}; this run's uncommitted batch was rolled back")
                result.lease_lost = True
                return
            except StreamTransientError as exc:
                # One stream's query ran too long: what it read is committed (`read` stops it
                # as a cancel would), it is retried next run, and the other streams go on.
                outcome.fail("partial", f"stopped early: {exc}; {_goes_on(outcome)}", exc.retry_at)
                result.retry_at = _earliest(result.retry_at, exc.retry_at)
                log.warning(
                    "sync_stream_stopped",
                    connector=self.name,
                    stream=spec.name,
                    error=str(exc),
                    retry_at=exc.retry_at.isoformat() if exc.retry_at else None,
                )
            except ConnectorTransientError as exc:
                # Partial even when nothing was read yet: what committed is consistent, the
                # checkpoints stay, and the next run goes on from them (exit 3, not 1).
                outcome.fail("partial", str(exc), exc.retry_at)
                result.retry_at = exc.retry_at
                result.finish(
                    "partial", f"stream {spec.name} stopped early: {exc}; {_goes_on(outcome)}"
                )
                return
            except StreamConfigError as exc:
                # One stream's object or field: that stream stops, the others go on.
                outcome.fail("failed", str(exc))
                log.warning(
                    "sync_stream_misconfigured",
                    connector=self.name,
                    stream=spec.name,
                    error=str(exc),
                )
            except ConnectorConfigError as exc:
                outcome.fail("failed", str(exc))
                result.finish("failed", f"connector {self.name} is misconfigured: {exc}")
                return
            except (SourceError, ConnectorError) as exc:
                outcome.fail("failed", f"source error: {exc}")
            except Exception as exc:  # the job boundary: record it, keep what committed
                # The run's message is read by `/runs` and webhooks: the cause only (no SQL,
                # no bound values); the whole error and its traceback go to the log.
                log.exception("sync_stream_crashed", connector=self.name, stream=spec.name,
                              run_id=result.run_id, error=str(exc))  # fmt: skip
                cause = short_cause(exc)
                outcome.fail("failed", f"unexpected error: {cause}")
                result.finish(
                    "partial" if finished else "failed",
                    f"stream {spec.name} failed: {cause}; the next run resumes from the last "
                    f"committed checkpoint (details in the log, run_id={result.run_id})",
                )
                return
            finally:
                if not self.dry_run:
                    recorder.stream(outcome)
        result.conclude()

    def _stream(
        self,
        spec: StreamSpec,
        outcome: StreamResult,
        recorder: RunRecorder,
        after: StreamSpec | None = None,
    ) -> None:
        """Read and write one stream; `after`: the stream the run reads next (its read may
        open while this one's last batch is written, `_read_ahead`)."""
        assert self.conn is not None
        ahead = self._ahead  # stays there until its pages are taken: `_streams` closes it
        if ahead is not None and ahead.spec.name != spec.name:
            self._drop_ahead()
            ahead = None
        opening = self._opening(spec, ahead.opening if ahead is not None else None)
        if ahead is not None and ahead.opening != opening:
            # What the stream before wrote changed how this one opens (e.g. the fiscal
            # periods its batch added): the read opened ahead is dropped, none of its pages
            # written, and the stream is read as it opens now.
            log.info("read_ahead_dropped", connector=self.name, stream=spec.name,
                     was=summary(ahead.opening.request.cursor),
                     now=summary(opening.request.cursor))  # fmt: skip
            self._drop_ahead()
            ahead = None
        fingerprint, state, request = opening.fingerprint, opening.state, opening.request
        stored, stored_fingerprint = state.checkpoint, state.fingerprint
        self.scope = opening.scope
        retired = self._retires(opening)
        outcome.checkpoint = stored
        committed, best = stored, stored
        pre_scope: Cursor | None = stored
        open_scopes: list[str] = []
        buffer = _Buffer()
        written = WrittenKeys()  # the keys this read writes, while its stream began empty
        # The stream's own scope, opened in this run while the stream held no line: every line
        # it will hold at the ScopeEnd is one this scope listed, so its keys are not recorded
        # and its end reverses nothing (`_opens_fresh`).
        fresh: set[str] = set()
        # Only a full read of the stream's own scope resumes (not a re-sync, not a retirement).
        resumable = not self.scope and not retired
        resume_at: Cursor | None = None  # the furthest Page.resume this read has reached
        read_key = opening.read_key
        # A cut-off full read of the stream waits: until a read of the stream's own scope ends
        # (or starts it over), the stream has not read to its end (`finished_at`).
        resume_waiting = _resumes(state, spec.name)
        if retired:
            # The configured object changed: read the new one in full, as one scope, and
            # reverse the old stream's lines it does not list (DESIGN.md, the contract).
            log.warning(
                "stream_retired",
                connector=self.name,
                stream=spec.name,
                was=stored_fingerprint,
                now=fingerprint,
            )
            request = ReadRequest(None, stored, None)
            open_scopes.append(spec.name)
            self._forget_seen(spec.name)
            committed = best = pre_scope = None  # the old object's cursor means nothing now
        elif resumable and not self.full and self.since is None and resume_waiting:
            resume_at = self._continue(spec.name, state, read_key)
            if resume_at is not None:
                request = replace(request, resume=resume_at)
                open_scopes.append(spec.name)  # the scope opened in an earlier run
            else:
                request = ReadRequest(None, stored, None)  # the full read starts over
                resume_waiting = False
        log.info(
            "sync_stream_started",
            connector=self.name,
            stream=spec.name,
            cursor=summary(request.cursor),
            scope=request.scope,
        )

        def flush(
            scope_end: ScopeEnd | None = None, *, stopping: bool = False, done: bool = False
        ) -> None:
            nonlocal committed, resume_waiting
            look_ahead()  # before a write: the read may have come to its end since the page
            store = best
            # A flush that only records the stream's end is not a batch for `on_batch`.
            batch = bool(buffer) or scope_end is not None or best != committed
            with self._tx() as session:
                if buffer:
                    result = apply_batch(
                        session,
                        self.settings,
                        self.name,
                        spec.name,
                        buffer.records,
                        buffer.deletions,
                        buffer.rejected,
                        run_id=outcome.run_id,
                        deletion_kind=spec.deletes,
                        open_scopes=[k for k in open_scopes if k not in fresh],
                        written=written,
                    )
                    outcome.stats.add(result.stats)
                if scope_end is not None and scope_end.key in open_scopes:
                    if scope_end.key in fresh:
                        fresh.discard(scope_end.key)  # nothing unseen to reverse
                    else:
                        store = self._end_scope(
                            session, spec, scope_end.key, outcome, pre_scope, best, retired
                        )
                    open_scopes.remove(scope_end.key)
                    if scope_end.key == spec.name:
                        resume_waiting = False
                        if not self.dry_run:
                            forget_resume(session, self.name, spec.name)
                # While a retirement's scope is open, sync_state stays the old object's (its
                # checkpoint and fingerprint): a run cut off before the ScopeEnd leaves the
                # stream retiring, and the next run reads the new object in full again. The
                # new fingerprint is stored in the transaction of the implicit ScopeEnd.
                retiring = retired and spec.name in open_scopes
                if not self.dry_run and not self.scope and store is not None and not retiring:
                    store_checkpoint(
                        session,
                        self.name,
                        spec.name,
                        checkpoint=store.to_json(),
                        run_id=outcome.run_id,
                        fingerprint=fingerprint,
                    )
                if stopping and resumable and resume_at and spec.name in open_scopes:
                    self._keep_resume(
                        session,
                        spec.name,
                        resume_at,
                        outcome,
                        fingerprint,
                        read_key,
                        from_lines=spec.name in fresh,
                    )
                if done and not self.dry_run and not self.scope:
                    store_checkpoint(
                        session,
                        self.name,
                        spec.name,
                        finished_at=utcnow(),
                        run_id=outcome.run_id,
                        fingerprint=fingerprint,
                    )
                if not self.dry_run:
                    recorder.stream(outcome, session.connection())
                    assert self.lease is not None
                    self.lease.confirm(session.connection())
                session.flush()
            buffer.clear()
            committed = store
            # What sync_state holds: a retirement still open keeps the old object's.
            outcome.checkpoint = stored if retired and spec.name in open_scopes else committed
            if self.on_batch and batch:
                self.on_batch(outcome)

        def stop() -> None:
            """The read stops early: commit its complete pages and keep where it can go on."""
            keep = resumable and resume_at is not None and spec.name in open_scopes
            if buffer or keep:
                flush(stopping=True)

        # The next pages are fetched while a batch is written (jobs/prefetch.py); the read
        # may have opened while the stream before was written (`_read_ahead`).
        if ahead is not None:
            assert not retired and resume_at is None  # `_read_ahead` opens no such read
            pages, self._ahead = ahead.pages, None
        else:
            pages = self._prefetch(spec, request)
        cancelled = False
        looked_ahead = after is None

        def look_ahead() -> None:
            """This read has come to its end (its pages may still wait on the queue): open
            the next stream's read, so its first pages come while this one's are written."""
            nonlocal looked_ahead
            if not looked_ahead and pages.read_to_end() and not self.cancel.is_set():
                looked_ahead = True
                self._read_ahead(after)

        # Smaller batches would update the aggregates inline (`aggregate_inline_max`), which
        # costs more per line than the rebuild a larger batch leaves for the run's end.
        idle_rows = max(self.settings.batch_rows // 10, self.settings.aggregate_inline_max, 1)

        def read() -> Iterator[Page]:
            try:
                yield from pages
            except Exception as exc:
                if cancelled:
                    # The page the producer was fetching when the cancel came failed: the
                    # run ends cancelled, as it would have without asking for that page.
                    log.warning("sync_read_failed_after_cancel", connector=self.name,
                                stream=spec.name, error=str(exc))  # fmt: skip
                    return
                if isinstance(exc, ConnectorError):
                    # Transient, a stream's config, the source's error: the read stops, but
                    # each page it yielded is complete. Commit them, and where a full read
                    # can go on.
                    stop()
                raise

        try:
            for page in read():
                look_ahead()
                if isinstance(page.scope, ScopeStart):
                    key = page.scope.key
                    if key not in open_scopes:
                        if buffer:
                            flush()
                        pre_scope = committed
                        open_scopes.append(key)
                        self._forget_seen(key)  # an earlier opening's keys are not this one's
                        if key == spec.name and self._opens_fresh(spec.name):
                            fresh.add(key)
                        if key == spec.name:
                            resume_at = None  # a new full read: an older one's position is void
                    elif page.scope.restarted:
                        # The connector could not continue the cut-off read: it starts over.
                        if buffer:
                            flush()
                        self._restart(spec.name, key)
                        # The lines the first part wrote are not all listed again: from here
                        # on the keys are recorded, and the end reverses what is not.
                        fresh.discard(key)
                        if key == spec.name:
                            resume_at, resume_waiting = None, False
                buffer.add(page)
                outcome.listed += len(page.records) + len(page.deletions) + len(page.rejected)
                if page.expected is not None:
                    outcome.expected = page.expected
                if page.checkpoint is not None:
                    best = self._advance(outcome, best, page.checkpoint)
                if page.resume is not None and spec.name in open_scopes:
                    resume_at = page.resume
                if isinstance(page.scope, ScopeEnd):
                    flush(page.scope)
                    if outcome.status == "partial":
                        return  # the mass-delete guard stopped this stream
                elif (
                    len(buffer) >= self.settings.batch_rows
                    or (buffer and time.monotonic() - buffer.started >= self.settings.batch_seconds)
                    # Read ahead and nothing fetched waits: write the batch while the source
                    # answers (a tenth of `batch_rows` at least; no page is split).
                    or (len(buffer) >= idle_rows and pages.idle())
                ):
                    flush()
                if self.cancel.is_set() and not cancelled:
                    # Cancelled between two pages: the producer asks for no further page;
                    # those it completed before (at most `prefetch_pages`) are written whole.
                    pages.stop()
                    cancelled = True
                elif self.heartbeat is not None and self.heartbeat.lost.is_set():
                    # (A cancel goes first, as before; every flush confirms the lease anyway.)
                    raise LeaseLost(f"the lease of {self.name} was lost (taken over or freed)")
            if pages.cut:
                cancelled = True  # the read stopped for the cancel before its next page
            if cancelled:
                stop()
                raise SyncCancelled()
        finally:
            pages.close()
        look_ahead()  # (read to its end: not cancelled, no error)
        if retired and spec.name in open_scopes:
            flush(ScopeEnd(spec.name))  # the implicit scope of a retirement ends with the read
        if not self.dry_run and not self.scope:
            # Read to its end: no scope of its own left open, no cut-off full read waiting.
            # `finished_at` then says so (the runner's order); a `--since` run while a full
            # read waits, or a read that never closed its scope, leaves it as it was.
            flush(done=spec.name not in open_scopes and not resume_waiting)
        elif buffer or best != committed:
            flush()
        if open_scopes:
            log.warning(
                "scope_not_finished", connector=self.name, stream=spec.name, scopes=open_scopes
            )
        outcome.status = "succeeded"

    def _opening(self, spec: StreamSpec, known: _Opening | None = None) -> _Opening:
        """How `spec`'s read opens now, read on the run's connection (reads only). `known`:
        the opening its read-ahead took, whose fingerprints are kept (they are the
        configuration's; the connector is not asked while that read uses it)."""
        assert self.conn is not None
        if known is not None:
            fingerprint, read_key = known.fingerprint, known.read_key
        else:
            fingerprint = self.connector.stream_fingerprint(spec.name)
            read_key = self._read_key(spec.name, fingerprint)
        with Session(bind=self.conn) as session:
            state = self._stored_state(session, spec.name)
            scope = self._scope_key(session)
            request = self._request(session, spec, state.checkpoint, scope)
        return _Opening(fingerprint, read_key, state, scope, request)

    @staticmethod
    def _retires(opening: _Opening) -> bool:
        """The stream's configured object changed since its state was stored (not in a
        re-sync of a scope): the old stream retires (see `_stream`)."""
        fingerprint, stored = opening.fingerprint, opening.state.fingerprint
        return (
            not opening.scope
            and fingerprint is not None
            and stored is not None
            and fingerprint != stored
        )

    def _prefetch(self, spec: StreamSpec, request: ReadRequest) -> Prefetch[Page]:
        return Prefetch(
            lambda: self.connector.extract(spec.name, request),
            self.settings.prefetch_pages if self.connector.reads_ahead else 0,
            self.cancel,
            name=f"prefetch-{self.name}-{spec.name}",
        )

    def _read_ahead(self, spec: StreamSpec | None) -> None:
        """Open the read of `spec`, the stream the run reads next, now: the stream before has
        read to its end (its producer no longer uses the connector) and writes its last
        batch, its ScopeEnd and its state, while `spec`'s producer fetches its first pages
        (up to `prefetch_pages`). Its pages are written only when the runner gets to it,
        after the stream before has committed; `_stream` then reads its opening again, and
        drops the read when the ledger says otherwise by then.

        Only where the stream opens with reads alone and nothing else depends on the order:
        a kind that reads ahead, a run of the streams' own scopes (not a dry run, not a
        re-sync of a project or period), not a retirement nor a cut-off full read to
        continue (both write before their first page). Else the stream opens in its turn."""
        if (
            spec is None
            or self._ahead is not None
            or self.dry_run
            or self.scope_kind
            or not self.connector.reads_ahead
            or self.settings.prefetch_pages <= 0
        ):
            return
        try:
            opening = self._opening(spec)
        except Exception as exc:  # noqa: BLE001 - the stream's own start raises it in its turn
            log.info("read_ahead_skipped", connector=self.name, stream=spec.name, error=str(exc))
            return
        continues = not self.full and self.since is None and _resumes(opening.state, spec.name)
        if opening.scope or self._retires(opening) or continues:
            return
        pages = self._prefetch(spec, opening.request)
        self._ahead = _Ahead(spec, opening, pages)
        pages.start()
        log.info("sync_stream_read_ahead", connector=self.name, stream=spec.name,
                 cursor=summary(opening.request.cursor))  # fmt: skip

    def _drop_ahead(self) -> None:
        """Close the read opened ahead (its producer stops within its current page and is
        joined): none of its pages is written."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.pages.close()

    def _advance(self, outcome: StreamResult, best: Cursor | None, checkpoint: Cursor) -> Cursor:
        """The furthest checkpoint: never lower than the one we have. A page below a checkpoint
        this run already reached is a regression of the source's order, logged once per stream
        (pages below the stored checkpoint are the lookback or a full re-read: expected)."""
        if best is not None and best.comparable(checkpoint) and checkpoint < best:
            outcome.regressions += 1
            reached = outcome.reached
            if reached is not None and reached.comparable(checkpoint) and checkpoint < reached:
                outcome.regressions_in_run += 1
            if outcome.regressions_in_run == 1:
                log.warning(
                    "checkpoint_regressed",
                    connector=self.name,
                    stream=outcome.stream,
                    have=best.to_json(),
                    got=checkpoint.to_json(),
                )
            return best
        outcome.reached = checkpoint
        return checkpoint

    def _end_scope(
        self,
        session: Session,
        spec: StreamSpec,
        key: str,
        outcome: StreamResult,
        pre_scope: Cursor | None,
        best: Cursor | None,
        retired: bool = False,
    ) -> Cursor | None:
        check, reversed_ = end_scope(
            session,
            self.settings,
            self.name,
            spec.name,
            key,
            run_id=outcome.run_id,
            # A retired stream's old lines are meant to go: the guard does not apply.
            allow_mass_delete=self.allow_mass_delete or (retired and key == spec.name),
            stats=outcome.stats,
        )
        forget_scope(session, key)
        outcome.reversed += reversed_
        if check.unseen and not reversed_:
            command = self._mass_delete_command(spec.name)
            outcome.fail(
                "partial",
                f"mass_delete_guard: scope {key} would reverse {check.unseen} of "
                f"{check.open_lines} lines, over the limit; nothing was reversed and the "
                f"checkpoint stays where it was. To apply it: {command}",
            )
            log.warning(
                "mass_delete_guard",
                connector=self.name,
                stream=spec.name,
                scope=key,
                unseen=check.unseen,
                open_lines=check.open_lines,
            )
            return pre_scope
        return best

    def _mass_delete_command(self, stream: str) -> str:
        parts = ["pmo-ledger"]
        if self.app.config_path is not None:
            parts += ["--config", str(self.app.config_path)]
        parts += ["sync", self.name, "--stream", stream]
        if self._project:
            parts += ["--project", self._project]
        elif self._period:
            parts += ["--period", self._period]
        else:
            parts.append("--full")
        return " ".join([*parts, "--allow-mass-delete"])

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        assert self.conn is not None
        tx = self.conn.begin_nested() if self.dry_run else self.conn.begin()
        with tx, Session(bind=self.conn, join_transaction_mode="create_savepoint") as session:
            yield session
            session.commit()  # releases the session's savepoint; `tx` commits (or rolls back)

    def _stored_state(self, session: Session, stream: str) -> _State:
        """The stream's stored checkpoint, the fingerprint it was read with, when it last read
        to its end and where an unfinished full read of it continues."""
        row = session.execute(
            select(
                SyncState.checkpoint,
                SyncState.config_hash,
                SyncState.finished_at,
                SyncState.resume,
            ).where(SyncState.connector == self.name, SyncState.stream == stream)
        ).first()
        if row is None:
            return _State()
        checkpoint = Cursor.from_json(row[0]) if row[0] else None
        return _State(checkpoint, row[1], row[2], row[3] or None)

    def _ordered(self, specs: list[StreamSpec]) -> list[StreamSpec]:
        """The streams furthest behind first: those that never read to their end (a first
        read, or one cut off every time), then the one whose last complete read is oldest;
        ties in declared order. A stream still goes after the selected streams it names in
        `StreamSpec.after`. A re-sync of a project or period keeps the declared order."""
        if self.scope_kind or len(specs) < 2:
            return specs
        assert self.conn is not None
        with Session(bind=self.conn) as session:
            done: dict[str, datetime | None] = dict(
                session.execute(
                    select(SyncState.stream, SyncState.finished_at).where(
                        SyncState.connector == self.name
                    )
                )
                .tuples()
                .all()
            )
        declared = {s.name: i for i, s in enumerate(specs)}
        by_name = {s.name: s for s in specs}
        never = datetime.min.replace(tzinfo=UTC)

        def behind(spec: StreamSpec) -> tuple[bool, datetime, int]:
            at = done.get(spec.name)
            return at is not None, at or never, declared[spec.name]

        order: list[StreamSpec] = []
        placing: set[str] = set()

        def place(spec: StreamSpec) -> None:
            if spec.name in placing:
                return  # placed, or a cycle of `after`: the furthest behind goes first
            placing.add(spec.name)
            for needed in sorted((by_name[d] for d in spec.after if d in by_name), key=behind):
                place(needed)
            order.append(spec)

        for spec in sorted(specs, key=behind):
            place(spec)
        return order

    def _read_key(self, stream: str, stream_fingerprint: str | None) -> str:
        """What a full read of `stream` is: the object it reads and what decides which rows
        it lists (`Connector.read_fingerprint`). Kept with a cut-off read's `resume`."""
        return fingerprint([stream_fingerprint, self.connector.read_fingerprint(stream)])

    def _continue(self, stream: str, state: _State, read_key: str) -> Cursor | None:
        """Take up the cut-off full read of `stream` kept in `state.resume`: the keys its
        parts listed become the scope's keys in `scope_seen`, and its position is returned.
        None when it cannot be continued: it was a read by other settings, its position is
        unreadable, or its keys are not all there (e.g. not renamed with the connector); then
        what it kept is dropped, `full_read_restarted` logged, and the read starts over."""
        resume = state.resume or {}
        kept = resume.get("listed")
        reason: str | None = None
        restored: int | None = None
        at: Cursor | None = None
        if resume.get("read") != read_key:
            reason = "the stream's settings changed since the read was cut off"
        else:
            try:
                at = Cursor.from_json(resume["token"])
            except (KeyError, TypeError, ValueError):
                reason = "its position cannot be read"
        with self._tx() as session:
            if reason is None:
                restored = restore_listed(session, self.name, stream, stream)
                if restored != kept:
                    reason = f"{restored} of the {kept} keys it listed are kept"
            if reason is not None:
                forget_scope(session, stream)
                if not self.dry_run:
                    forget_resume(session, self.name, stream)
        if reason is not None or at is None:
            log.warning(
                "full_read_restarted",
                connector=self.name,
                stream=stream,
                reason=reason,
                read_was=resume.get("read"),
                read_now=read_key,
            )
            return None
        log.info(
            "full_read_resumed",
            connector=self.name,
            stream=stream,
            listed=restored,
            resume=summary(at),
        )
        return at

    def _restart(self, stream: str, key: str) -> None:
        """The connector reads scope `key` again from its start (`ScopeStart.restarted`): the
        keys listed before, in this run or restored from earlier ones, no longer count."""
        with self._tx() as session:
            forget_scope(session, key)
            if key == stream and not self.dry_run:
                forget_resume(session, self.name, stream)
        log.warning(
            "full_read_restarted",
            connector=self.name,
            stream=stream,
            scope=key,
            reason="the connector could not continue it and reads it from the start",
        )

    def _opens_fresh(self, stream: str) -> bool:
        """Whether `stream` holds no line (deleted ones included) as its own scope opens.
        Then every line it holds at the ScopeEnd was written from a page of this scope (only
        this run writes its streams, under its lease; the batch before the ScopeStart is
        committed): none can be unseen, and `scope_seen` need not hold its keys."""
        with self._tx() as session:
            return not has_lines(session, self.name, stream)

    def _forget_seen(self, key: str) -> None:
        """Scope `key` opens: what `scope_seen` holds for it is an earlier opening's."""
        with self._tx() as session:
            forget_scope(session, key)

    def _clear_seen(self) -> None:
        """Empty `scope_seen` on the run's connection (at its start and end: it is pooled)."""
        assert self.conn is not None
        with self.conn.begin(), Session(bind=self.conn) as session:
            forget_all_scopes(session)

    def _keep_resume(
        self,
        session: Session,
        stream: str,
        resume_at: Cursor,
        outcome: StreamResult,
        fingerprint: str | None,
        read_key: str,
        *,
        from_lines: bool = False,
    ) -> None:
        """A full read of `stream` stops before its ScopeEnd: keep the keys it listed, where
        it continues and what read it is, in the transaction of its last batch. `from_lines`:
        the scope opened on an empty stream (`_opens_fresh`), its keys were not recorded: what
        it listed is every line the stream holds."""
        if self.dry_run:
            return
        listed = save_listed(session, self.name, stream, stream, from_lines=from_lines)
        resume = {
            "scope": stream,
            "token": resume_at.to_json(),
            "listed": listed,
            "read": read_key,
        }
        store_checkpoint(
            session,
            self.name,
            stream,
            resume=resume,
            run_id=outcome.run_id,
            fingerprint=fingerprint,
        )
        outcome.resume_kept = True
        log.info("full_read_kept", connector=self.name, stream=stream, listed=listed, resume=resume)

    def _rebuild_aggregates(self) -> None:
        with self.app.transaction() as session:
            if self.name in aggregates.stale_sources(session):
                aggregates.rebuild(session, self.name, now=utcnow())
                log.info("aggregates_rebuilt", connector=self.name)


def _goes_on(outcome: StreamResult) -> str:
    """How the next run takes up a stream that stopped early."""
    if outcome.resume_kept:
        return "the next run continues its full read where it stopped"
    return "the next run resumes from the last committed checkpoint"


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    """The sooner of two retry times (None: the source did not say)."""
    return min(a, b) if a is not None and b is not None else a or b


def _resumes(state: _State, stream: str) -> bool:
    """Whether an unfinished full read of the stream's own scope waits to be continued."""
    resume = state.resume
    return bool(resume and resume.get("scope") == stream and resume.get("token"))


__all__ = ["AlreadyRunning", "StartedSync", "StreamResult", "SyncResult", "run_sync", "start_sync"]
