"""The portfolio snapshot (issue 24): the figures the dashboard's portfolio page shows, per
project, as a live reconcile computed them for its status date, written in the reconcile's
transaction (ledger/reconcile/snapshot.py). One snapshot is kept: the latest live run's."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, PrimaryKeyConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pmo_ledger.ledger.models.base import Base, UtcDateTime
from pmo_ledger.ledger.types import Money


class PortfolioSnapshot(Base):
    """One live reconcile's snapshot: its number (`id`, one per run that wrote one), the status
    date and period its figures are at, when they were computed, the ledger's change markers
    read before the rules read the ledger (`markers`: the snapshot is true while they are
    unchanged) and a key of the settings the figures depend on (budget authority, calendar)."""

    __tablename__ = "portfolio_snapshot"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status_date: Mapped[date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(7))
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    markers: Mapped[list[Any]] = mapped_column(JSON)
    settings_key: Mapped[str] = mapped_column(String(64))


class PortfolioSnapshotRow(Base):
    """One project's figures in a snapshot: its current budget and counting actual cost (every
    period), and the earned value inputs at the status date (NULL: no baseline in force). EV is
    exact TEXT: BAC x percent / 100 has more places than a money column keeps."""

    __tablename__ = "portfolio_snapshot_row"
    __table_args__ = (PrimaryKeyConstraint("snapshot_id", "project_id"),)
    snapshot_id: Mapped[int] = mapped_column(ForeignKey("portfolio_snapshot.id"))
    project_id: Mapped[int] = mapped_column(Integer)
    budget: Mapped[Decimal] = mapped_column(Money())
    actual: Mapped[Decimal] = mapped_column(Money())
    bac: Mapped[Decimal | None] = mapped_column(Money())
    pv: Mapped[Decimal | None] = mapped_column(Money())
    ev: Mapped[str | None] = mapped_column(Text)
    ac: Mapped[Decimal | None] = mapped_column(Money())
