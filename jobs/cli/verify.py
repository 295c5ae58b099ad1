"""`pmo-ledger verify NAME [--stream S]`: the source's control totals against the ledger.

Prints one row per project and currency that drifts (or every group with `--all-groups`) and a
status line; exit 0 when nothing drifts, 1 on an error, 4 when a stream drifts.
"""

from __future__ import annotations

from typing import Annotated

import typer

from connectors.errors import ConnectorError
from jobs.cli.common import app_of, console, fail, money, out, plural, reported, table
from jobs.cli.format import one_line
from jobs.verify import verify as run_verify

#: Exit status when the source and the ledger disagree.
DRIFT_EXIT = 4


def verify(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The connector ([connectors.NAME]).")],
    stream: Annotated[
        list[str] | None,
        typer.Option("--stream", metavar="S", help="Only this stream (repeatable)."),
    ] = None,
    all_groups: Annotated[
        bool, typer.Option("--all-groups", help="Show groups without drift too.")
    ] = False,
) -> None:
    """Compare the source's counts and amounts per project and currency with the ledger's
    lines of that source; store them in control_total (see v_sync_health)."""
    app = app_of(ctx)
    with reported(app):
        try:
            result = run_verify(app, name, stream)
        except ConnectorError as exc:
            raise fail(f"{name}: {type(exc).__name__}: {one_line(exc)}") from None
    t = table(
        None,
        "stream",
        "project",
        "currency",
        "source lines",
        "ledger lines",
        "source amount",
        "ledger amount",
        "drift",
        numeric=("source lines", "ledger lines", "source amount", "ledger amount", "drift"),
    )
    shown = 0
    for check in result.streams:
        for d in check.drifts if all_groups else check.drifted:
            shown += 1
            t.add_row(
                check.stream,
                result.codes.get(d.project_ref or "", d.project_ref or "(none)"),
                d.currency or "",
                str(d.source_count),
                str(d.ledger_count),
                money(d.source_amount),
                money(d.ledger_amount),
                money(d.amount_drift),
            )
    if shown:
        console().print(t)
    for check in result.streams:
        if check.skipped:
            if stream:  # asked for by name: say why it was not checked
                out(f"{check.stream}: not checked ({check.skipped})")
            continue
        drifted = check.drifted
        state = f"drift in {plural(len(drifted), 'group')}" if drifted else "no drift"
        out(f"{check.stream}: {plural(len(check.drifts), 'group')} checked, {state}")
    if result.drift:
        raise typer.Exit(DRIFT_EXIT)
