"""`pmo-ledger template budgets|plan --out FILE.xlsx` and `pmo-ledger import budgets|plan
FILE.xlsx [--dry-run] [--source NAME]`: Excel templates, and one workbook loaded at once
through the `excel` connector and the sync runner (docs/connectors/excel.md).

`import` reads the file with the configured excel connector's settings (`--source`, or the
only excel connector) as if it were that connector's whole path for one run of the streams
it names; the runner applies it exactly as a scheduled run would. `--dry-run` lists what
would be added, changed and reversed, with amounts, and runs the runner's dry run, which
rolls everything back: nothing is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from pmo_ledger.jobs.cli.common import Group, app_of, fail, group, ledger_reading, out, reported

if TYPE_CHECKING:
    from pmo_ledger.connectors.excel import ExcelConnector
    from pmo_ledger.jobs.app import App
    from pmo_ledger.ledger.records import Record, Rejected


class Kind(StrEnum):
    budgets = "budgets"
    plan = "plan"


#: The streams an import of each kind runs (projects first: the others point to them).
IMPORT_STREAMS = {
    Kind.budgets: ["projects", "budgets"],
    Kind.plan: ["projects", "tasks", "dependencies"],
}


def groups() -> list[Group]:
    template = group("template", "Write an Excel template for budgets or a plan.")
    template.app.command("budgets")(template_budgets)
    template.app.command("plan")(template_plan)
    load = group("import", "Load one Excel workbook of budgets or a plan into the ledger.")
    load.app.command("budgets")(import_budgets)
    load.app.command("plan")(import_plan)
    return [template, load]


# --- template --------------------------------------------------------------------------------

OutFile = Annotated[Path, typer.Option("--out", help="The .xlsx file to write.", dir_okay=False)]
SourceName = Annotated[
    str | None,
    typer.Option("--source", metavar="NAME", help="The excel connector (default: the only one)."),
]


def template_budgets(ctx: typer.Context, out_file: OutFile, source: SourceName = None) -> None:
    """Write the budgets template: a Budgets sheet with drop-down cost types and kinds, and
    an Instructions sheet."""
    _template(ctx, Kind.budgets, out_file, source)


def template_plan(ctx: typer.Context, out_file: OutFile, source: SourceName = None) -> None:
    """Write the plan template: Plan and Dependencies sheets (drop-down link types) and an
    Instructions sheet."""
    _template(ctx, Kind.plan, out_file, source)


def _template(ctx: typer.Context, kind: Kind, path: Path, source: str | None) -> None:
    from pmo_ledger.connectors.excel.settings import DEFAULT_COST_TYPES
    from pmo_ledger.connectors.excel.template import write_template

    app = app_of(ctx)
    if path.suffix.lower() != ".xlsx":
        raise fail(f"{path}: a template is an .xlsx file")
    names = _excel_connectors(app)
    cost_types: list[str] = list(DEFAULT_COST_TYPES)
    if source is not None or len(names) == 1:
        cost_types = list(_connector(app, source).config.cost_types)
    cost_types += [c for c in app.settings.labor_cost_types if c not in cost_types]
    with reported(app):
        write_template(path, kind.value, cost_types)
    out(f"wrote the {kind.value} template to {path} (cost types: {', '.join(cost_types)})")


# --- import ----------------------------------------------------------------------------------

WorkbookFile = Annotated[
    Path, typer.Argument(help="The .xlsx workbook.", exists=True, dir_okay=False)
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Show what would change, with amounts; write nothing.")
]


def import_budgets(
    ctx: typer.Context, file: WorkbookFile, dry_run: DryRun = False, source: SourceName = None
) -> None:
    """Load the Budgets sheet of one workbook: each version whole, a removed row reversed, a
    changed cell restated."""
    _import(ctx, Kind.budgets, file, dry_run, source)


def import_plan(
    ctx: typer.Context, file: WorkbookFile, dry_run: DryRun = False, source: SourceName = None
) -> None:
    """Load the Plan and Dependencies sheets of one workbook: tasks with their estimates and
    percent complete, and their links."""
    _import(ctx, Kind.plan, file, dry_run, source)


def _import(ctx: typer.Context, kind: Kind, file: Path, dry_run: bool, source: str | None) -> None:
    from pmo_ledger.connectors.errors import ConnectorError
    from pmo_ledger.connectors.excel.workbook import WorkbookError
    from pmo_ledger.jobs.cli.sync import EXIT_CODES, print_result
    from pmo_ledger.jobs.sync import AlreadyRunning, run_sync

    app = app_of(ctx)
    connector = _connector(app, source).for_file(file)
    try:
        book = connector.book(file.resolve())
    except WorkbookError as exc:
        raise fail(str(exc)) from None
    streams = IMPORT_STREAMS[kind]
    records, rejected = _read(connector, streams)
    problems = _problems(rejected)
    unknown = _unknown_projects(ctx, app, connector, book)
    for problem in problems:
        out(f"problem: {problem}")
    for project in unknown:
        out(
            f"unknown project: {project} (add a [[ledger.link_rules]] or `pmo-ledger map` it to a "
            "ledger project)"
        )
    if problems or unknown:
        count = len(problems) + len(unknown)
        raise fail(
            f"{file.name}: refused ({count} problem{'s' if count != 1 else ''}): a workbook "
            "loads whole or not at all; nothing of it was "
            + ("written (dry run)" if dry_run else "loaded")
        )
    if dry_run:
        _preview(ctx, app, connector, kind, records, rejected)
    with reported(app):
        try:
            result = run_sync(
                app, connector.name, streams=streams, dry_run=dry_run, connector=connector
            )
        except (AlreadyRunning, ConnectorError) as exc:
            raise fail(" ".join(str(exc).split())) from None
    print_result(result)
    code = EXIT_CODES.get(result.status, 1)
    if code:
        raise typer.Exit(code)


def _unknown_projects(
    ctx: typer.Context, app: App, connector: ExcelConnector, book: Any
) -> list[str]:
    """The project codes the file's sheets name that no ledger project takes (read-only:
    listed by a dry run too)."""
    from pmo_ledger.connectors.excel.read import file_reads
    from pmo_ledger.ledger.queries.source_lines import unknown_projects

    codes = [r.external_id for r in file_reads(connector, book)["projects"].records]
    with ledger_reading(ctx) as session:
        return unknown_projects(session, app.config.ledger, connector.name, codes)


def _excel_connectors(app: App) -> list[str]:
    return [name for name, cfg in app.config.connectors.items() if cfg.kind == "excel"]


def _connector(app: App, source: str | None) -> ExcelConnector:
    """The excel connector `source`, or the only one configured. Exits 2 otherwise."""
    from pmo_ledger.connectors.errors import ConnectorConfigError
    from pmo_ledger.connectors.excel import ExcelConnector

    names = _excel_connectors(app)
    if source is None:
        if len(names) != 1:
            found = ", ".join(names) or "none"
            typer.echo(
                "error: name the excel connector with --source "
                f'(configured: {found}; add [connectors.NAME] kind = "excel" and path = ...)',
                err=True,
            )
            raise typer.Exit(2)
        source = names[0]
    try:
        connector = app.connector(source)
    except ConnectorConfigError as exc:
        typer.echo(f"error: {' '.join(str(exc).split())}", err=True)
        raise typer.Exit(2) from None
    if not isinstance(connector, ExcelConnector):
        typer.echo(f"error: connector {source!r} is not of kind excel", err=True)
        raise typer.Exit(2)
    return connector


def _read(connector: ExcelConnector, streams: Sequence[str]) -> tuple[list[Record], list[Rejected]]:
    """The records and rejected rows the streams read from the file (no checkpoint: the
    deletions are not needed here)."""
    from pmo_ledger.connectors.base import ReadRequest

    records: list[Record] = []
    rejected: list[Rejected] = []
    for stream in streams:
        for page in connector.extract(stream, ReadRequest()):
            records += page.records
            rejected += page.rejected
    return records, rejected


def _problems(rejected: Sequence[Rejected]) -> list[str]:
    """Every problem the rejected rows name, once each, in the order read (a refused file's
    held records repeat its problems after their `refused` line, which is left out)."""
    from pmo_ledger.connectors.excel.read import REFUSED

    out_: dict[str, None] = {}
    for r in rejected:
        payload = r.payload if isinstance(r.payload, dict) else {}
        found = [str(p) for p in payload.get("problems", [])] or [f"{r.external_id}: {r.reason}"]
        out_.update((p, None) for p in found if not p.endswith(REFUSED))
    return list(out_)


def _preview(
    ctx: typer.Context,
    app: App,
    connector: ExcelConnector,
    kind: Kind,
    records: Sequence[Record],
    rejected: Sequence[Rejected],
) -> None:
    """Print what the import would add, change and reverse, line by line with amounts."""
    from pmo_ledger.ledger.queries.source_lines import live_budget_lines, live_links, live_tasks

    prefix = f"{Path(connector.config.path).stem}/"
    kept = {r.external_id for r in rejected if r.external_id}
    with ledger_reading(ctx) as session:
        if kind is Kind.budgets:
            stored: Any = live_budget_lines(session, connector.name, "budgets", prefix)
            lines = budget_changes(stored, records, kept)
        else:
            tasks = live_tasks(session, connector.name, prefix)
            links = live_links(session, connector.name, prefix)
            lines = plan_changes(tasks, links, records, kept)
    for line in lines:
        out(line)


# --- the dry run's line by line preview -------------------------------------------------------


def _money(amount: Decimal | None, currency: str) -> str:
    """An amount at its currency's minor unit, grouped (the ledger stores 4 places)."""
    from babel.numbers import get_currency_precision

    if amount is None:
        return "-"
    return f"{Decimal(amount).quantize(Decimal(1).scaleb(-get_currency_precision(currency))):,}"


