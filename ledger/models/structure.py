"""Portfolio structure: portfolios, programs, projects, source links, tasks, dependencies."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from pmo_ledger.ledger.models.base import Base, UtcDateTime
from pmo_ledger.ledger.types import Hours

#: Code of the built-in project that holds valid records no mapping could place (rule 5).
UNMAPPED_CODE = "UNMAPPED"
#: Its fixed primary key, created by the first migration.
UNMAPPED_ID = 0


#: project.condition's length (migration 0012).
CONDITION_LENGTH = 20


class Portfolio(Base):
    __tablename__ = "portfolio"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Program(Base):
    __tablename__ = "program"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    portfolio_id: Mapped[int | None] = mapped_column(ForeignKey("portfolio.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Project(Base):
    """A ledger project. Only the `projects` authority creates them (rule 8)."""

    __tablename__ = "project"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    portfolio_id: Mapped[int | None] = mapped_column(ForeignKey("portfolio.id"))
    program_id: Mapped[int | None] = mapped_column(ForeignKey("program.id"))
    status: Mapped[str | None] = mapped_column(String(40))
    # on_target | at_risk | in_trouble, or a source's own code (migration 0012)
    condition: Mapped[str | None] = mapped_column(String(CONDITION_LENGTH))
    currency: Mapped[str | None] = mapped_column(String(3))
    manager: Mapped[str | None] = mapped_column(String(255))
    planned_start: Mapped[date | None] = mapped_column(Date)
    planned_finish: Mapped[date | None] = mapped_column(Date)
    actual_start: Mapped[date | None] = mapped_column(Date)
    actual_finish: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    percent_complete: Mapped[Decimal | None] = mapped_column(Hours())
    source: Mapped[str | None] = mapped_column(String(100))
    external_id: Mapped[str | None] = mapped_column(String(255))
    source_url: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"))
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProjectLink(Base):
    """A source's project-like record (project, opportunity, WBS root...) -> a ledger project."""

    __tablename__ = "project_link"
    __table_args__ = (UniqueConstraint("source", "object_type", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    origin: Mapped[str] = mapped_column(String(20))  # authority | rule | manual | import
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class CostObjectMap(Base):
    """A cost object (WBS element, cost center, internal order...) mapped to a project and task."""

    __tablename__ = "cost_object_map"
    __table_args__ = (UniqueConstraint("source", "object_type", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    object_type: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    cost_type: Mapped[str | None] = mapped_column(String(40))
    origin: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Task(Base):
    """A WBS element or schedule task, with optional three-point estimates (days)."""

    __tablename__ = "task"
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    wbs_code: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(255))
    planned_start: Mapped[date | None] = mapped_column(Date)
    planned_finish: Mapped[date | None] = mapped_column(Date)
    actual_start: Mapped[date | None] = mapped_column(Date)
    actual_finish: Mapped[date | None] = mapped_column(Date)
    effort_hours: Mapped[Decimal | None] = mapped_column(Hours())
    percent_complete: Mapped[Decimal | None] = mapped_column(Hours())
    optimistic_days: Mapped[Decimal | None] = mapped_column(Hours())
    most_likely_days: Mapped[Decimal | None] = mapped_column(Hours())
    pessimistic_days: Mapped[Decimal | None] = mapped_column(Hours())
    source_url: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TaskDependency(Base):
    """A precedence link between two tasks: FS, SS, FF or SF with a lag in days."""

    __tablename__ = "task_dependency"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        CheckConstraint("dependency_type IN ('FS','SS','FF','SF')", name="dependency_type"),
        Index(None, "successor_id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    external_id: Mapped[str] = mapped_column(String(255))
    predecessor_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    successor_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    dependency_type: Mapped[str] = mapped_column(String(2))
    lag_days: Mapped[Decimal] = mapped_column(Hours())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
