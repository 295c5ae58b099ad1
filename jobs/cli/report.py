"""`pmo-ledger report`: budget vs actual per project, what waits on UNMAPPED and what does not
count because another source is the authority (also printed by `demo`)."""

from __future__ import annotations

from decimal import Decimal

import typer
from rich.table import Table

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.cli.common import app_of, money, out, plural, reported, table
from pmo_ledger.jobs.cli.format import line_fitted, plain_amounts, show, too_wide, wrapped
from pmo_ledger.ledger.models import UNMAPPED_CODE
from pmo_ledger.ledger.queries.mappings import UnmappedKey
from pmo_ledger.ledger.queries.reports import (
    BudgetReport,
    BudgetVsActual,
    NotCounted,
    budget_report,
)
from pmo_ledger.ledger.resolve import Authority


def report(ctx: typer.Context) -> None:
    """Print budget vs actual per project (counting values only), unmapped postings and the
    lines another source's authority keeps from counting."""
    app = app_of(ctx)
    with reported(app):
        app.require_head()
        with app.reading() as session:
            data = budget_report(session)
    print_budget_report(app, data)


def print_budget_report(app: App, data: BudgetReport) -> None:
    print_budget_vs_actual(app, data.rows, data.released)
    print_unmapped(app, data.unmapped)
    print_authority(app, data.ignored)


def print_budget_vs_actual(
    app: App, rows: list[BudgetVsActual], released: dict[str, Decimal] | None = None
) -> None:
    """The table; where it must fit a narrower width, each project's name goes under its
    code, so the amounts keep their whole width. A `released` column (the released budget,
    never part of the budget) when a source states one for some project."""
    total = [
        sum((getattr(r, f) for r in rows), Decimal(0))
        for f in ("budget", "actual", "variance", "actual_hours")
    ]
    t = _budget_table(app, rows, total, released or {}, stacked=False)
    if too_wide(t):
        t = _budget_table(app, rows, total, released or {}, stacked=True)
    show(t)
    waiting = sum(r.unconverted_lines for r in rows)
    if waiting:
        out(line_fitted(
            f"{plural(waiting, 'line')} wait for an exchange rate and count 0 "
            "(run: pmo-ledger fx import FILE.csv)"
        ))  # fmt: skip


def _budget_table(
    app: App,
    rows: list[BudgetVsActual],
    total: list[Decimal],
    released: dict[str, Decimal],
    *,
    stacked: bool,
) -> Table:
    numbers = ("budget", *(("released",) if released else ()), "actual", "variance", "hours")
    names = ("project",) if stacked else ("project", "name")
    t = table(f"Budget vs actual ({app.settings.base_currency})", *names, *numbers,
              numeric=numbers)  # fmt: skip

    def figures(budget: Decimal, rel: Decimal | None, rest: list[Decimal]) -> list[str]:
        shown = [money(budget), *([money(rel)] if released else [])]
        return shown + [money(v) for v in rest]

    for r in rows:
        project = (f"{r.project_code}\n{r.project_name}",) if stacked else (
            r.project_code, r.project_name
        )  # fmt: skip
        rest = [r.actual, r.variance, r.actual_hours]
        t.add_row(*project, *figures(r.budget, released.get(r.project_code), rest))
    t.add_section()
    all_released = sum(released.values(), Decimal(0))
    t.add_row("total", *(() if stacked else ("",)), *figures(total[0], all_released, total[1:]))
    return t


def command_prefix(app: App) -> str:
    return "pmo-ledger" + (f" --config {app.config_path}" if app.config_path else "")


def print_unmapped(app: App, keys: list[UnmappedKey]) -> None:
    for k in keys:
        line = (
            f"Unmapped: {plural(k.lines, f'{k.source} posting')} ({plain_amounts(k.amounts)}) "
            f"on {k.object_type or 'no'} {k.key or 'project'} "
            f"{'waits' if k.lines == 1 else 'wait'} on {UNMAPPED_CODE}, "
            "quarantined 'unmapped'"
        )
        command = (
            f"{command_prefix(app)} map add {k.source} {k.object_type} {k.key} PROJECT_CODE"
            if k.key
            else None
        )
        if command is None:  # no key (a posting on no project): nothing to map it by
            out(line_fitted(line))
        elif (fitted := line_fitted(line)) != line:  # narrow: the command on lines of its own
            out(f"{fitted};")
            out(wrapped("  map with: ", command, hang=4))
        else:
            out(f"{line}; map with: {command}")


def print_authority(app: App, ignored: list[NotCounted]) -> None:
    auth = app.settings.authority
    owners = ", ".join(
        f"{measure} from {getattr(auth, measure)}"
        for measure in ("labor", "hours", "expense", "revenue", "budget")
        if getattr(auth, measure)
    )
    out(line_fitted(f"Only the authority's lines count ({owners})."))
    measure = Authority(app.settings).money_measure
    base = app.settings.base_currency
    for source, kind, cost_type, lines, total in ignored:
        out(line_fitted(
            f"Not counted: {plural(lines, f'{source} {cost_type} line')} "
            f"({money(total)} {base}): {source} is not the {measure(kind, cost_type)} authority"
        ))  # fmt: skip