def budget_changes(stored: Sequence[Any], records: Sequence[Record], kept: set[str]) -> list[str]:
    """Lines added, changed and reversed going from the ledger's live budget lines of the file
    (`LiveBudgetLine`s) to its versions now; a version quarantined now (`kept`) is left as it
    is. One line each: what, project, cost type, period, old -> new amount, currency and
    the version's label."""
    from pmo_ledger.ledger.records import BudgetRecord

    new: dict[tuple[str, str], tuple[str, str, str, Decimal, str]] = {}
    for r in records:
        if isinstance(r, BudgetRecord):
            for ln in r.lines:
                key = (r.external_id, ln.external_id)
                new[key] = (r.project_ref, ln.cost_type, ln.period or "", ln.amount, ln.currency)
    old = {(s.version_key, s.line_key): s for s in stored if s.version_key not in kept}
    rows: list[tuple[str, str, str, str, Decimal | None, Decimal | None, str, str]] = []
    for key, (project, cost_type, period, amount, currency) in new.items():
        before = old.get(key)
        if before is None:
            rows.append(("add", project, cost_type, period, None, amount, currency, _label(key)))
        elif (before.amount, before.currency, before.cost_type, before.period) != (
            amount, currency, cost_type, period
        ):  # fmt: skip
            rows.append(
                ("change", project, cost_type, period, before.amount, amount, currency, _label(key))
            )
    for key, s in old.items():
        if key not in new:
            rows.append(
                (
                    "reverse",
                    s.project,
                    s.cost_type,
                    s.period,
                    s.amount,
                    None,
                    s.currency,
                    _label(key),
                )
            )
    counts = {w: sum(1 for r in rows if r[0] == w) for w in ("add", "change", "reverse")}
    unchanged = len(new) - counts["add"] - counts["change"]
    head = (
        f"would add {counts['add']}, change {counts['change']} and reverse "
        f"{counts['reverse']} budget lines ({unchanged} unchanged"
        + (f"; {len(kept)} quarantined, kept as they are)" if kept else ")")
    )
    body = [
        f"  {what:<8} {project:<12} {cost_type:<12} {period:<8} "
        f"{_money(before, currency)} -> {_money(after, currency)} {currency} ({label})"
        for what, project, cost_type, period, before, after, currency, label in rows
    ]
    return [head, *body]


