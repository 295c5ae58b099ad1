"""Run bookkeeping: sync runs, per-stream figures, checkpoints, leases, control totals,
quarantine, reconciliation variances and their events."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from pmo_ledger.ledger.models.base import Base, UtcDateTime
from pmo_ledger.ledger.types import Hours, Money

RUN_STATUSES = ("running", "succeeded", "partial", "failed", "interrupted", "abandoned")


class SyncRun(Base):
    __tablename__ = "sync_run"
    __table_args__ = (
        CheckConstraint(
            "status IN (" + ",".join(f"'{s}'" for s in RUN_STATUSES) + ")", name="status"
        ),
        Index(None, "connector", "started_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    connector: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))
    trigger: Mapped[str] = mapped_column(String(20))  # schedule | manual | api | cli
    options: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    message: Mapped[str | None] = mapped_column(Text)
    holder: Mapped[str | None] = mapped_column(String(255))


class SyncRunStream(Base):
    __tablename__ = "sync_run_stream"
    __table_args__ = (PrimaryKeyConstraint("run_id", "stream"),)
    run_id: Mapped[int] = mapped_column(ForeignKey("sync_run.id"))
    stream: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_written: Mapped[int] = mapped_column(Integer)
    rows_unchanged: Mapped[int] = mapped_column(Integer)
    rows_quarantined: Mapped[int] = mapped_column(Integer)
    rows_deleted: Mapped[int] = mapped_column(Integer)
    amounts: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # per currency: read, written
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SyncState(Base):
    """The committed checkpoint of one connector stream (a `Cursor` as JSON), when the stream
    last read to its end (`finished_at`: the runner reads the streams furthest behind first),
    and where an unfinished full read of the stream continues (`resume`: its scope, the
    connector's `Page.resume` as `token`, `listed`: how many keys it kept in `scope_listed`,
    and `read`: a digest of what read it is; the runner continues it only when both match)."""

    __tablename__ = "sync_state"
    __table_args__ = (PrimaryKeyConstraint("connector", "stream"),)
    connector: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    config_hash: Mapped[str | None] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    resume: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ScopeListed(Base):
    """The keys an unfinished full read of a stream listed in the runs before this one (a
    resumed scope reverses only what none of its parts listed); emptied at its ScopeEnd."""

    __tablename__ = "scope_listed"
    __table_args__ = (PrimaryKeyConstraint("connector", "stream", "scope_key", "external_id"),)
    connector: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    scope_key: Mapped[str] = mapped_column(String(255))
    external_id: Mapped[str] = mapped_column(String(255))


class SyncLock(Base):
    """The lease of one connector (or '@reconcile'): free, held, or expired after lease_ttl."""

    __tablename__ = "sync_lock"
    connector: Mapped[str] = mapped_column(String(100), primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    holder: Mapped[str | None] = mapped_column(String(255))
    acquired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    pending: Mapped[bool] = mapped_column(default=False, server_default=text("false"))


class ControlTotal(Base):
    """Source aggregates against the ledger's for one check, stream, project and currency.

    A measure the check did not compare is NULL on both sides: amounts on an actual stream,
    the budget (the current version's lines) on a budget stream, hours where the source
    states them (`ledger.control_totals`)."""

    __tablename__ = "control_total"
    __table_args__ = (Index(None, "source", "stream", "checked_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int | None] = mapped_column(Integer)
    project_ref: Mapped[str | None] = mapped_column(String(255))
    currency: Mapped[str | None] = mapped_column(String(3))
    source_count: Mapped[int] = mapped_column(Integer)
    source_amount: Mapped[Decimal | None] = mapped_column(Money())
    ledger_count: Mapped[int] = mapped_column(Integer)
    ledger_amount: Mapped[Decimal | None] = mapped_column(Money())
    source_hours: Mapped[Decimal | None] = mapped_column(Hours())
    ledger_hours: Mapped[Decimal | None] = mapped_column(Hours())
    source_budget: Mapped[Decimal | None] = mapped_column(Money())
    ledger_budget: Mapped[Decimal | None] = mapped_column(Money())
    checked_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Quarantine(Base):
    """At most one open entry per (source, stream, external_id): what could not load, and why."""

    __tablename__ = "quarantine"
    __table_args__ = (
        CheckConstraint("status IN ('open','resolved')", name="status"),
        Index(
            "uq_quarantine_open_key",
            "source",
            "stream",
            "external_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index(None, "status", "reason"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    payload_kind: Mapped[str] = mapped_column(String(10))  # record | raw
    payload: Mapped[Any | None] = mapped_column(JSON)
    payload_hash: Mapped[str] = mapped_column(String(64))
    source_modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(10))
    resolution: Mapped[str | None] = mapped_column(String(40))
    run_id: Mapped[int | None] = mapped_column(Integer)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Variance(Base):
    """A reconciliation finding keyed by (rule, subject_type, subject_id, dimension, period)."""

    __tablename__ = "variance"
    __table_args__ = (
        UniqueConstraint("rule", "subject_type", "subject_id", "dimension", "period"),
        CheckConstraint("status IN ('open','acknowledged','resolved')", name="status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(40))
    subject_type: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(255))
    dimension: Mapped[str] = mapped_column(String(100))
    period: Mapped[str] = mapped_column(String(7))
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(14))
    message: Mapped[str | None] = mapped_column(Text)
    measures: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    thresholds: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    as_known_at: Mapped[datetime] = mapped_column(UtcDateTime())
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    reopened_count: Mapped[int] = mapped_column(Integer)
    #: The operator's note when acknowledging it.
    note: Mapped[str | None] = mapped_column(Text)
    #: The project it concerns (project subjects and project-level findings), for views.
    project_id: Mapped[int | None] = mapped_column(Integer, index=True)


#: What a `variance_event` records (docs/dashboard.md, "The history").
VARIANCE_EVENTS = (
    "opened", "updated", "escalated", "acknowledged", "resolved", "reopened", "carried",
)  # fmt: skip


class VarianceEvent(Base):
    """One step of a variance's life, appended in the transaction that made it (reconcile's
    lifecycle, an acknowledgement) and never updated or deleted: `variance` keeps the current
    state, this table when each step happened. `reconstructed`: written by migration 0015 from
    the variance's own timestamps (what the ledger knew before it kept events)."""

    __tablename__ = "variance_event"
    __table_args__ = (
        CheckConstraint(
            "event IN (" + ",".join(f"'{e}'" for e in VARIANCE_EVENTS) + ")", name="event"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: A variance deleted by hand (the ledger never deletes one) takes its events with it.
    variance_id: Mapped[int] = mapped_column(
        ForeignKey("variance.id", ondelete="CASCADE"), index=True
    )
    event: Mapped[str] = mapped_column(String(14))
    #: The reconcile run's `now`, or the acknowledgement's time (UTC).
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: The variance's severity and status after the event.
    severity: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(14))
    #: Who acknowledged (an acknowledgement, or the one a `carried` event hands on).
    acknowledged_by: Mapped[str | None] = mapped_column(String(255))
    #: The note given (acknowledged), or the variance carried to or from (carried).
    note: Mapped[str | None] = mapped_column(Text)
    #: The live reconcile that made the transition (numbered 1, 2, ... over the runs that
    #: wrote events); NULL for an acknowledgement and a reconstructed event.
    reconcile_run_id: Mapped[int | None] = mapped_column(Integer)
    reconstructed: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )
