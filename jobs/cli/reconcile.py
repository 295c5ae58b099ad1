"""`pmo-ledger reconcile` and `pmo-ledger variances [ack ID --note TEXT]`.

`reconcile` runs the rules live (under the `@reconcile` lease; a run already going means one
more follows) or, with `--status-date` / `--as-known-at`, prints a read-only report that never
touches the variances (table, json or csv; `--output FILE` to export).
"""

from __future__ import annotations

import csv
import getpass
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import TypeAdapter
from rich.table import Table

from pmo_ledger.jobs.cli.common import (
    Group,
    app_of,
    fail,
    ledger_reading,
    ledger_transaction,
    out,
    plural,
    reported,
    table,
)
from pmo_ledger.jobs.cli.format import line_fitted, show, too_wide
from pmo_ledger.jobs.reconcile import reconcile_report, run_reconcile
from pmo_ledger.ledger.queries.variances import VarianceRow
from pmo_ledger.ledger.queries.variances import list_variances as listed_variances
from pmo_ledger.ledger.reconcile.findings import Finding
from pmo_ledger.ledger.reconcile.settings import RULES
from pmo_ledger.ledger.reconcile.store import acknowledge
from pmo_ledger.ledger.time.dates import business_date, utc_timestamp


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


#: A page's rows as JSON, written as `GET /variances` writes them (pydantic's JSON mode).
_ROWS = TypeAdapter(list[VarianceRow])
FIELDS = (
    "id", "rule", "subject_type", "subject_id", "dimension", "period", "severity", "status",
    "message", "first_seen_at", "last_seen_at", "acknowledged_by", "note",
)  # fmt: skip


def groups() -> list[Group]:
    help_ = "Reconciliation findings; `variances ack ID --note TEXT` to acknowledge one."
    variances = Group(
        "variances", help_, typer.Typer(help=help_, rich_markup_mode=None, no_args_is_help=False)
    )
    variances.app.callback(invoke_without_command=True)(list_variances)
    variances.app.command("ack")(ack)
    return [variances]


def reconcile(
    ctx: typer.Context,
    project: Annotated[
        str | None, typer.Option("--project", metavar="P", help="Only this project.")
    ] = None,
    status_date: Annotated[
        str | None,
        typer.Option("--status-date", metavar="DATE", help="Report as of this date (read-only)."),
    ] = None,
    as_known_at: Annotated[
        str | None,
        typer.Option(
            "--as-known-at", metavar="TIMESTAMP", help="Report on the ledger as known then."
        ),
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="Report format.")] = Format.table,
    output: Annotated[
        Path | None, typer.Option("--output", metavar="FILE", help="Write the report here.")
    ] = None,
) -> None:
    """Run the reconciliation rules and update the variances, or print a read-only report."""
    app = app_of(ctx)
    with reported(app):
        day = business_date(status_date) if status_date else None
        known = utc_timestamp(as_known_at) if as_known_at else None
        if day is not None or known is not None:
            result = reconcile_report(app, status_date=day, as_known_at=known, project=project)
            findings = result.findings or []  # a report always has its findings
            if output is None and fmt is Format.table:
                show(findings_table(findings))  # within a terminal's width
                return
            text = render(findings, fmt)
            if output is not None:
                output.write_text(text, encoding="utf-8")
                out(line_fitted(f"{len(findings)} findings as of {result.status_date} "
                                f"(period {result.period}) written to {output}"))  # fmt: skip
            else:
                out(text)
            return
        outcome = run_reconcile(app, project=project)
    if outcome.queued:
        out("a reconcile is running: one more run follows it")
        return
    last = outcome.last
    assert last is not None and last.lifecycle is not None
    lc = last.lifecycle
    counts = ", ".join(f"{rule} {n}" for rule, n in last.count_by_rule().items())
    out(line_fitted(f"reconciled period {last.period} (status date {last.status_date}): {counts}"))
    out(line_fitted(
        f"variances: {lc.opened} opened, {lc.updated} updated, {lc.unchanged} unchanged, "
        f"{lc.escalated} escalated, {lc.reopened} reopened, {lc.resolved} resolved"
    ))  # fmt: skip


def render(findings: Sequence[Finding], fmt: Format) -> str:
    """Findings of a report as a table, JSON or CSV text."""
    rows = [
        {"rule": f.rule, "subject_type": f.subject_type, "subject_id": f.subject_id,
         "dimension": f.dimension, "period": f.period, "severity": f.severity,
         "message": f.message, "measures": f.measures, "thresholds": f.thresholds}
        for f in findings
    ]  # fmt: skip
    if fmt is Format.json:
        return json.dumps(rows, indent=2)
    if fmt is Format.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(rows[0]) if rows else ["rule"])
        w.writeheader()
        for r in rows:
            w.writerow({**r, "measures": json.dumps(r["measures"]),
                        "thresholds": json.dumps(r["thresholds"])})  # fmt: skip
        return buf.getvalue()
    buf = io.StringIO()
    from rich.console import Console

    Console(file=buf, width=200, highlight=False).print(findings_table(findings))
    return buf.getvalue().rstrip("\n")


