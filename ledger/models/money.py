"""Actual lines, their append-only entries and the per-period aggregates (rules 1-3, 9, 12)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from pmo_ledger.ledger.models.base import Base, UtcDateTime
from pmo_ledger.ledger.types import Hours, Money, Rate

ENTRY_REASONS = ("insert", "restate", "reclass", "delete", "fx_convert", "fx_restate", "remap")
_REASON_CHECK = "reason IN (" + ",".join(f"'{r}'" for r in ENTRY_REASONS) + ")"


def _live_lines_index(name: str, *columns: str, where: str = "", sqlite: str = "") -> Index:
    """A partial index over live lines (`deleted_at IS NULL` and `where`): the reconcile rules
    scan it instead of the lines (migration 0006). SQLite uses a partial index only when the
    query repeats its terms, so its predicate is spelled as SQLAlchemy renders the rules' own
    (`counts_hours = 1`); `sqlite` overrides `where` there."""
    pg = " AND ".join(["deleted_at IS NULL", *([where] if where else [])])
    lite = " AND ".join(["deleted_at IS NULL", *([sqlite or where] if where else [])])
    return Index(name, *columns, postgresql_where=text(pg), sqlite_where=text(lite))


#: The partial indexes of `_live_lines_index`, by name: (columns, where, SQLite's where).
LIVE_LINE_INDEXES: dict[str, tuple[tuple[str, ...], str, str]] = {
    # Counting hours per resource and period (hours_overrun, under_utilization).
    "ix_actual_line_resource_hours": (
        ("resource_id", "period", "hours"),
        "counts_hours AND resource_id IS NOT NULL AND hours IS NOT NULL",
        "counts_hours = 1 AND resource_id IS NOT NULL AND hours IS NOT NULL",
    ),
    # Lines posted before, after or past a project's dates (data_quality).
    "ix_actual_line_project_posted_on": (("project_id", "posted_on"), "", ""),
    # Lines waiting for a rate, lines with negative hours (data_quality): few.
    "ix_actual_line_missing_fx": (
        ("project_id",),
        "amount IS NOT NULL AND base_amount IS NULL",
        "",
    ),
    "ix_actual_line_negative_hours": (("project_id",), "hours < 0", ""),
}


class ActualLine(Base):
    """The current version of one source record: money and/or hours (rule 9)."""

    __tablename__ = "actual_line"
    __table_args__ = (
        UniqueConstraint("source", "stream", "external_id"),
        CheckConstraint("kind IN ('cost','revenue')", name="kind"),
        Index(None, "project_id", "period"),
        Index(None, "source", "project_ref_type", "project_ref"),
        Index(None, "currency", "posted_on"),
        *(
            _live_lines_index(name, *cols, where=where, sqlite=lite)
            for name, (cols, where, lite) in LIVE_LINE_INDEXES.items()
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    project_ref_type: Mapped[str | None] = mapped_column(String(40))
    project_ref: Mapped[str | None] = mapped_column(String(255))
    task_ref: Mapped[str | None] = mapped_column(String(255))
    resource_ref: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    cost_type: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    posted_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Money())
    rate: Mapped[Decimal | None] = mapped_column(Rate())
    rate_valid_from: Mapped[date | None] = mapped_column(Date)
    fx_source: Mapped[str | None] = mapped_column(String(10))  # identity | rate | source
    stale_rate: Mapped[bool] = mapped_column(Boolean)
    rate_outdated: Mapped[bool] = mapped_column(Boolean)  # closed period kept its old rate
    base_amount: Mapped[Decimal | None] = mapped_column(Money())
    hours: Mapped[Decimal | None] = mapped_column(Hours())
    quantity: Mapped[Decimal | None] = mapped_column(Hours())
    uom: Mapped[str | None] = mapped_column(String(20))
    valuation_rate: Mapped[Decimal | None] = mapped_column(Rate())
    counts_amount: Mapped[bool] = mapped_column(Boolean)
    counts_hours: Mapped[bool] = mapped_column(Boolean)
    late: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str | None] = mapped_column(Text)
    source_modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    source_url: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    hash_version: Mapped[int] = mapped_column(SmallInteger)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deleted_reason: Mapped[str | None] = mapped_column(String(40))
    first_run_id: Mapped[int | None] = mapped_column(Integer)
    last_run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LedgerEntry(Base):
    """Append-only: every change to a line's money or hours, with the dimensions it affects."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        CheckConstraint(_REASON_CHECK, name="reason"),
        # No index on line_id: nothing reads a line's entries, and lines are never deleted
        # (migration 0017, the index audit of docs/benchmarks.md).
        Index(None, "project_id", "recorded_at"),
        Index(None, "recorded_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("actual_line.id"))
    source: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    task_id: Mapped[int | None] = mapped_column(Integer)
    resource_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    cost_type: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    posted_on: Mapped[date] = mapped_column(Date)
    currency: Mapped[str | None] = mapped_column(String(3))
    counts_amount: Mapped[bool] = mapped_column(Boolean)
    counts_hours: Mapped[bool] = mapped_column(Boolean)
    amount_delta: Mapped[Decimal | None] = mapped_column(Money())
    base_delta: Mapped[Decimal | None] = mapped_column(Money())
    hours_delta: Mapped[Decimal | None] = mapped_column(Hours())
    run_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(12))


class ActualPeriodTotal(Base):
    """Live counting totals per source, project, kind, cost type, period and counting flags."""

    __tablename__ = "actual_period_total"
    __table_args__ = (
        PrimaryKeyConstraint(
            "source", "project_id", "kind", "cost_type", "period", "counts_amount", "counts_hours"
        ),
    )
    source: Mapped[str] = mapped_column(String(100))
    project_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    cost_type: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    counts_amount: Mapped[bool] = mapped_column(Boolean)
    counts_hours: Mapped[bool] = mapped_column(Boolean)
    base_amount: Mapped[Decimal] = mapped_column(Money())
    hours: Mapped[Decimal] = mapped_column(Hours())
    lines: Mapped[int] = mapped_column(Integer)
    unconverted_lines: Mapped[int] = mapped_column(Integer)


class AggregateState(Base):
    """A source whose actual_period_total rows are stale until `ledger.aggregates.rebuild`."""

    __tablename__ = "aggregate_state"
    source: Mapped[str] = mapped_column(String(100), primary_key=True)
    stale_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    rebuilt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class RevenueForecast(Base):
    """An opportunity's expected revenue: never an actual (rule 11)."""

    __tablename__ = "revenue_forecast"
    __table_args__ = (UniqueConstraint("source", "stream", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    project_ref: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    stage: Mapped[str | None] = mapped_column(String(100))
    probability: Mapped[Decimal | None] = mapped_column(Hours())
    close_date: Mapped[date | None] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    weighted_amount: Mapped[Decimal] = mapped_column(Money())
    rate: Mapped[Decimal | None] = mapped_column(Rate())
    base_amount: Mapped[Decimal | None] = mapped_column(Money())
    base_weighted_amount: Mapped[Decimal | None] = mapped_column(Money())
    counts: Mapped[bool] = mapped_column(Boolean)
    source_modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    source_url: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProgressSnapshot(Base):
    """Percent complete of a project (task_id NULL) or task, appended whenever it changes."""

    __tablename__ = "progress_snapshot"
    __table_args__ = (Index(None, "project_id", "task_id", "status_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    status_date: Mapped[date] = mapped_column(Date)
    percent: Mapped[Decimal] = mapped_column(Hours())
    source: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
