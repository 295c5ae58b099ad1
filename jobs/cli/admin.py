"""Operator actions: `authority apply`, `rates apply --from DATE`, `project merge KEEP DROP`,
`connectors rename OLD NEW`. Each runs in one transaction and prints one summary line.
`connectors` alone lists the installed connector kinds and the configured connectors; it uses
no database, so the ledger's modules are imported by the actions that use them (start-up,
issue 18 item 7)."""

from __future__ import annotations

from typing import Annotated

import typer

from pmo_ledger.connectors.errors import ConnectorConfigError
from pmo_ledger.connectors.registry import installed_kinds
from pmo_ledger.jobs.cli.common import (
    Group,
    app_of,
    console,
    fail,
    group,
    ledger_transaction,
    out,
    plural,
    table,
)


def groups() -> list[Group]:
    authority = group("authority", "Which source counts ([ledger.authority]).")
    authority.app.command("apply")(apply_authority)
    rates = group("rates", "Resource cost rates.")
    rates.app.command("apply")(apply_rates)
    project = group("project", "Ledger projects.")
    project.app.command("merge")(merge)
    help_ = "Connector kinds and configured connectors (listed without a subcommand)."
    connectors = Group(
        "connectors", help_, typer.Typer(help=help_, rich_markup_mode=None, no_args_is_help=False)
    )
    connectors.app.callback(invoke_without_command=True)(list_connectors)
    connectors.app.command("rename")(rename)
    return [authority, rates, project, connectors]


def _counts(moved: dict[str, int]) -> str:
    return ", ".join(f"{table} {n}" for table, n in sorted(moved.items()) if n)


def apply_authority(ctx: typer.Context) -> None:
    """Re-evaluate which lines count after [ledger.authority] changed (reclass entries)."""
    from pmo_ledger.ledger.admin import authority_apply

    settings = app_of(ctx).settings
    with ledger_transaction(ctx) as session:
        done = authority_apply(session, settings)
    out(
        f"authority applied: {plural(done['lines'], 'line')}, "
        f"{plural(done['budget_lines'], 'budget line')} and "
        f"{plural(done['forecasts'], 'forecast')} reclassified"
    )


def apply_rates(
    ctx: typer.Context,
    since: Annotated[
        str, typer.Option("--from", metavar="DATE", help="Re-value hours worked on or after.")
    ],
) -> None:
    """Re-value hours-only lines with the cost rates now in force."""
    from pmo_ledger.ledger.admin import rates_apply
    from pmo_ledger.ledger.time.dates import business_date

    settings = app_of(ctx).settings
    with ledger_transaction(ctx) as session:
        day = business_date(since)
        n = rates_apply(session, settings, day)
    out(f"re-valued {plural(n, 'line')} worked on or after {day}")


def merge(
    ctx: typer.Context,
    keep: Annotated[str, typer.Argument(help="Project code that stays.")],
    drop: Annotated[str, typer.Argument(help="Project code merged into KEEP.")],
) -> None:
    """Merge project DROP into KEEP: lines move with remap entries, DROP stays as a tombstone."""
    from pmo_ledger.ledger.admin import project_merge

    settings = app_of(ctx).settings
    with ledger_transaction(ctx) as session:
        moved = project_merge(session, settings, keep, drop)
    lines, budget = moved.pop("lines", 0), moved.pop("budget_lines", 0)
    rest = _counts(moved)
    out(
        f"merged {drop} into {keep}: {plural(lines, 'line')} and "
        f"{plural(budget, 'budget line')} moved" + (f"; also moved: {rest}" if rest else "")
    )


def rename(
    ctx: typer.Context,
    old: Annotated[str, typer.Argument(help="Current connector name.")],
    new: Annotated[str, typer.Argument(help="New connector name.")],
) -> None:
    """Rewrite every ledger key that names connector OLD to NEW, in one transaction."""
    from pmo_ledger.ledger.admin import connectors_rename

    config = app_of(ctx).config
    with ledger_transaction(ctx) as session:
        touched = connectors_rename(session, old, new)
    out(f"renamed connector {old} to {new}: {_counts(touched)}")
    if new not in config.connectors:
        out(f"now rename [connectors.{old}] to [connectors.{new}] in the configuration")


def list_connectors(ctx: typer.Context) -> None:
    """List the installed connector kinds and the configured connectors."""
    if ctx.invoked_subcommand is not None:
        return
    config = app_of(ctx).config
    try:
        kinds = installed_kinds()
    except ConnectorConfigError as exc:
        raise fail(str(exc)) from None
    c = console()
    installed = table("Installed kinds", "kind", "class", "streams")
    for kind, cls in sorted(kinds.items()):
        installed.add_row(kind, f"{cls.__module__}:{cls.__qualname__}", ", ".join(cls.streams))
    if kinds:
        c.print(installed)
    else:
        out("no connector kind is installed")
    if not config.connectors:
        out("no connector is configured")
        return
    configured = table("Configured connectors", "name", "kind", "schedule", "enabled")
    for name, cfg in config.connectors.items():
        kind = cfg.kind if cfg.kind in kinds else f"{cfg.kind} (not installed)"
        configured.add_row(name, kind, cfg.schedule or "manual", "yes" if cfg.enabled else "no")
    c.print(configured)
