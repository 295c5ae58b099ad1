"""`pmo-ledger period close|reopen YYYY-PP` and `pmo-ledger quarantine list|retry|purge`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy.orm import Session

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
from pmo_ledger.ledger.admin import quarantine_purge, quarantine_retry
from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.queries.quarantine import quarantine_entries
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import default_range, parse_period
from pmo_ledger.ledger.time.dates import business_date
from pmo_ledger.ledger.time.periods import close_period, ensure_periods, reopen_period


def groups() -> list[Group]:
    period = group("period", "Close and reopen fiscal periods.")
    period.app.command("close")(close)
    period.app.command("reopen")(reopen)
    quarantine = group("quarantine", "Records that could not load as they are.")
    quarantine.app.command("list")(list_entries)
    quarantine.app.command("retry")(retry)
    quarantine.app.command("purge")(purge)
    return [period, quarantine]


# --- periods ---------------------------------------------------------------------------------

PeriodArg = Annotated[str, typer.Argument(metavar="YYYY-PP", help="Fiscal period, e.g. 2025-03.")]


def _stored_calendar(session: Session, cal: CalendarSettings) -> None:
    # Periods are stored as data arrives; an operator may close one before any line has.
    ensure_periods(session, cal, *default_range(cal, utcnow().date()))


def close(ctx: typer.Context, key: PeriodArg) -> None:
    """Close a fiscal period: later lines in it are flagged late, its rates are kept."""
    cal = app_of(ctx).settings.calendar
    with ledger_transaction(ctx) as session:
        parse_period(key)
        _stored_calendar(session, cal)
        changed = close_period(session, cal.name, key, utcnow())
    out(
        f"closed period {key} of calendar {cal.name}"
        if changed
        else f"period {key} was already closed"
    )


def reopen(ctx: typer.Context, key: PeriodArg) -> None:
    """Reopen a closed fiscal period."""
    cal = app_of(ctx).settings.calendar
    with ledger_transaction(ctx) as session:
        parse_period(key)
        _stored_calendar(session, cal)
        changed = reopen_period(session, cal.name, key)
    out(f"reopened period {key} of calendar {cal.name}" if changed else f"period {key} was open")


# --- quarantine ------------------------------------------------------------------------------


class Status(StrEnum):
    open = "open"
    resolved = "resolved"


SourceOpt = Annotated[str | None, typer.Option("--source", help="Only this connector.")]
ReasonOpt = Annotated[str | None, typer.Option("--reason", help="Only this reason, e.g. unmapped.")]


def list_entries(
    ctx: typer.Context,
    source: SourceOpt = None,
    reason: ReasonOpt = None,
    status: Annotated[Status, typer.Option("--status", help="open or resolved.")] = Status.open,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 200,
) -> None:
    """List quarantine entries, newest first."""
    with ledger_reading(ctx) as session:
        entries = quarantine_entries(
            session, status=status.value, source=source, reason=reason, limit=limit
        )
    if not entries:
        out(f"no {status.value} quarantine entries")
        return
    resolved = status is Status.resolved
    columns = ["id", "source", "stream", "key", "reason", "detail", "last seen (UTC)"]
    if resolved:
        columns += ["resolution", "resolved (UTC)"]
    t = table(f"Quarantine ({status.value})", *columns, numeric=("id",))
    for e in entries:
        row = [
            str(e.id),
            e.source,
            e.stream,
            e.external_id,
            e.reason,
            e.detail or "",
            e.last_seen_at.strftime("%Y-%m-%d %H:%M"),
        ]
        if resolved:
            row += [
                e.resolution or "",
                e.resolved_at.strftime("%Y-%m-%d %H:%M") if e.resolved_at else "",
            ]
        t.add_row(*row)
    # Narrow: the stream (the key and the detail say what the record is), then when an
    # entry resolved was last seen, then the detail of a resolved one go first.
    show(t, narrow_drops=("stream", "last seen (UTC)", "detail") if resolved else ("stream",))
    out(plural(len(entries), "entry", "entries"))


def retry(ctx: typer.Context, source: SourceOpt = None, reason: ReasonOpt = None) -> None:
    """Re-apply stored records of open entries; re-point unmapped lines whose key resolves."""
    settings = app_of(ctx).settings
    with ledger_transaction(ctx) as session:
        done = quarantine_retry(session, settings, source=source, reason=reason)
    out(line_fitted(
        f"retried {plural(done['retried'], 'record')} ({done['superseded']} superseded); "
        f"{plural(done['remapped'], 'line')} re-pointed; "
        f"{plural(done['open'], 'entry', 'entries')} still open"
    ))  # fmt: skip


def purge(
    ctx: typer.Context,
    resolved_before: Annotated[
        str, typer.Option("--resolved-before", metavar="DATE", help="e.g. 2025-01-31.")
    ],
) -> None:
    """Drop the stored payloads of entries resolved before DATE (the entries stay)."""
    with ledger_transaction(ctx) as session:
        cutoff = business_date(resolved_before)
        n = quarantine_purge(session, cutoff)
    out(f"purged the payloads of {plural(n, 'entry', 'entries')} resolved before {cutoff}")