def findings_table(found: Sequence[Finding] | Sequence[VarianceRow]) -> Table:
    """Findings (a report's) or variances (with their id and status) as a table. Where it
    must fit a narrower width, the subject and dimension columns go (the message starts
    with the subject and names what it compares) and each rule stacks over its period and
    each severity over its status, so the message keeps most of the width."""
    listed = [(f, f.id, f.status) if isinstance(f, VarianceRow) else (f, None, None) for f in found]
    ids = any(i is not None for _, i, _ in listed)
    t = table(None, *(("id",) if ids else ()), "rule", "subject", "dimension", "period",
              "severity", *(("status",) if ids else ()), "message", numeric=("id",))  # fmt: skip
    for f, i, status in listed:
        t.add_row(*((str(i),) if ids else ()), f.rule, f.subject_id, f.dimension,
                  f.period or "to date", f.severity, *((status,) if ids else ()),
                  f.message or "")  # fmt: skip
    if not too_wide(t):
        return t
    stacked = ("rule\nperiod", "severity\nstatus" if ids else "severity", "message")
    narrow = table(None, *(("id",) if ids else ()), *stacked, numeric=("id",))
    for column in narrow.columns[:-1]:
        column.no_wrap = True  # folds only the message
    for f, i, status in listed:
        narrow.add_row(*((str(i),) if ids else ()), f"{f.rule}\n{f.period or 'to date'}",
                       f.severity + (f"\n{status}" if ids else ""), f.message or "")  # fmt: skip
    return narrow


class Status(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Level(StrEnum):
    high = "high"
    medium = "medium"
    low = "low"


def list_variances(
    ctx: typer.Context,
    open_: Annotated[bool, typer.Option("--open", help="Only open and acknowledged.")] = False,
    status: Annotated[Status | None, typer.Option("--status", help="Only this status.")] = None,
    severity: Annotated[
        Level | None, typer.Option("--severity", help="Only this severity.")
    ] = None,
    rule: Annotated[
        str | None, typer.Option("--rule", metavar="RULE", help="Only this rule's.")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", metavar="P", help="Only this project.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, metavar="N", help="At most N (default: all).")
    ] = None,
    offset: Annotated[
        int, typer.Option("--offset", min=0, metavar="N", help="Skip the first N.")
    ] = 0,
    fmt: Annotated[Format, typer.Option("--format", help="Output format.")] = Format.table,
) -> None:
    """List variances, most severe and newest first; filters combine, `--limit`/`--offset`
    page through them (the table says which rows of how many it shows; JSON is GET
    /variances's page with its total; CSV says them on stderr)."""
    if ctx.invoked_subcommand is not None:
        return
    if rule is not None and rule not in RULES:
        raise fail(f"unknown rule {rule!r} (rules: {', '.join(RULES)})")
    with ledger_reading(ctx) as session:
        page = listed_variances(
            session, open_only=open_, status=status.value if status else None,
            severity=severity.value if severity else None, rule=rule,
            project=project or None, limit=limit, offset=offset,
        )  # fmt: skip
    found = page.items
    if fmt is Format.json:
        # GET /variances's shape: the page's rows, as the API writes them, and the total.
        listed = {"items": _ROWS.dump_python(found, mode="json"), "total": page.total,
                  "limit": limit, "offset": offset}  # fmt: skip
        out(json.dumps(listed, indent=2))
        return
    if fmt is Format.csv:
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=[*FIELDS, "measures"])
        w.writeheader()
        # the JSON mode's values: timestamps ISO 8601 UTC with a `Z`, as in the JSON format
        for v in _ROWS.dump_python(found, mode="json"):
            w.writerow({k: v[k] for k in FIELDS} | {"measures": json.dumps(v["measures"])})
        out(buf.getvalue().rstrip("\n"))
        typer.echo(rows_of(page.total, offset, len(found)), err=True)  # stdout stays CSV
        return
    if not found:
        out("no variances" if page.total == 0 else f"no variances past {offset} of {page.total}")
        return
    show(findings_table(found))
    if len(found) < page.total:
        out(f"variances {offset + 1}-{offset + len(found)} of {page.total}")


def rows_of(total: int, offset: int, shown: int) -> str:
    """Which rows of how many a CSV export holds: '74 variances; rows 1-50'."""
    if shown:
        return f"{plural(total, 'variance')}; rows {offset + 1}-{offset + shown}"
    return f"{plural(total, 'variance')}; no rows past {offset}" if total else "0 variances"


def ack(
    ctx: typer.Context,
    variance_id: Annotated[int, typer.Argument(metavar="ID", help="The variance's id.")],
    note: Annotated[str, typer.Option("--note", help="Why it is known and accepted.")],
) -> None:
    """Acknowledge a variance: it stays listed until resolved, and comes back to open if it
    gets worse."""
    if not note.strip():
        raise fail("--note must say why the variance is acknowledged")
    with ledger_transaction(ctx) as session:
        v = acknowledge(session, variance_id, note.strip(), getpass.getuser(), datetime.now(UTC))
        label = f"{v.rule} {v.subject_id} {v.dimension} {v.period or 'to date'}"
    out(f"variance {variance_id} acknowledged ({label})")
