"""Mappings as `pmo-ledger map list`, `map list --unmapped`, `map rules test` and `report`
read them: explicit links and cost object maps, and the keys still waiting on UNMAPPED."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    ActualLine,
    CostObjectMap,
    Project,
    ProjectLink,
    Quarantine,
    Task,
)


@dataclass
class UnmappedKey:
    """Live lines waiting on UNMAPPED for one source key, with open 'unmapped' entries."""

    source: str
    object_type: str | None
    key: str | None
    lines: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)  # per currency
    hours: Decimal = Decimal(0)


class ProjectLinkRow(NamedTuple):
    source: str
    object_type: str
    external_id: str
    project_code: str
    origin: str


class CostObjectMapRow(NamedTuple):
    source: str
    object_type: str
    external_id: str
    project_code: str
    #: The task's WBS code, else its external id; None when the map names no task.
    task: str | None
    cost_type: str | None
    origin: str


class ExplicitMapping(NamedTuple):
    """Where an explicit mapping puts a source key: the project, the table holding it."""

    project_code: str
    table: str
    origin: str


def unmapped_keys(session: Session) -> list[UnmappedKey]:
    """The keys that no link, map or rule places, by source, object type and key."""
    al, q = ActualLine, Quarantine
    rows = session.execute(
        select(
            al.source,
            al.project_ref_type,
            al.project_ref,
            al.currency,
            func.count(),
            func.sum(al.amount),
            func.sum(al.hours),
        )
        .join(
            q,
            and_(q.source == al.source, q.stream == al.stream, q.external_id == al.external_id),
        )
        .where(
            q.status == "open",
            q.reason == "unmapped",
            al.project_id == UNMAPPED_ID,
            al.deleted_at.is_(None),
        )
        .group_by(al.source, al.project_ref_type, al.project_ref, al.currency)
        .order_by(al.source, al.project_ref_type, al.project_ref, al.currency)
    ).all()
    keys: dict[tuple[str, str | None, str | None], UnmappedKey] = {}
    for source, object_type, key, currency, lines, amount, hours in rows:
        item = keys.setdefault((source, object_type, key), UnmappedKey(source, object_type, key))
        item.lines += lines
        item.hours += hours or 0
        if currency is not None and amount is not None:
            item.amounts[currency] = item.amounts.get(currency, Decimal(0)) + amount
    return list(keys.values())


def project_links(session: Session) -> list[ProjectLinkRow]:
    """Every project link, by source, object type and key."""
    rows = session.execute(
        select(
            ProjectLink.source,
            ProjectLink.object_type,
            ProjectLink.external_id,
            Project.code,
            ProjectLink.origin,
        )
        .join(Project, Project.id == ProjectLink.project_id)
        .order_by(ProjectLink.source, ProjectLink.object_type, ProjectLink.external_id)
    )
    return [ProjectLinkRow(*row) for row in rows]


def cost_object_maps(session: Session) -> list[CostObjectMapRow]:
    """Every cost object map, by source, object type and key."""
    task = aliased(Task)
    rows = session.execute(
        select(
            CostObjectMap.source,
            CostObjectMap.object_type,
            CostObjectMap.external_id,
            Project.code,
            func.coalesce(task.wbs_code, task.external_id),
            CostObjectMap.cost_type,
            CostObjectMap.origin,
        )
        .join(Project, Project.id == CostObjectMap.project_id)
        .outerjoin(task, task.id == CostObjectMap.task_id)
        .order_by(CostObjectMap.source, CostObjectMap.object_type, CostObjectMap.external_id)
    )
    return [CostObjectMapRow(*row) for row in rows]


def explicit_mapping(
    session: Session, source: str, object_type: str, key: str
) -> ExplicitMapping | None:
    """The project link of a key, else its cost object map; None when neither exists."""
    for model in (ProjectLink, CostObjectMap):
        row = session.execute(
            select(Project.code, model.origin)
            .join(Project, Project.id == model.project_id)
            .where(
                model.source == source,
                model.object_type == object_type,
                model.external_id == key,
            )
        ).first()
        if row is not None:
            return ExplicitMapping(row[0], model.__tablename__, row[1])
    return None


def live_project_id(session: Session, code: str) -> int | None:
    """The id of the project `code` unless it is missing or merged into another."""
    return session.scalar(
        select(Project.id).where(Project.code == code, Project.merged_into_id.is_(None))
    )
