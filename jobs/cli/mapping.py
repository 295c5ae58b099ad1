"""`pmo-ledger map list [--unmapped] | add | remove | import FILE.csv | rules test SOURCE TYPE KEY`.

Explicit mappings (project_link for project-like keys, cost_object_map for WBS elements,
cost centers, orders...) win over link rules; after every change the lines whose placement
changed are re-pointed in the same transaction, and the command says what moved. `map add` and
`map remove` refuse a bad argument or an unknown mapping with one `error:` line, exit 2,
writing nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from pmo_ledger.jobs.cli.common import (
    Group,
    app_of,
    group,
    ledger_reading,
    ledger_transaction,
    out,
    plural,
    sub_typer,
    table,
)
from pmo_ledger.jobs.cli.format import line_fitted, plain_amounts, show, wrapped
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
    MappingCheck,
    MappingError,
    Move,
    add_mappings,
    match_rule,
    read_mapping_csv,
    remap,
    remap_moves,
    remove_mapping,
)


def groups() -> list[Group]:
    mapping = group("map", "Map source keys to ledger projects.")
    mapping.app.command("list")(list_mappings)
    mapping.app.command("add")(add)
    mapping.app.command("remove")(remove)
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
    show(t)
    out("map one with: pmo-ledger map add SOURCE OBJECT_TYPE KEY PROJECT_CODE")


def _print_mappings(links: list[ProjectLinkRow], maps: list[CostObjectMapRow]) -> None:
    _print_rows("Project links", links, ("project", "origin"))
    _print_rows("Cost object maps", maps, ("project", "task", "cost type", "origin"))


def _print_rows(
    title: str, rows: Sequence[tuple[str | None, ...]], columns: tuple[str, ...]
) -> None:
    if not rows:
        out(f"no {title.lower()}")
        return
    t = table(title, "source", "object type", "key", *columns)
    for row in rows:
        t.add_row(*(v or "" for v in row))
    show(t, narrow_drops=("origin",))  # narrow: how a mapping was made goes first


# --- writing ---------------------------------------------------------------------------------


def add(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Connector name.")],
    object_type: Annotated[str, typer.Argument(help="project, opportunity, wbs, cost_center...")],
    external_id: Annotated[str, typer.Argument(help="The source's key.")],
    project_code: Annotated[str, typer.Argument(help="Ledger project code (not UNMAPPED).")],
    task: Annotated[
        str | None, typer.Option("--task", help="Task external id or WBS code.")
    ] = None,
    cost_type: Annotated[
        str | None, typer.Option("--cost-type", help="Cost type the lines take.")
    ] = None,
) -> None:
    """Map one source key to a project (and task / cost type); re-point its lines.

    The source must be a configured connector, the object type one the ledger maps, the key
    non-empty, the cost type one the ledger knows and the project an existing one other than
    UNMAPPED: else one error line, exit 2, nothing written. A mapping replaces the key's
    earlier one; the lines that move are listed, from and to which project, with their amounts.
    """
    app = app_of(ctx)
    item = Mapping(source, object_type, external_id, project_code, task, cost_type)
    with ledger_transaction(ctx) as session, _refused():
        problem = MappingCheck(session, app.settings, app.config.connectors).problem(item)
        if problem is not None:
            raise MappingError(problem)
        add_mappings(session, [item], utcnow(), origin="manual")
        moves = remap_moves(
            session, app.settings, source, refs=[(source, object_type, external_id)]
        )
    target = project_code + (f" task {task}" if task else "")
    target += f" as {cost_type}" if cost_type else ""
    _moved(f"mapped {source} {object_type} {external_id} -> {target}", moves)


def remove(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Connector name.")],
    object_type: Annotated[str, typer.Argument(help="The mapping's object type.")],
    external_id: Annotated[str, typer.Argument(help="The source's key.")],
) -> None:
    """Remove a key's mapping (map add's or map import's); re-point its lines.

    The lines it placed go where the link rules put the key, else back to UNMAPPED (waiting
    again in `map list --unmapped`). A key with no such mapping is an error, exit 2.
    """
    app = app_of(ctx)
    with ledger_transaction(ctx) as session, _refused():
        table = remove_mapping(session, source, object_type, external_id)
        moves = remap_moves(
            session, app.settings, source, refs=[(source, object_type, external_id)]
        )
    _moved(f"removed the mapping of {source} {object_type} {external_id} ({table})", moves)


@contextmanager
def _refused() -> Iterator[None]:
    """A refused mapping: one `error:` line, exit 2 (the transaction rolls back)."""
    try:
        yield
    except MappingError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _moved(done: str, moves: list[Move]) -> None:
    """`done; N lines re-pointed`, then one line per move: from -> to, lines, amounts."""
    out(line_fitted(f"{done}; {plural(sum(m.lines for m in moves), 'line')} re-pointed"))
    for m in moves:
        amounts = f", {plain_amounts(m.amounts)}" if m.amounts else ""
        out(wrapped(f"  {m.from_code} -> {m.to_code}: ", f"{plural(m.lines, 'line')}{amounts}",
                    hang=4))  # fmt: skip


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
        items = read_mapping_csv(
            file, MappingCheck(session, app.settings, app.config.connectors).problem
        )
        add_mappings(session, items, utcnow(), origin="import")
        refs = [(m.source, m.object_type, m.external_id) for m in items]
        moved = remap(session, app.settings, refs=refs)
    out(line_fitted(
        f"imported {plural(len(items), 'mapping')} from {file}; {plural(moved, 'line')} re-pointed"
    ))  # fmt: skip


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
        out(line_fitted(
            f"{subject} is linked to {explicit.project_code} ({explicit.table}, "
            f"origin {explicit.origin}); link rules are not consulted"
        ))  # fmt: skip
    if hit is None:
        out(
            line_fitted(
                f"no link rule matches {subject}" + ("" if explicit else ": it stays unmapped")
            )
        )
        return
    index, code = hit
    pattern = app.settings.link_rules[index].pattern
    out(line_fitted(f"ledger.link_rules[{index}] (pattern {pattern!r}) gives {subject} -> {code}"))
    if not known:
        out(line_fitted(f"no project {code} in the ledger: the key stays unmapped until it exists"))
