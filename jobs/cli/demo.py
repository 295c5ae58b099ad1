"""`pmo-ledger demo`: upgrade the database, load the sample portfolio in one transaction and
print budget vs actual per project, what waits unmapped and what does not count.

The portfolio comes from two sources (config/demo.toml names them): `psa` creates projects
and owns labor, hours and budgets; `erp` owns expenses. Loading twice changes nothing.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jobs.app import App
from jobs.cli.common import app_of, console, money, out, plural, reported, table
from jobs.cli.mapping import UnmappedKey, amounts_text, unmapped_keys
from jobs.demo import DemoLoad, default_portfolio, load_demo, read_portfolio, sources_of
from ledger import migrate
from ledger.models import UNMAPPED_CODE, UNMAPPED_ID, ActualLine
from ledger.queries import BudgetVsActual, budget_vs_actual
from ledger.resolve import Authority


def demo(
    ctx: typer.Context,
    portfolio: Annotated[
        Path | None,
        typer.Option(
            "--portfolio", help="Portfolio file (default: the bundled sample).", dir_okay=False
        ),
    ] = None,
) -> None:
    """Load a sample portfolio (PSA + ERP) and print budget vs actual."""
    app = app_of(ctx)
    with reported(app):
        batches = read_portfolio(portfolio or default_portfolio())
        missing = [s for s in sources_of(batches) if s not in app.config.connectors]
        if missing:
            raise ValueError(
                f"the demo loads data of {', '.join(missing)}: configure "
                f"{' and '.join(f'[connectors.{m}]' for m in missing)} (see config/demo.toml)"
            )
        migrate.upgrade(app.engine)
        with app.transaction() as session:
            loaded = load_demo(session, app.settings, batches)
        with app.reading() as session:
            rows = [r for r in budget_vs_actual(session) if r.project_code != UNMAPPED_CODE]
            unmapped = unmapped_keys(session)
            ignored = not_counted(session)
    _print_load(app, loaded)
    _print_budget_vs_actual(app, rows)
    _print_unmapped(app, unmapped)
    _print_authority(app, ignored)


NotCounted = tuple[str, str, str, int, Decimal]


def not_counted(session: Session) -> list[NotCounted]:
    """(source, kind, cost type, lines, base amount) of live money lines on projects that do
    not count (their source is not the authority for the line's measure)."""
    al = ActualLine
    return [
        (source, kind, cost_type, lines, total or Decimal(0))
        for source, kind, cost_type, lines, total in session.execute(
            select(al.source, al.kind, al.cost_type, func.count(), func.sum(al.base_amount))
            .where(
                al.deleted_at.is_(None),
                al.project_id != UNMAPPED_ID,
                al.counts_amount.is_(False),
                al.amount.is_not(None),
            )
            .group_by(al.source, al.kind, al.cost_type)
            .order_by(al.source, al.kind, al.cost_type)
        )
    ]


def _print_load(app: App, loaded: DemoLoad) -> None:
    out(
        f"Loaded the sample portfolio into {app.url} from {', '.join(loaded.sources)} "
        f"({plural(loaded.batches, 'batch', 'batches')}): {plural(loaded.read, 'record')} read, "
        f"{loaded.written} written, {loaded.unchanged} unchanged, {loaded.quarantined} quarantined"
    )


def _print_budget_vs_actual(app: App, rows: list[BudgetVsActual]) -> None:
    base = app.settings.base_currency
    t = table(
        f"Budget vs actual ({base})",
        "project",
        "name",
        "budget",
        "actual",
        "variance",
        "hours",
        numeric=("budget", "actual", "variance", "hours"),
    )
    for r in rows:
        t.add_row(
            r.project_code,
            r.project_name,
            money(r.budget),
            money(r.actual),
            money(r.variance),
            money(r.actual_hours),
        )
    total = [
        sum((getattr(r, f) for r in rows), Decimal(0))
        for f in ("budget", "actual", "variance", "actual_hours")
    ]
    t.add_section()
    t.add_row("total", "", *(money(v) for v in total))
    console().print(t)
    waiting = sum(r.unconverted_lines for r in rows)
    if waiting:
        out(
            f"{plural(waiting, 'line')} wait for an exchange rate and count 0 "
            "(run: pmo-ledger fx import FILE.csv)"
        )


def _command(app: App) -> str:
    return "pmo-ledger" + (f" --config {app.config_path}" if app.config_path else "")


def _print_unmapped(app: App, keys: list[UnmappedKey]) -> None:
    for k in keys:
        line = (
            f"Unmapped: {plural(k.lines, f'{k.source} posting')} ({amounts_text(k.amounts)}) "
            f"on {k.object_type or 'no'} {k.key or 'project'} "
            f"{'waits' if k.lines == 1 else 'wait'} on {UNMAPPED_CODE}, "
            "quarantined 'unmapped'"
        )
        if k.key:
            line += (
                f"; map with: {_command(app)} map add {k.source} {k.object_type} {k.key} "
                "PROJECT_CODE"
            )
        out(line)


def _print_authority(app: App, ignored: list[NotCounted]) -> None:
    auth = app.settings.authority
    owners = ", ".join(
        f"{measure} from {getattr(auth, measure)}"
        for measure in ("labor", "hours", "expense", "revenue", "budget")
        if getattr(auth, measure)
    )
    out(f"Only the authority's lines count ({owners}).")
    measure = Authority(app.settings).money_measure
    base = app.settings.base_currency
    for source, kind, cost_type, lines, total in ignored:
        out(
            f"Not counted: {plural(lines, f'{source} {cost_type} line')} "
            f"({money(total)} {base}): {source} is not the {measure(kind, cost_type)} authority"
        )
