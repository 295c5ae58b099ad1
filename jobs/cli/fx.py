"""`pmo-ledger fx import FILE.csv | list [--currency C]`: manual exchange rates (rule 7)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from jobs.cli.common import (
    Group,
    app_of,
    console,
    group,
    ledger_reading,
    ledger_transaction,
    out,
    plural,
    table,
)
from ledger.fx_import import MANUAL_SOURCE, read_fx_csv
from ledger.queries import fx_rates
from ledger.writer import apply_batch


def groups() -> list[Group]:
    fx = group("fx", "Exchange rates.")
    fx.app.command("import")(import_csv)
    fx.app.command("list")(list_rates)
    return [fx]


def import_csv(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(help="CSV: from_ccy,to_ccy,valid_from,rate[,rate_type]", dir_okay=False),
    ],
) -> None:
    """Import rates as source 'manual'; waiting and open-period lines are converted."""
    settings = app_of(ctx).settings
    with ledger_transaction(ctx) as session:
        records = read_fx_csv(file, settings.rate_type)
        result = apply_batch(session, settings, MANUAL_SOURCE, "fx_import", records)
    converted, restated = result.fx.get("fx_convert", 0), result.fx.get("fx_restate", 0)
    outdated = result.fx.get("rate_outdated", 0)
    line = (
        f"imported {plural(len(records), 'rate')} from {file}; "
        f"{plural(converted, 'line')} converted, {restated} restated"
    )
    if outdated:
        line += f", {plural(outdated, 'line')} in closed periods kept their rate"
    out(line)
    if result.held:
        out(f"{plural(result.held, 'rate')} held in quarantine (see: pmo-ledger quarantine list)")
    if MANUAL_SOURCE not in settings.rate_sources:
        out(
            f'note: "{MANUAL_SOURCE}" is not in [ledger] rate_sources: '
            "these rates are stored but convert nothing"
        )


def list_rates(
    ctx: typer.Context,
    currency: Annotated[
        str | None, typer.Option("--currency", help="Only rates from or to this currency.")
    ] = None,
) -> None:
    """List stored rates, newest first."""
    with ledger_reading(ctx) as session:
        rates = fx_rates(session, currency.upper() if currency else None)
    if not rates:
        out("no exchange rates")
        return
    t = table(
        "Exchange rates",
        "source",
        "rate type",
        "from",
        "to",
        "valid from",
        "rate",
        numeric=("rate",),
    )
    for r in rates:
        t.add_row(
            r.source, r.rate_type, r.from_ccy, r.to_ccy, r.valid_from.isoformat(), str(r.rate)
        )
    console().print(t)
