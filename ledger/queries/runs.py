"""Sync runs: the list (`pmo-ledger runs`, `GET /runs`), one run with its streams
(`runs show`, `GET /runs/{id}`), and when a connector last ran (the scheduler)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import SyncRun, SyncRunStream

#: Runs that count for "overdue" and for "ran recently".
DONE = ("succeeded", "partial")


@dataclass(frozen=True, slots=True)
class Run:
    """A sync_run row."""

    id: int
    connector: str
    status: str
    trigger: str
    options: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime | None
    retry_at: datetime | None
    message: str | None
    holder: str | None


@dataclass(frozen=True, slots=True)
class ListedRun(Run):
    """A run with its rows summed over its streams (0 for a run without stream figures)."""

    rows_read: int
    rows_written: int
    rows_quarantined: int


@dataclass(frozen=True, slots=True)
class RunStream:
    """A sync_run_stream row: one stream's figures in one run."""

    stream: str
    status: str
    rows_read: int
    rows_written: int
    rows_unchanged: int
    rows_quarantined: int
    rows_deleted: int
    #: Per outcome ("read", "inserted", ...) and currency: exact decimal amounts as strings.
    amounts: dict[str, dict[str, str]] | None
    checkpoint: dict[str, Any] | None
    error: str | None
    started_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class RunWithStreams(Run):
    """A run and its streams, in the order they started (then by name)."""

    streams: tuple[RunStream, ...]


def _run_fields(run: SyncRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "connector": run.connector,
        "status": run.status,
        "trigger": run.trigger,
        "options": run.options,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "retry_at": run.retry_at,
        "message": run.message,
        "holder": run.holder,
    }


def list_runs(
    session: Session, *, limit: int, connector: str | None = None, status: str | None = None
) -> list[ListedRun]:
    """At most `limit` runs, newest first, of one connector and in one status when given.
    The stream totals are summed for those runs only (a service keeps every run)."""
    picked = select(SyncRun.id).order_by(SyncRun.id.desc()).limit(limit)
    if connector is not None:
        picked = picked.where(SyncRun.connector == connector)
    if status is not None:
        picked = picked.where(SyncRun.status == status)
    ids = picked.subquery()
    srs = SyncRunStream
    sums = (
        select(
            srs.run_id,
            func.sum(srs.rows_read).label("read"),
            func.sum(srs.rows_written).label("written"),
            func.sum(srs.rows_quarantined).label("quarantined"),
        )
        .where(srs.run_id.in_(select(ids.c.id)))
        .group_by(srs.run_id)
        .subquery()
    )
    query = (
        select(SyncRun, sums.c.read, sums.c.written, sums.c.quarantined)
        .join(ids, ids.c.id == SyncRun.id)
        .outerjoin(sums, sums.c.run_id == SyncRun.id)
        .order_by(SyncRun.id.desc())
    )
    return [
        ListedRun(
            **_run_fields(run),
            rows_read=int(read or 0),
            rows_written=int(written or 0),
            rows_quarantined=int(quarantined or 0),
        )
        for run, read, written, quarantined in session.execute(query)
    ]


def run_with_streams(session: Session, run_id: int) -> RunWithStreams | None:
    """The run `run_id` with its streams; None when there is no such run."""
    run = session.get(SyncRun, run_id)
    if run is None:
        return None
    streams = session.scalars(
        select(SyncRunStream)
        .where(SyncRunStream.run_id == run_id)
        .order_by(SyncRunStream.started_at, SyncRunStream.stream)
    )
    return RunWithStreams(
        **_run_fields(run),
        streams=tuple(
            RunStream(
                stream=s.stream,
                status=s.status,
                rows_read=s.rows_read,
                rows_written=s.rows_written,
                rows_unchanged=s.rows_unchanged,
                rows_quarantined=s.rows_quarantined,
                rows_deleted=s.rows_deleted,
                amounts=s.amounts,
                checkpoint=s.checkpoint,
                error=s.error,
                started_at=s.started_at,
                finished_at=s.finished_at,
            )
            for s in streams
        ),
    )


def last_done(session: Session, connector: str) -> datetime | None:
    """When the connector's last succeeded or partial run started."""
    return session.scalar(
        select(func.max(SyncRun.started_at)).where(
            SyncRun.connector == connector, SyncRun.status.in_(DONE)
        )
    )
