"""`pmo-ledger report`: budget vs actual per project, what waits on UNMAPPED and what does not
count because another source is the authority (also printed by `demo`); with `--format xlsx
--out FILE`, the Excel status workbook (jobs/workbook, docs/reports.md), live or as known at a
past time (`--as-known-at`)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.cli.common import app_of, fail, money, out, plural, reported, table
from pmo_ledger.jobs.cli.format import line_fitted, plain_amounts, show, too_wide, wrapped
from pmo_ledger.jobs.cli.plan import day_option
from pmo_ledger.ledger.models import UNMAPPED_CODE
from pmo_ledger.ledger.queries.mappings import UnmappedKey
from pmo_ledger.ledger.queries.reports import (
    BudgetReport,
    BudgetVsActual,
    NotCounted,
    budget_report,
)
from pmo_ledger.ledger.resolve import Authority
from pmo_ledger.ledger.time.dates import utc_timestamp


class Format(StrEnum):
    text = "text"
    xlsx = "xlsx"


def report(
    ctx: typer.Context,
    fmt: Annotated[
        Format,
        typer.Option("--format", help="text (the table, default) or xlsx (the status workbook)."),
    ] = Format.text,
    out_file: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="The workbook to write (xlsx).")
    ] = None,
    portfolio: Annotated[
        str | None, typer.Option("--portfolio", metavar="P", help="Only this portfolio (xlsx).")
    ] = None,
    program: Annotated[
        str | None, typer.Option("--program", metavar="P", help="Only this program (xlsx).")
    ] = None,
    status_date: Annotated[
        str | None,
        typer.Option(
            "--status-date",
            metavar="DATE",
            help="Earned value, findings and schedule at this date (xlsx; default: today, or the "
            "date of --as-known-at).",
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", metavar="DATE", help="Another name for --status-date (xlsx)."),
    ] = None,
    as_known_at: Annotated[
        str | None,
        typer.Option(
            "--as-known-at",
            metavar="TIMESTAMP",
            help="The workbook as the ledger knew it then, from its history (xlsx).",
        ),
    ] = None,
) -> None:
    """Print budget vs actual per project (counting values only), unmapped postings and the
    lines another source's authority keeps from counting, or write the Excel status workbook
    (--format xlsx --out FILE)."""
    app = app_of(ctx)
    if fmt is Format.xlsx:
        write_xlsx(ctx, out_file, portfolio, program, status_date, as_of, as_known_at)
        return
    given = [name for name, value in (("--out", out_file), ("--portfolio", portfolio),
             ("--program", program), ("--status-date", status_date), ("--as-of", as_of),
             ("--as-known-at", as_known_at)) if value is not None]  # fmt: skip
    if given:
        raise fail(f"{', '.join(given)}: only with --format xlsx")
    with reported(app):
        app.require_head()
        with app.reading() as session:
            data = budget_report(session)
    print_budget_report(app, data)


def write_xlsx(
    ctx: typer.Context,
    out_file: Path | None,
    portfolio: str | None,
    program: str | None,
    status_date: str | None,
    as_of: str | None,
    as_known_at: str | None,
) -> None:
    """`report --format xlsx`: check the options, then read and write (nothing is written
    when an option or the ledger refuses)."""
    from pmo_ledger.jobs.workbook.run import write_status_workbook

    app = app_of(ctx)
    if out_file is None:
        raise fail("--format xlsx needs --out FILE.xlsx")
    if out_file.suffix.lower() != ".xlsx":
        raise fail(f"--out: {out_file} does not end in .xlsx")
    if out_file.is_dir():
        raise fail(f"--out: {out_file} is a folder")
    day = day_option(status_date, "--status-date")
    also = day_option(as_of, "--as-of")
    if day is not None and also is not None and day != also:
        raise fail(f"--as-of {also} and --status-date {day} differ: give one")
    day = day or also
    known = None
    if as_known_at is not None:
        try:
            known = utc_timestamp(as_known_at)
        except ValueError as exc:
            raise fail(f"--as-known-at: {exc}") from None
    with reported(app):
        app.require_head()
        result = write_status_workbook(
            app, out_file, now=datetime.now(UTC), status_date=day, as_known_at=known,
            portfolio=portfolio, program=program,
        )  # fmt: skip
    when = result.as_known_at.isoformat().replace("+00:00", "Z")
    out(line_fitted(
        f"wrote {out_file}: {plural(len(result.projects), 'project')}, "
        f"{plural(len(result.findings), 'open variance')}, status date {result.status_date} "
        f"(period {result.period}), {'as known at' if result.historical else 'as of'} {when}"
    ))  # fmt: skip


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
