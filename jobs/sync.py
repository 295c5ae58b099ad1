"""The sync runner: one connector's streams from the source into the ledger (rules 4-5).

`run_sync` takes the connector's lease, opens a `sync_run`, reads each stream from its
checkpoint minus the lookback (or the first open period), accumulates pages into batches
(`batch_rows`, `batch_seconds`, or a ScopeEnd) and commits each batch in one transaction with
its furthest checkpoint, the run's counters and `sync_run_stream` figures. Keys seen inside an
open scope go to the TEMP table `scope_seen` on the run's one connection; at ScopeEnd the
writer reverses what the scope did not list, unless the mass-delete guard stops it. Runs end
succeeded | partial | failed | interrupted | abandoned (DESIGN.md "Operations").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from connectors.base import (
    Connector,
    Cursor,
    Page,
    ReadRequest,
    ScopeEnd,
    ScopeStart,
    StreamSpec,
)
from connectors.errors import (
    ConnectorConfigError,
    ConnectorError,
    ConnectorTransientError,
    SourceError,
)
from jobs.app import App
from jobs.lease import Heartbeat, Held, Lease, LeaseLost, new_holder
from jobs.run_records import RunRecorder, StreamResult, SyncResult
from ledger import aggregates
from ledger.calendar import period_key
from ledger.db import WRITING
from ledger.models import Project, ProjectLink, SyncRun, SyncState, table_of, utcnow
from ledger.periods import PeriodIndex
from ledger.records import ActualRecord
from ledger.scopes import end_scope, forget_scope, record_seen
from ledger.upsert import upsert
from ledger.writer import apply_batch

log = structlog.get_logger(__name__)


class AlreadyRunning(RuntimeError):
    """The connector's lease is held: "already running: run N since HH:MM UTC"."""

    def __init__(self, held: Held) -> None:
        super().__init__(f"already running: {held}")
        self.run_id = held.run_id


