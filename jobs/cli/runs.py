"""`pmo-ledger runs [show ID]`: recent sync runs, and one run in full."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Annotated

import typer
from rich.table import Table

from pmo_ledger.connectors.base import Cursor
from pmo_ledger.jobs.cli.common import (
    Group,
    app_of,
    fail,
    ledger_reading,
    out,
    plural,
    reported,
    table,
)
from pmo_ledger.jobs.cli.format import (
    cursor_text,
    duration_text,
    grouped_money,
    n,
    one_line,
    options_text,
    show,
    truncate,
    when,
    wrapped,
)
from pmo_ledger.jobs.lease import LeaseHeld, unlock
from pmo_ledger.ledger.queries.runs import list_runs as listed_runs
from pmo_ledger.ledger.queries.runs import run_with_streams

#: Amount outcomes in the order an operator reads them.
OUTCOMES = ("read", "inserted", "restated", "unchanged", "deleted", "quarantined")


def groups() -> list[Group]:
    help_ = "Recent sync runs; `runs show ID` for one."
    runs = Group(
        "runs",
        help_,
        typer.Typer(help=help_, rich_markup_mode=None, no_args_is_help=False),
    )
    runs.app.callback(invoke_without_command=True)(list_runs)
    runs.app.command("show")(show_run)
    runs.app.command("unlock")(unlock_connector)
    return [runs]


def list_runs(
    ctx: typer.Context,
    connector: Annotated[
        str | None, typer.Option("--connector", metavar="NAME", help="Only this connector.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 20,
) -> None:
    """List recent sync runs, newest first, with rows summed over their streams."""
    if ctx.invoked_subcommand is not None:
        return
    with ledger_reading(ctx) as session:
        rows = listed_runs(session, connector=connector or None, limit=limit)
    if not rows:
        out(f"no runs of {connector}" if connector else "no runs")
        return
    numeric = ("id", "duration", "read", "written", "quarantined")
    t = table(
        "Sync runs",
        "id",
        "connector",
        "trigger",
        "status",
        "started (UTC)",
        "duration",
        "read",
        "written",
        "quarantined",
        "message",
        numeric=numeric,
    )
    for run in rows:
        t.add_row(
            str(run.id),
            run.connector,
            run.trigger,
            run.status,
            when(run.started_at),
            duration_text(run.finished_at - run.started_at) if run.finished_at else "",
            *map(n, (run.rows_read, run.rows_written, run.rows_quarantined)),
            truncate(one_line(run.message or "")),
        )
    show(t, narrow_drops=("trigger", "duration", "message"))
    out(plural(len(rows), "run"))


def show_run(
    ctx: typer.Context, run_id: Annotated[int, typer.Argument(metavar="ID", help="Run id.")]
) -> None:
    """Show one run: its header, per-stream figures, checkpoints, errors and amounts."""
    with ledger_reading(ctx) as session:
        run = run_with_streams(session, run_id)
    if run is None:
        raise fail(f"no run {run_id}")
    streams = run.streams
    out(f"run {run.id} of {run.connector}: {run.status}")
    out(f"trigger:  {run.trigger}")
    out(wrapped("options:  ", options_text(run.options or {})))
    out(f"started:  {when(run.started_at)} UTC")
    if run.finished_at:
        took = duration_text(run.finished_at - run.started_at)
        out(f"finished: {when(run.finished_at)} UTC ({took})")
    if run.retry_at:
        out(f"retry at: {when(run.retry_at)} UTC")
    if run.holder:
        out(f"holder:   {run.holder}")
    out(wrapped("message:  ", one_line(run.message or "")))
    if not streams:
        out("no stream figures")
        return
    t = table(
        None,
        "stream",
        "status",
        "read",
        "written",
        "unchanged",
        "quarantined",
        "deleted",
        "checkpoint",
        "error",
        numeric=("read", "written", "unchanged", "quarantined", "deleted"),
    )
    for s in streams:
        counts = (s.rows_read, s.rows_written, s.rows_unchanged, s.rows_quarantined, s.rows_deleted)
        t.add_row(
            s.stream,
            s.status,
            *map(n, counts),
            cursor_text(Cursor.from_json(s.checkpoint) if s.checkpoint else None),
            one_line(s.error or ""),
        )
    show(t, narrow_drops=("checkpoint",))
    amounts = [(s.stream, s.amounts) for s in streams if s.amounts]
    if amounts:
        show(amounts_table(amounts))


def _outcome_rank(outcome: str) -> tuple[int, str]:
    return (OUTCOMES.index(outcome) if outcome in OUTCOMES else len(OUTCOMES), outcome)


def amounts_table(per_stream: Sequence[tuple[str, Mapping[str, Mapping[str, str]]]]) -> Table:
    """Stream x outcome rows, one column per currency."""
    currencies = sorted({c for _, per in per_stream for amounts in per.values() for c in amounts})
    t = table("Amounts", "stream", "outcome", *currencies, numeric=tuple(currencies))
    for stream, per in per_stream:
        for outcome in sorted(per, key=_outcome_rank):
            cells = [per[outcome].get(c) for c in currencies]
            t.add_row(
                stream, outcome, *("" if v is None else grouped_money(Decimal(v)) for v in cells)
            )
    return t


def unlock_connector(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The connector (or @reconcile).")],
    force: Annotated[
        bool, typer.Option("--force", help="Free it even though its holder may be alive.")
    ] = False,
) -> None:
    """Free a stuck lease: its holder stopped without releasing it.

    Refused while the holder heartbeated within half of [ledger] lease_ttl (it may be alive)
    unless it is provably dead (PostgreSQL: its database session ended; SQLite: its process
    on this machine is gone; a run takes such a lease over by itself at once) or --force.
    The run that held it, if still marked running, becomes abandoned.
    """
    app = app_of(ctx)
    with reported(app):
        app.require_head()
        try:
            held = unlock(app.engine, name, app.settings.lease_ttl, force=force)
        except LeaseHeld as exc:
            raise fail(str(exc)) from None
    out(f"{name}: not locked" if held is None else f"{name}: unlocked ({held})")
