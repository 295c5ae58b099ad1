"""`pmo-ledger verify NAME [--stream S]`: the source's control totals against the ledger.

Prints one row per project, currency and measure that drifts (every one with `--all-groups`):
the stream, the project's code, the measure (count, amount, hours; budget on a budget stream)
and both sides' figures; then a line per stream and one for the connector, also when nothing
drifts. A stream the source refuses (a field or object its org lacks) is named with the fix
and the others are checked. Exit 4 when any measure of any stream drifts; else 1 when a stream
could not be checked or on an error; else 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated

import typer

from pmo_ledger.connectors.errors import ConnectorError
from pmo_ledger.jobs.cli.common import CENT, app_of, console, fail, out, plural, reported, table
from pmo_ledger.jobs.cli.format import one_line
from pmo_ledger.jobs.verify import StreamCheck, VerifyResult
from pmo_ledger.jobs.verify import verify as run_verify

#: Exit status when the source and the ledger disagree.
DRIFT_EXIT = 4
#: A measure's name in the connector's summary line.
MEASURE_PLURAL = {"count": "counts", "amount": "amounts", "budget": "budgets", "hours": "hours"}
_FINEST = Decimal("0.0001")


def figure(measure: str, value: Decimal) -> str:
    """A count as an integer; an amount, budget or hours with 2 places, 4 where the value
    needs them (a drift of 0.0025 hours must not print as 0.00)."""
    if measure == "count":
        return str(int(value))
    cents = value.quantize(CENT)
    return str(cents if cents == value else value.quantize(_FINEST))


def _ordered(names: Iterable[str]) -> list[str]:
    """Measures once each, in the order count, amount, budget, hours (`Drift.measures`)."""
    order = list(MEASURE_PLURAL)
    return sorted(set(names), key=lambda n: (order.index(n) if n in order else len(order), n))


def _listed(names: list[str]) -> str:
    """'counts, amounts or hours'."""
    words = [MEASURE_PLURAL.get(n, n) for n in names]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def _stream_line(check: StreamCheck) -> str:
    measures = f" ({', '.join(check.measures)})" if check.measures else ""
    drifted = check.drifted
    state = (
        f"drift in {plural(len(drifted), 'group')}: {', '.join(check.drifted_measures)}"
        if drifted
        else "no drift"
    )
    return f"{check.stream}: {plural(len(check.drifts), 'group')} checked{measures}, {state}"


def _summary(result: VerifyResult) -> str:
    checked = [c for c in result.streams if not c.skipped and not c.error]
    if not checked:
        return f"{result.connector}: nothing checked (no stream has source totals)"
    groups = sum(len(c.drifts) for c in checked)
    head = (
        f"{result.connector}: {plural(len(checked), 'stream')} checked, {plural(groups, 'group')}"
    )
    measures = _ordered(m for c in checked for m in c.measures)
    drifted = sum(len(c.drifted) for c in checked)
    if not drifted:
        return f"{head}, no drift in {_listed(measures) if measures else 'anything'}"
    names = _ordered(m for c in checked for m in c.drifted_measures)
    return f"{head}, drift in {plural(drifted, 'group')}: {', '.join(names)}"


def _not_checked(result: VerifyResult) -> str:
    """The connector's line about the streams it could not check ('' when none)."""
    failed = [c.stream for c in result.failed]
    if not failed:
        return ""
    return f"{result.connector}: {plural(len(failed), 'stream')} not checked: {', '.join(failed)}"


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
    """Compare the source's counts, amounts and hours (a budget stream: its current budget)
    per project and currency with the ledger's; store them in control_total (see
    v_sync_health). Exit 4 when anything drifts."""
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
        "measure",
        "source",
        "ledger",
        "drift",
        numeric=("source", "ledger", "drift"),
    )
    for check in result.streams:
        for d in check.drifts if all_groups else check.drifted:
            project = result.codes.get(d.project_ref or "", d.project_ref or "(none)")
            for m in d.measures if all_groups else d.drifted_measures:
                t.add_row(
                    check.stream,
                    project,
                    d.currency or "",
                    m.name,
                    figure(m.name, m.source),
                    figure(m.name, m.ledger),
                    figure(m.name, m.drift),
                )
    if t.row_count:
        console().print(t)
    for check in result.streams:
        if check.error:
            out(f"{check.stream}: not checked: {check.error}")
            continue
        if check.skipped:
            if stream:  # asked for by name: say why it was not checked
                out(f"{check.stream}: not checked ({check.skipped})")
            continue
        out(_stream_line(check))
        for period, d in check.period_drifts:
            project = result.codes.get(d.project_ref or "", d.project_ref or "(none)")
            shown = ", ".join(
                f"{m.name} {figure(m.name, m.source)} vs {figure(m.name, m.ledger)}"
                for m in d.drifted_measures
            )
            out(f"{check.stream}: period {period} {project} {d.currency or ''}: {shown}")
    out(_summary(result))
    if result.failed:
        out(_not_checked(result))
    if result.drift:
        raise typer.Exit(DRIFT_EXIT)
    if result.failed:
        raise typer.Exit(1)
