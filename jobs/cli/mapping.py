"""`pmo-ledger map list [--unmapped] | add | import FILE.csv | rules test SOURCE TYPE KEY`.

Explicit mappings (project_link for project-like keys, cost_object_map for WBS elements,
cost centers, orders...) win over link rules; after every change the lines that waited on
UNMAPPED and now resolve are re-pointed in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

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
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.queries.mappings import (
    CostObjectMapRow,
    ProjectLinkRow,
    UnmappedKey,
    cost_object_maps,
    explicit_mapping,
    live_project_id,
    project_links,
    unmapped_keys,
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
            _print_mappings(project_links(session), cost_object_maps(session))


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


def _print_mappings(links: list[ProjectLinkRow], maps: list[CostObjectMapRow]) -> None:
    c = console()
    _print_rows(c, "Project links", links, ("project", "origin"))
    _print_rows(c, "Cost object maps", maps, ("project", "task", "cost type", "origin"))


def _print_rows(
    c: Console, title: str, rows: Sequence[tuple[str | None, ...]], columns: tuple[str, ...]
) -> None:
    if not rows:
        out(f"no {title.lower()}")
        return
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
        explicit = explicit_mapping(session, source, object_type, key)
        hit = match_rule(app.settings, source, object_type, key)
        known = hit is not None and live_project_id(session, hit[1])
    subject = f"{source} {object_type} {key}"
    if explicit:
        out(
            f"{subject} is linked to {explicit.project_code} ({explicit.table}, "
            f"origin {explicit.origin}); link rules are not consulted"
        )
    if hit is None:
        out(f"no link rule matches {subject}" + ("" if explicit else ": it stays unmapped"))
        return
    index, code = hit
    pattern = app.settings.link_rules[index].pattern
    out(f"ledger.link_rules[{index}] (pattern {pattern!r}) gives {subject} -> {code}")
    if not known:
        out(f"no project {code} in the ledger: the key stays unmapped until it exists")
