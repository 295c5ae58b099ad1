"""`pmo-ledger fx import FILE.csv | list [--currency C]`: manual exchange rates (rule 7)."""

from __future__ import annotations

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
    table,
)
from pmo_ledger.jobs.cli.format import line_fitted, show
from pmo_ledger.ledger.fx.file_import import MANUAL_SOURCE, import_fx_csv
from pmo_ledger.ledger.queries.fx import fx_rates


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
    """Import rates as source 'manual'; waiting and open-period lines are converted.

    The file is imported whole or not at all: a bad row (a rate 8 decimal places cannot hold,
    10^10 or more, a valid_from before 1900 or over 50 years ahead, a rate from a currency to
    itself other than 1, a second rate for the same rate type, currencies and valid_from) or a
    row the database refuses stops it with one line naming the row (both rows for two rates),
    exit 1. The same rate twice is imported once; the summary counts the repeats skipped.
    """
    settings = app_of(ctx).settings
    with ledger_transaction(ctx) as session:
        imported = import_fx_csv(session, settings, file)
    result = imported.result
    converted, restated = result.fx.get("fx_convert", 0), result.fx.get("fx_restate", 0)
    outdated = result.fx.get("rate_outdated", 0)
    skipped = f" ({plural(imported.repeated, 'repeated row')} skipped)" if imported.repeated else ""
    line = (
        f"imported {plural(imported.rates, 'rate')} from {file}{skipped}; "
        f"{plural(converted, 'line')} converted, {restated} restated"
    )
    if outdated:
        line += f", {plural(outdated, 'line')} in closed periods kept their rate"
    out(line_fitted(line))
    if MANUAL_SOURCE not in settings.rate_sources:
        out(line_fitted(
            f'note: "{MANUAL_SOURCE}" is not in [ledger] rate_sources: '
            "these rates are stored but convert nothing"
        ))  # fmt: skip


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
    show(t, narrow_drops=("source",))
