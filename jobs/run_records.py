"""What a sync run records: `sync_run` (one row per run) and `sync_run_stream` (figures per
stream, rewritten with each committed batch), and the results handed back to the caller."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.engine import Connection

from pmo_ledger.connectors.base import Cursor
from pmo_ledger.ledger.models import SyncRun, SyncRunStream, table_of, utcnow
from pmo_ledger.ledger.upsert import insert_for_dialect
from pmo_ledger.ledger.write import ApplyStats

_srs = table_of(SyncRunStream)
#: A token longer than this is recorded and logged as a summary (`summary`).
TOKEN_SHOWN = 64


def summary(cursor: Cursor | None) -> dict[str, Any] | None:
    """A cursor as the run history and the log show it: as it is, except a token longer than
    TOKEN_SHOWN (a listing's keys, say), which becomes its start, length and SHA-256 prefix.
    The whole token stays in sync_state, where the next run reads it."""
    if cursor is None:
        return None
    if cursor.kind != "token" or len(str(cursor.value)) <= TOKEN_SHOWN:
        return cursor.to_json()
    text = str(cursor.value)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return {"kind": "token", "value": f"{text[:40]}… ({len(text)} chars, sha256 {digest})"}


@dataclass
class StreamResult:
    """One stream of a run: status, figures, the committed checkpoint, what went wrong."""

    stream: str
    run_id: int | None = None
    status: str = "running"
    stats: ApplyStats = field(default_factory=ApplyStats)
    reversed: int = 0
    checkpoint: Cursor | None = None
    message: str | None = None
    retry_at: datetime | None = None
    started_at: datetime = field(default_factory=utcnow)
    regressions: int = 0  # pages whose checkpoint was below the one the run had
    regressions_in_run: int = 0  # ... below one this run's own pages had reached
    reached: Cursor | None = None  # the furthest checkpoint this run's pages reached
    resume_kept: bool = False  # its full read stopped early and the next run continues it
    expected: int | None = None  # the rows the connector announced (`Page.expected`)
    listed: int = 0  # rows its pages yielded so far: records, deletions and rejections

    def fail(self, status: str, message: str, retry_at: datetime | None = None) -> None:
        self.status, self.message, self.retry_at = status, message, retry_at

    def amounts_json(self) -> dict[str, dict[str, str]]:
        return {o: {c: str(a) for c, a in per.items()} for o, per in self.stats.amounts.items()}

    def amount(self, outcome: str) -> dict[str, Decimal]:
        return dict(self.stats.amounts.get(outcome, {}))


@dataclass
class SyncResult:
    """A run's outcome: succeeded | partial | failed | interrupted (abandoned is set by the
    process that takes over an expired lease)."""

    run_id: int | None
    connector: str
    dry_run: bool = False
    status: str = "running"
    message: str = ""
    streams: list[StreamResult] = field(default_factory=list)
    retry_at: datetime | None = None
    lease_lost: bool = False

    def finish(self, status: str, message: str) -> None:
        self.status, self.message = status, message

    def conclude(self) -> None:
        """Status from the streams: all succeeded -> succeeded; some -> partial; none -> failed."""
        if self.status != "running":
            return
        done = [s for s in self.streams if s.status == "succeeded"]
        bad = [s for s in self.streams if s.status != "succeeded"]
        if not bad:
            read = sum(s.stats.read for s in self.streams)
            self.finish("succeeded", f"{len(done)} stream(s), {read} records read")
            return
        problems = "; ".join(f"{s.stream}: {s.message}" for s in bad)
        self.finish(
            "partial" if done or any(s.status == "partial" for s in bad) else "failed", problems
        )


class RunRecorder:
    """Writes the run's rows on the run's connection (nothing at all for a dry run)."""

    def __init__(self, conn: Connection, connector: str, dry_run: bool) -> None:
        self.conn, self.connector, self.dry_run = conn, connector, dry_run
        self.run_id: int | None = None

    def open(self, trigger: str, options: dict[str, Any], holder: str | None = None) -> SyncResult:
        """Insert the run row (`running`, by `holder`), in a transaction of its own."""
        if self.dry_run:
            return SyncResult(None, self.connector, dry_run=True)
        with self.conn.begin():
            self.run_id = self.conn.execute(
                insert(SyncRun)
                .values(
                    connector=self.connector,
                    status="running",
                    trigger=trigger,
                    options=options,
                    started_at=utcnow(),
                    holder=holder,
                )
                .returning(SyncRun.id)
            ).scalar_one()
        return SyncResult(self.run_id, self.connector)

    def adopt(self, run_id: int | None) -> SyncResult:
        """Record into a run row opened before (`open` on another connection); None: a dry
        run, which writes nothing."""
        if self.dry_run:
            return SyncResult(None, self.connector, dry_run=True)
        if run_id is None:
            raise ValueError("a run that writes needs its run row (start_sync opens it)")
        self.run_id = run_id
        return SyncResult(run_id, self.connector)

    def stream(self, outcome: StreamResult, conn: Connection | None = None) -> None:
        """Write the stream's figures: in `conn`'s open transaction, else in one of its own."""
        if self.dry_run or self.run_id is None:
            return
        row = {
            "run_id": self.run_id,
            "stream": outcome.stream,
            "status": outcome.status,
            "rows_read": outcome.stats.read,
            "rows_written": outcome.stats.written,
            "rows_unchanged": outcome.stats.unchanged,
            "rows_quarantined": outcome.stats.quarantined,
            "rows_deleted": outcome.stats.deleted,
            "amounts": outcome.amounts_json(),
            "checkpoint": summary(outcome.checkpoint),
            "error": outcome.message,
            "started_at": outcome.started_at,
            "finished_at": None if outcome.status == "running" else utcnow(),
        }
        target = conn or self.conn
        stmt = insert_for_dialect(target.dialect, _srs).values(**row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id", "stream"],
            set_={k: stmt.excluded[k] for k in row if k not in ("run_id", "stream", "started_at")},
        )
        if conn is not None:
            conn.execute(stmt)
        else:
            with self.conn.begin():
                self.conn.execute(stmt)

    def close(self, result: SyncResult) -> None:
        """Finish the run row unless another process already marked it (abandoned)."""
        if self.dry_run or self.run_id is None:
            return
        with self.conn.begin():
            self.conn.execute(
                update(SyncRun)
                .where(SyncRun.id == self.run_id, SyncRun.status == "running")
                .values(
                    status=result.status,
                    finished_at=utcnow(),
                    message=result.message,
                    retry_at=result.retry_at,
                )
            )
