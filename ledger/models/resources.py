"""People and their cost: resources, dated cost rates, capacity and planned allocations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pmo_ledger.ledger.models.base import Base, UtcDateTime
from pmo_ledger.ledger.types import Hours, Rate


class Resource(Base):
    __tablename__ = "resource"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean)
    content_hash: Mapped[str] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ResourceRate(Base):
    """A cost rate for one resource, or for a role when resource_id is NULL, from a date on."""

    __tablename__ = "resource_rate"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index(None, "resource_id", "effective_from"),
        Index(None, "role", "effective_from"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    role: Mapped[str | None] = mapped_column(String(100))
    effective_from: Mapped[date] = mapped_column(Date)
    cost_rate: Mapped[Decimal] = mapped_column(Rate())
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ResourceCapacity(Base):
    """Hours a resource can work in one fiscal period."""

    __tablename__ = "resource_capacity"
    __table_args__ = (UniqueConstraint("resource_id", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resource.id"))
    period: Mapped[str] = mapped_column(String(7))
    hours: Mapped[Decimal] = mapped_column(Hours())
    source: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Allocation(Base):
    """Planned hours of a resource on a project (and task) in a period."""

    __tablename__ = "allocation"
    __table_args__ = (
        UniqueConstraint("source", "stream", "external_id", "period"),
        Index(None, "resource_id", "period"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    stream: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resource.id"))
    role: Mapped[str | None] = mapped_column(String(100))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    period: Mapped[str] = mapped_column(String(7))
    planned_hours: Mapped[Decimal] = mapped_column(Hours())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
