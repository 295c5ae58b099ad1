"""A source's live budget lines, tasks and task links under a key prefix, as
`pmo-ledger import --dry-run` compares them with a workbook, and the project codes of a
source no ledger project takes (read-only)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import (
    BudgetLine,
    BudgetVersion,
    CostObjectMap,
    Project,
    ProjectLink,
    Task,
    TaskDependency,
)
from pmo_ledger.ledger.resolve import Authority, rule_project_code
from pmo_ledger.ledger.settings import LedgerSettings


@dataclass(frozen=True, slots=True)
class LiveBudgetLine:
    """A live line of a live budget version: keys, project code and money."""

    version_key: str
    line_key: str
    project: str
    cost_type: str
    period: str
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class LiveTask:
    key: str
    project: str
    name: str
    planned_start: date | None
    planned_finish: date | None
    optimistic_days: Decimal | None
    most_likely_days: Decimal | None
    pessimistic_days: Decimal | None
    percent_complete: Decimal | None


def live_budget_lines(
    session: Session, source: str, stream: str, prefix: str
) -> list[LiveBudgetLine]:
    """Live lines of `source`'s `stream` versions whose key starts with `prefix`."""
    q = (
        select(
            BudgetVersion.external_id,
            BudgetLine.external_id,
            Project.code,
            BudgetLine.cost_type,
            BudgetLine.period,
            BudgetLine.amount,
            BudgetLine.currency,
        )
        .join(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
        .join(Project, Project.id == BudgetLine.project_id)
        .where(
            BudgetVersion.source == source,
            BudgetVersion.stream == stream,
            BudgetVersion.external_id.startswith(prefix, autoescape=True),
            BudgetVersion.deleted_at.is_(None),
            BudgetLine.deleted_at.is_(None),
        )
        .order_by(BudgetVersion.external_id, BudgetLine.external_id)
    )
    return [LiveBudgetLine(*row) for row in session.execute(q).tuples()]


def live_tasks(session: Session, source: str, prefix: str) -> list[LiveTask]:
    """Live tasks of `source` whose key starts with `prefix`."""
    q = (
        select(
            Task.external_id,
            Project.code,
            Task.name,
            Task.planned_start,
            Task.planned_finish,
            Task.optimistic_days,
            Task.most_likely_days,
            Task.pessimistic_days,
            Task.percent_complete,
        )
        .join(Project, Project.id == Task.project_id)
        .where(
            Task.source == source,
            Task.external_id.startswith(prefix, autoescape=True),
            Task.deleted_at.is_(None),
        )
        .order_by(Task.external_id)
    )
    return [LiveTask(*row) for row in session.execute(q).tuples()]


def live_links(session: Session, source: str, prefix: str) -> list[str]:
    """Keys of `source`'s live task links that start with `prefix`."""
    q = (
        select(TaskDependency.external_id)
        .where(
            TaskDependency.source == source,
            TaskDependency.external_id.startswith(prefix, autoescape=True),
            TaskDependency.deleted_at.is_(None),
        )
        .order_by(TaskDependency.external_id)
    )
    return list(session.scalars(q))


def unknown_projects(
    session: Session, settings: LedgerSettings, source: str, codes: Iterable[str]
) -> list[str]:
    """The project `codes` of `source` no ledger project would take: none when `source` is
    the projects authority (it creates them); else those without a project link or cost
    object map of `source` and without a `[[ledger.link_rules]]` naming an existing project.
    The read-only twin of what the writer holds as 'unmapped_project'. Sorted."""
    wanted = set(codes)
    if not wanted or Authority(settings).creates_projects(source):
        return []
    linked = set(
        session.scalars(
            select(ProjectLink.external_id).where(
                ProjectLink.source == source,
                ProjectLink.object_type == "project",
                ProjectLink.external_id.in_(wanted),
            )
        )
    ) | set(
        session.scalars(
            select(CostObjectMap.external_id).where(
                CostObjectMap.source == source,
                CostObjectMap.object_type == "project",
                CostObjectMap.external_id.in_(wanted),
            )
        )
    )
    ruled: dict[str, str] = {}
    for code in sorted(wanted - linked):
        for rule in settings.link_rules:
            target = rule_project_code(rule, source, ("project", code))
            if target is not None:
                ruled[code] = target
                break
    existing = set(
        session.scalars(
            select(Project.code).where(
                Project.code.in_(set(ruled.values())), Project.merged_into_id.is_(None)
            )
        )
    )
    placed = linked | {code for code, target in ruled.items() if target in existing}
    return sorted(wanted - placed)
