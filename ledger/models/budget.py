"""Budget versions, their (phased) lines and the append-only budget history (rule 11)."""

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
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pmo_ledger.ledger.models.base import Base, UtcDateTime
from pmo_ledger.ledger.models.money import _REASON_CHECK
from pmo_ledger.ledger.types import Hours, Money, Rate


class BudgetVersion(Base):
    __tablename__ = "budget_version"
    __table_args__ = (
        UniqueConstraint("source", "stream", "external_id"),
        CheckConstraint("kind IN ('baseline','current','forecast','plan','released')", name="kind"),
        Index(None, "project_id", "kind", "effective_from"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    project_ref: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str | None] = mapped_column(String(255))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str | None] = mapped_column(String(40))
    effective_from: Mapped[date] = mapped_column(Date)
    superseded_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    planned_start: Mapped[date | None] = mapped_column(Date)
    planned_finish: Mapped[date | None] = mapped_column(Date)
    content_hash: Mapped[str] = mapped_column(String(64))
    source_modified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BudgetLine(Base):
    """One phased budget amount; `phasing` says how a period-less source line was spread."""

    __tablename__ = "budget_line"
    __table_args__ = (
        UniqueConstraint("version_id", "external_id"),
        Index(None, "project_id", "period"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("budget_version.id"))
    external_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    cost_type: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[Decimal] = mapped_column(Money())
    rate: Mapped[Decimal | None] = mapped_column(Rate())
    base_amount: Mapped[Decimal | None] = mapped_column(Money())
    hours: Mapped[Decimal | None] = mapped_column(Hours())
    phasing: Mapped[str] = mapped_column(String(10))  # source | lump | linear
    counts: Mapped[bool] = mapped_column(Boolean)
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BudgetEntry(Base):
    """Append-only history of budget lines, like ledger_entry for actuals."""

    __tablename__ = "budget_entry"
    __table_args__ = (
        CheckConstraint(_REASON_CHECK, name="reason"),
        Index(None, "budget_line_id"),
        Index(None, "project_id", "recorded_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    budget_line_id: Mapped[int] = mapped_column(ForeignKey("budget_line.id"))
    version_id: Mapped[int] = mapped_column(Integer)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    task_id: Mapped[int | None] = mapped_column(Integer)
    cost_type: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    currency: Mapped[str] = mapped_column(String(3))
    counts: Mapped[bool] = mapped_column(Boolean)
    amount_delta: Mapped[Decimal] = mapped_column(Money())
    base_delta: Mapped[Decimal | None] = mapped_column(Money())
    hours_delta: Mapped[Decimal | None] = mapped_column(Hours())
    run_id: Mapped[int | None] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str] = mapped_column(String(12))