class SyncCancelled(Exception):
    """The cancel event was set: the run stops between pages."""


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
) -> SyncResult:
    """Run one sync of connector `name`. Raises AlreadyRunning when its lease is held (no
    run row is written) and ConnectorConfigError for an unknown connector or bad settings."""
    if dry_run:
        run = _prepare(app, name, connector, allow_mass_delete, dry_run=True)
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
) -> StartedSync:
    """Take connector `name`'s lease and open its run row, ready to execute. Raises
    AlreadyRunning when the lease is held (no run row is written), ConnectorConfigError for an
    unknown connector, bad settings or a selection the connector cannot read."""
    run = _prepare(app, name, connector, allow_mass_delete, dry_run=False)
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
    app: App, name: str, connector: Connector | None, allow_mass_delete: bool, *, dry_run: bool
) -> _Run:
    cfg = app.config.connectors.get(name)
    if cfg is None:
        known = ", ".join(sorted(app.config.connectors)) or "none configured"
        raise ConnectorConfigError(f"unknown connector {name!r} (configured: {known})")
    if connector is None:
        connector = app.connector(name)
    return _Run(app, name, connector, cfg.lookback, dry_run, allow_mass_delete)


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

    def _request(self, session: Session, spec: StreamSpec, stored: Cursor | None) -> ReadRequest:
        if self.scope:
            return ReadRequest(None, stored, self.scope)
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
            outer = conn.begin() if self.dry_run else None
            try:
                self._streams(result, recorder)
            finally:
                if outer is not None:
                    outer.rollback()
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
        }

    def _streams(self, result: SyncResult, recorder: RunRecorder) -> None:
        finished = 0
        for spec in self.specs:
            outcome = StreamResult(spec.name, run_id=result.run_id)
            result.streams.append(outcome)
            try:
                self._stream(spec, outcome, recorder)
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
            except ConnectorTransientError as exc:
                outcome.fail("partial", str(exc), exc.retry_at)
                result.retry_at = exc.retry_at
                result.finish(
                    "partial" if finished or outcome.stats.read else "failed",
                    f"stream {spec.name} stopped early: {exc}; the next run resumes "
                    "from the last committed checkpoint",
                )
                return
            except ConnectorConfigError as exc:
                outcome.fail("failed", str(exc))
                result.finish("failed", f"connector {self.name} is misconfigured: {exc}")
                return
            except (SourceError, ConnectorError) as exc:
                outcome.fail("failed", f"source error: {exc}")
            except Exception as exc:  # the job boundary: record it, keep what committed
                log.exception("sync_stream_crashed", connector=self.name, stream=spec.name)
                outcome.fail("failed", f"unexpected error: {exc.__class__.__name__}: {exc}")
                result.finish(
                    "partial" if finished else "failed",
                    f"stream {spec.name} failed: {exc.__class__.__name__}: {exc}; the next run "
                    "resumes from the last committed checkpoint",
                )
                return
            finally:
                if not self.dry_run:
                    recorder.stream(outcome)
        result.conclude()

    def _stream(self, spec: StreamSpec, outcome: StreamResult, recorder: RunRecorder) -> None:
        assert self.conn is not None
        fingerprint = self.connector.stream_fingerprint(spec.name)
        with Session(bind=self.conn) as session:
            stored, stored_fingerprint = self._stored_state(session, spec.name)
            self.scope = self._scope_key(session)
            request = self._request(session, spec, stored)
        retired = (
            not self.scope
            and fingerprint is not None
            and stored_fingerprint is not None
            and fingerprint != stored_fingerprint
        )
        outcome.checkpoint = stored
        committed, best = stored, stored
        pre_scope: Cursor | None = stored
        open_scopes: list[str] = []
        buffer = _Buffer()
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
            committed = best = pre_scope = None  # the old object's cursor means nothing now
        log.info(
            "sync_stream_started",
            connector=self.name,
            stream=spec.name,
            cursor=request.cursor.to_json() if request.cursor else None,
            scope=request.scope,
        )

        def flush(scope_end: ScopeEnd | None = None) -> None:
            nonlocal committed
            store = best
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
                    )
                    outcome.stats.add(result.stats)
                    keys = [r.external_id for r in buffer.records if isinstance(r, ActualRecord)]
                    keys += [r.external_id for r in buffer.rejected if r.external_id]
                    for key in open_scopes:
                        record_seen(session, key, keys)
                if scope_end is not None and scope_end.key in open_scopes:
                    store = self._end_scope(
                        session, spec, scope_end.key, outcome, pre_scope, best, retired
                    )
                    open_scopes.remove(scope_end.key)
                if not self.dry_run and not self.scope and store is not None:
                    self._store_checkpoint(session, spec.name, store, outcome.run_id, fingerprint)
                if not self.dry_run:
                    recorder.stream(outcome, session.connection())
                    assert self.lease is not None
                    self.lease.confirm(session.connection())
                session.flush()
            buffer.clear()
            committed = store
            outcome.checkpoint = committed
            if self.on_batch:
                self.on_batch(outcome)

        for page in self.connector.extract(spec.name, request):
            if isinstance(page.scope, ScopeStart) and page.scope.key not in open_scopes:
                if buffer:
                    flush()
                pre_scope = committed
                open_scopes.append(page.scope.key)
            buffer.add(page)
            if page.checkpoint is not None:
                best = self._advance(outcome, best, page.checkpoint)
            if isinstance(page.scope, ScopeEnd):
                flush(page.scope)
                if outcome.status == "partial":
                    return  # the mass-delete guard stopped this stream
            elif len(buffer) >= self.settings.batch_rows or (
                buffer and time.monotonic() - buffer.started >= self.settings.batch_seconds
            ):
                flush()
            if self.cancel.is_set():
                if buffer:
                    flush()
                raise SyncCancelled()
            if self.heartbeat is not None and self.heartbeat.lost.is_set():
                raise LeaseLost(f"the lease of {self.name} was lost (taken over or freed)")
        if retired and spec.name in open_scopes:
            flush(ScopeEnd(spec.name))  # the implicit scope of a retirement ends with the read
        if buffer or best != committed:
            flush()
        if open_scopes:
            log.warning(
                "scope_not_finished", connector=self.name, stream=spec.name, scopes=open_scopes
            )
        outcome.status = "succeeded"

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

    def _stored_state(self, session: Session, stream: str) -> tuple[Cursor | None, str | None]:
        """The stream's stored checkpoint and the fingerprint it was read with."""
        row = session.execute(
            select(SyncState.checkpoint, SyncState.config_hash).where(
                SyncState.connector == self.name, SyncState.stream == stream
            )
        ).first()
        if row is None:
            return None, None
        return (Cursor.from_json(row[0]) if row[0] else None), row[1]

    def _store_checkpoint(
        self,
        session: Session,
        stream: str,
        cursor: Cursor,
        run_id: int | None,
        fingerprint: str | None,
    ) -> None:
        upsert(
            session,
            table_of(SyncState),
            [
                {
                    "connector": self.name,
                    "stream": stream,
                    "checkpoint": cursor.to_json(),
                    "config_hash": fingerprint,
                    "run_id": run_id,
                    "updated_at": utcnow(),
                }
            ],
            ["connector", "stream"],
            update=["checkpoint", "config_hash", "run_id", "updated_at"],
        )

    def _rebuild_aggregates(self) -> None:
        with self.app.transaction() as session:
            if self.name in aggregates.stale_sources(session):
                aggregates.rebuild(session, self.name, now=utcnow())
                log.info("aggregates_rebuilt", connector=self.name)


__all__ = ["AlreadyRunning", "StartedSync", "StreamResult", "SyncResult", "run_sync", "start_sync"]
