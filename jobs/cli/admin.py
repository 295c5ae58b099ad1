"""Operator actions: `authority apply`, `rates apply --from DATE`, `project merge KEEP DROP`,
`connectors rename OLD NEW`. Each runs in one transaction and prints one summary line."""

from __future__ import annotations

from typing import Annotated

import typer

from jobs.cli.common import Group, app_of, group, ledger_transaction, out, plural
from ledger.admin import authority_apply, connectors_rename, project_merge, rates_apply
from ledger.dates import business_date


def groups() -> list[Group]:
    authority = group("authority", "Which source counts ([ledger.authority]).")
    authority.app.command("apply")(apply_authority)
    rates = group("rates", "Resource cost rates.")
    rates.app.command("apply")(apply_rates)
    project = group("project", "Ledger projects.")
    project.app.command("merge")(merge)
    connectors = group("connectors", "Connector names in the ledger.")
    connectors.app.command("rename")(rename)
    return [authority, rates, project, connectors]


def _counts(moved: dict[str, int]) -> str:
    return ", ".join(f"{table} {n}" for table, n in sorted(moved.items()) if n)


def apply_authority(ctx: typer.Context) -> None:
    """Re-evaluate which lines count after [ledger.authority] changed (reclass entries)."""
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
    config = app_of(ctx).config
    with ledger_transaction(ctx) as session:
        touched = connectors_rename(session, old, new)
    out(f"renamed connector {old} to {new}: {_counts(touched)}")
    if new not in config.connectors:
        out(f"now rename [connectors.{old}] to [connectors.{new}] in the configuration")