def _label(key: tuple[str, str]) -> str:
    """The version label of a (version key, line key): `<stem>/<project>/<label>`."""
    return key[0].split("/", 2)[-1]


def plan_changes(
    stored: Sequence[Any], links: Sequence[str], records: Sequence[Record], kept: set[str]
) -> list[str]:
    """Tasks and links added, changed (the fields that change, old -> new) and removed going
    from the ledger's live tasks (`LiveTask`s) and link keys of the file to its rows now."""
    from pmo_ledger.ledger.records import DependencyRecord, TaskRecord

    fields = ("name", "planned_start", "planned_finish", "optimistic_days", "most_likely_days",
              "pessimistic_days", "percent_complete")  # fmt: skip
    old = {t.key: t for t in stored if t.key not in kept}
    tasks = {r.external_id: r for r in records if isinstance(r, TaskRecord)}
    body: list[str] = []
    added = changed = 0
    for key, r in tasks.items():
        before = old.get(key)
        if before is None:
            added += 1
            body.append(f"  add      {r.project_ref:<12} {key}: {r.name}")
            continue
        diffs = [
            f"{f} {getattr(before, f)} -> {getattr(r, f)}"
            for f in fields
            if getattr(before, f) != getattr(r, f)
        ]
        if diffs:
            changed += 1
            body.append(f"  change   {r.project_ref:<12} {key}: {'; '.join(diffs)}")
    gone = [t for k, t in old.items() if k not in tasks]
    body += [f"  remove   {t.project:<12} {t.key}: {t.name}" for t in gone]
    new_links = {r.external_id for r in records if isinstance(r, DependencyRecord)}
    old_links = {k for k in links if k not in kept}
    body += [f"  add link    {k}" for k in sorted(new_links - old_links)]
    body += [f"  remove link {k}" for k in sorted(old_links - new_links)]
    head = (
        f"would add {added}, change {changed} and remove {len(gone)} tasks; add "
        f"{len(new_links - old_links)} and remove {len(old_links - new_links)} links"
    )
    return [head, *body]
