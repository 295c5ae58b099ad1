"""`pmo-ledger map list [--unmapped] | add | import FILE.csv | rules test SOURCE TYPE KEY`.

Explicit mappings (project_link for project-like keys, cost_object_map for WBS elements,
cost centers, orders...) win over link rules; after every change the lines that waited on
UNMAPPED and now resolve are re-pointed in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from pmo_ledger.jobs.cli.common import (
    Group,
    app_of,
    console,
    group,
    ledger_reading,
    ledger_transaction,
    out,
    plural,
    sub_typer,
    table,
)
from pmo_ledger.jobs.cli.format import plain_amounts
from pmo_ledger.ledger.models import (
    UNMAPPED_ID,
    ActualLine,
    CostObjectMap,
    Project,
    ProjectLink,
    Quarantine,
    Task,
    utcnow,
)
from pmo_ledger.ledger.write import (
    Mapping,
    add_mappings,
    match_rule,
    read_mapping_csv,
    remap,
)


def groups() -> list[Group]:
    mapping = group("map", "Map source keys to ledger projects.")
    mapping.app.command("list")(list_mappings)
    mapping.app.command("add")(add)
    mapping.app.command("import")(import_csv)
    rules = sub_typer("Link rules ([[ledger.link_rules]]).")
    rules.command("test")(rules_test)
    mapping.app.add_typer(rules, name="rules")
    return [mapping]


# --- reading ---------------------------------------------------------------------------------


@dataclass
class UnmappedKey:
    """Live lines waiting on UNMAPPED for one source key, with open 'unmapped' entries."""

    source: str
    object_type: str | None
    key: str | None
    lines: int = 0
    amounts: dict[str, Decimal] = field(default_factory=dict)  # per currency
    hours: Decimal = Decimal(0)


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


def list_mappings(
    ctx: typer.Context,
    unmapped: Annotated[
        bool, typer.Option("--unmapped", help="Keys waiting on UNMAPPED instead.")
    ] = False,
) -> None:
    """List project links and cost object maps, or the keys still unmapped."""
    with ledger_reading(ctx) as session:
        if unmapped:
            _print_unmapped(unmapped_keys(session))
        else:
            _print_mappings(session)


def _print_unmapped(keys: list[UnmappedKey]) -> None:
    if not keys:
        out("no unmapped lines")
        return
    t = table(
        "Unmapped keys", "source", "object type", "key", "lines", "amount", numeric=("lines",)
    )
    for k in keys:
        t.add_row(
            k.source, k.object_type or "", k.key or "(none)", str(k.lines), plain_amounts(k.amounts)
        )
    console().print(t)
    out("map one with: pmo-ledger map add SOURCE OBJECT_TYPE KEY PROJECT_CODE")


def _print_mappings(session: Session) -> None:
    links = session.execute(
        select(
            ProjectLink.source,
            ProjectLink.object_type,
            ProjectLink.external_id,
            Project.code,
            ProjectLink.origin,
        )
        .join(Project, Project.id == ProjectLink.project_id)
        .order_by(ProjectLink.source, ProjectLink.object_type, ProjectLink.external_id)
    ).all()
    task = aliased(Task)
    maps = session.execute(
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
    ).all()
    c = console()
    for title, rows, columns in (
        ("Project links", links, ("project", "origin")),
        ("Cost object maps", maps, ("project", "task", "cost type", "origin")),
    ):
        if not rows:
            out(f"no {title.lower()}")
            continue
        t = table(title, "source", "object type", "key", *columns)
        for row in rows:
            t.add_row(*(v or "" for v in row))
        c.print(t)


# --- writing ---------------------------------------------------------------------------------


def add(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Connector name.")],
    object_type: Annotated[str, typer.Argument(help="project, opportunity, wbs, cost_center...")],
    external_id: Annotated[str, typer.Argument(help="The source's key.")],
    project_code: Annotated[str, typer.Argument(help="Ledger project code.")],
    task: Annotated[
        str | None, typer.Option("--task", help="Task external id or WBS code.")
    ] = None,
    cost_type: Annotated[
        str | None, typer.Option("--cost-type", help="Cost type the lines take.")
    ] = None,
) -> None:
    """Map one source key to a project (and task / cost type); re-point its waiting lines."""
    app = app_of(ctx)
    item = Mapping(source, object_type, external_id, project_code, task, cost_type)
    with ledger_transaction(ctx) as session:
        add_mappings(session, [item], utcnow(), origin="manual")
        moved = remap(session, app.settings, source, refs=[(source, object_type, external_id)])
    target = project_code + (f" task {task}" if task else "")
    target += f" as {cost_type}" if cost_type else ""
    out(
        f"mapped {source} {object_type} {external_id} -> {target}; "
        f"{plural(moved, 'line')} re-pointed"
    )


def import_csv(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV: source,object_type,external_id,project_code[,task,cost_type]",
            dir_okay=False,
        ),
    ],
) -> None:
    """Import mappings from a CSV file; re-point the lines that waited on them."""
    app = app_of(ctx)
    with ledger_transaction(ctx) as session:
        items = read_mapping_csv(file)
        add_mappings(session, items, utcnow(), origin="import")
        refs = [(m.source, m.object_type, m.external_id) for m in items]
        moved = remap(session, app.settings, refs=refs)
    out(f"imported {plural(len(items), 'mapping')} from {file}; {plural(moved, 'line')} re-pointed")


def rules_test(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Connector name.")],
    object_type: Annotated[str, typer.Argument(help="Source object type, e.g. wbs.")],
    key: Annotated[str, typer.Argument(help="The source's key.")],
) -> None:
    """Show where a source key would land: explicit mapping, link rule or UNMAPPED."""
    app = app_of(ctx)
    with ledger_reading(ctx) as session:
        explicit = _explicit(session, source, object_type, key)
        hit = match_rule(app.settings, source, object_type, key)
        known = hit is not None and session.scalar(
            select(Project.id).where(Project.code == hit[1], Project.merged_into_id.is_(None))
        )
    subject = f"{source} {object_type} {key}"
    if explicit:
        out(f"{subject} is linked to {explicit}; link rules are not consulted")
    if hit is None:
        out(f"no link rule matches {subject}" + ("" if explicit else ": it stays unmapped"))
        return
    index, code = hit
    pattern = app.settings.link_rules[index].pattern
    out(f"ledger.link_rules[{index}] (pattern {pattern!r}) gives {subject} -> {code}")
    if not known:
        out(f"no project {code} in the ledger: the key stays unmapped until it exists")


def _explicit(session: Session, source: str, object_type: str, key: str) -> str | None:
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
            return f"{row[0]} ({model.__tablename__}, origin {row[1]})"
    return None
