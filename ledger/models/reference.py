"""Reference data the lines are valued and filed with: FX rates and fiscal periods (rules 7, 10)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pmo_ledger.ledger.models.base import Base, UtcDateTime
from pmo_ledger.ledger.types import Rate


class FxRate(Base):
    """A rate as the source stated it: 1 from_ccy = rate to_ccy from valid_from on."""

    __tablename__ = "fx_rate"
    __table_args__ = (UniqueConstraint("source", "rate_type", "from_ccy", "to_ccy", "valid_from"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    rate_type: Mapped[str] = mapped_column(String(40))
    from_ccy: Mapped[str] = mapped_column(String(3))
    to_ccy: Mapped[str] = mapped_column(String(3))
    valid_from: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Rate())
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FxRateDaily(Base):
    """fx_rate forward-filled to one row per day, so conversion is one equi-join."""

    __tablename__ = "fx_rate_daily"
    __table_args__ = (PrimaryKeyConstraint("source", "rate_type", "from_ccy", "to_ccy", "day"),)
    source: Mapped[str] = mapped_column(String(100))
    rate_type: Mapped[str] = mapped_column(String(40))
    from_ccy: Mapped[str] = mapped_column(String(3))
    to_ccy: Mapped[str] = mapped_column(String(3))
    day: Mapped[date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(Rate())
    valid_from: Mapped[date] = mapped_column(Date)


class FiscalPeriod(Base):
    """One period of the configured fiscal calendar; `period` is 'YYYY-PP'."""

    __tablename__ = "fiscal_period"
    __table_args__ = (
        UniqueConstraint("calendar", "period"),
        CheckConstraint("status IN ('open','closed')", name="status"),
        Index(None, "calendar", "start_on", "end_on"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    calendar: Mapped[str] = mapped_column(String(40))
    period: Mapped[str] = mapped_column(String(7))
    fiscal_year: Mapped[int] = mapped_column(Integer)
    period_no: Mapped[int] = mapped_column(SmallInteger)
    start_on: Mapped[date] = mapped_column(Date)
    end_on: Mapped[date] = mapped_column(Date)
    special: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(6))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
