"""`pmo-ledger sync NAME | --all`, `runs [show ID]` and `check NAME`.

`sync` is exactly what a scheduled run does (`jobs.sync.run_sync`), with a live line per
stream on a terminal, a summary table and one status line; its exit status tells a script
what happened (0 succeeded, 1 failed or interrupted, 3 partial). Ctrl-C sets the run's cancel
event, so the runner stops between pages and the run ends interrupted; a second Ctrl-C aborts.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import FrameType, TracebackType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from connectors.base import ConnectorContext, Cursor
from connectors.errors import ConnectorError, ConnectorTransientError
from connectors.registry import build_connector
from jobs.app import App
from jobs.cli.common import (
    CENT,
    Group,
    app_of,
    console,
    fail,
    ledger_reading,
    out,
    plural,
    reported,
    table,
)
from jobs.run_records import StreamResult, SyncResult
from jobs.sync import AlreadyRunning, run_sync
from ledger.calendar import parse_period
from ledger.dates import business_date
from ledger.models import SyncRun, SyncRunStream

#: Exit status of `sync` per run status.
EXIT_CODES = {"succeeded": 0, "failed": 1, "interrupted": 1, "abandoned": 1, "partial": 3}
#: Amount outcomes in the order an operator reads them.
OUTCOMES = ("read", "inserted", "restated", "unchanged", "deleted", "quarantined")
MESSAGE_WIDTH = 60
#: Cells longer than this (errors) wrap.
TEXT_WIDTH = 72


def groups() -> list[Group]:
    help_ = "Recent sync runs; `runs show ID` for one."
    runs = Group(
        "runs",
        help_,
        typer.Typer(help=help_, rich_markup_mode=None, no_args_is_help=False),
    )
    runs.app.callback(invoke_without_command=True)(list_runs)
    runs.app.command("show")(show_run)
    return [runs]


# --- sync ------------------------------------------------------------------------------------


def sync(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(metavar="NAME", help="The connector ([connectors.NAME]).")
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every enabled connector, in config order.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="Read every stream from the start.")] = False,
    since: Annotated[
        str | None, typer.Option("--since", metavar="DATE", help="Read from this date.")
    ] = None,
    stream: Annotated[
        list[str] | None,
        typer.Option("--stream", metavar="S", help="Only this stream (repeatable)."),
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", metavar="P", help="Re-sync one project in full.")
    ] = None,
    period: Annotated[
        str | None,
        typer.Option("--period", metavar="YYYY-PP", help="Re-sync one fiscal period in full."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would change; write nothing.")
    ] = False,
    allow_mass_delete: Annotated[
        bool,
        typer.Option("--allow-mass-delete", help="Let a scope reverse more than the guard allows."),
    ] = False,
) -> None:
    """Sync a connector (or --all) into the ledger.

    Reads connector NAME, or every enabled connector with --all, into the ledger.
    Exit status: 0 succeeded; 1 failed or interrupted (or, with --all, any connector did);
    3 partial (some streams stopped early: the next run resumes from their checkpoints).
    Ctrl-C stops the run between pages (it ends interrupted); a second Ctrl-C aborts.
    """
    app = app_of(ctx)
    if all_ == (name is not None):
        raise fail("name one connector, or use --all")
    if name is not None and name not in app.config.connectors:
        raise fail(_unknown(app, name))
    names = [name] if name else [n for n, c in app.config.connectors.items() if c.enabled]
    if not names:
        raise fail("no enabled connector is configured")
    with reported(app):
        day = business_date(since) if since else None
        if period:
            parse_period(period)
        app.require_head()
    options: dict[str, Any] = {
        "full": full,
        "since": day,
        "streams": stream or None,
        "project": project,
        "period": period,
        "dry_run": dry_run,
        "allow_mass_delete": allow_mass_delete,
    }
    codes: dict[str, int] = {}
    with CancelOnInterrupt() as cancel:
        for each in names:
            if cancel.is_set():
                break  # Ctrl-C during an earlier connector: run no more
            codes[each] = _sync_one(app, each, options, cancel, named=all_)
    if all_ and len(names) > 1:
        skipped = [n for n in names if n not in codes]
        out(
            "all: "
            + ", ".join(f"{n} {_word(code)}" for n, code in codes.items())
            + (f"; not run: {', '.join(skipped)}" if skipped else "")
        )
        if skipped:
            codes.update(dict.fromkeys(skipped, 1))
    raise typer.Exit(_worst(codes.values()))


def _sync_one(
    app: App, name: str, options: dict[str, Any], cancel: threading.Event, *, named: bool
) -> int:
    """One connector's run: progress, summary, status line. Returns its exit status."""
    prefix = f"{name}: " if named else ""
    with reported(app):
        try:
            with LiveProgress(console(), name) as progress:
                result = run_sync(
                    app, name, **options, trigger="cli", cancel=cancel, on_batch=progress.update
                )
        except AlreadyRunning as exc:
            typer.echo(f"error: {prefix}{exc}", err=True)
            return 1
        except ConnectorError as exc:
            typer.echo(f"error: {prefix}{_one_line(exc)}", err=True)
            return 1
    print_result(result)
    return EXIT_CODES.get(result.status, 1)


def _unknown(app: App, name: str) -> str:
    known = ", ".join(sorted(app.config.connectors)) or "none configured"
    return f"unknown connector {name!r} (configured: {known})"


def _worst(codes: Iterable[int]) -> int:
    seen = set(codes)
    return 1 if 1 in seen else 3 if 3 in seen else 0


def _word(code: int) -> str:
    return {0: "succeeded", 3: "partial"}.get(code, "failed")


class CancelOnInterrupt:
    """While active (in the main thread), the first Ctrl-C sets the event instead of raising;
    the default handler is back for the second, which raises KeyboardInterrupt (abort)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self._installed = False
        self._previous: Any = None

    def __enter__(self) -> threading.Event:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._interrupted)
            self._installed = True
        return self.event

    def _interrupted(self, _signum: int, _frame: FrameType | None) -> None:
        self.event.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        typer.echo("interrupted: stopping after the current page (Ctrl-C again to abort)", err=True)

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.default_int_handler
            signal.signal(signal.SIGINT, previous)
            self._installed = False


class LiveProgress:
    """A live line per stream with the records read so far, fed by the runner's `on_batch`;
    nothing at all when the console is not a terminal."""

    def __init__(self, console: Console, name: str) -> None:
        self.name = name
        self.progress = (
            Progress(
                SpinnerColumn(finished_text="done"),
                TextColumn("{task.description}"),
                TextColumn("{task.completed:,.0f} records read"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            if console.is_terminal
            else None
        )
        self.tasks: dict[str, TaskID] = {}
        self.read: dict[str, int] = {}

    def __enter__(self) -> LiveProgress:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, outcome: StreamResult) -> None:
        """Show `outcome.stream` with its records read so far; the streams before it are done
        (the runner reads one stream after the other)."""
        if self.progress is None:
            return
        if outcome.stream not in self.tasks:
            for stream, task in self.tasks.items():
                self.progress.update(task, total=self.read[stream])
            label = f"{self.name} {outcome.stream}"
            self.tasks[outcome.stream] = self.progress.add_task(label, total=None)
        self.read[outcome.stream] = outcome.stats.read
        self.progress.update(self.tasks[outcome.stream], completed=outcome.stats.read)


#: Summary columns of a run and of a dry run: (heading, ApplyStats field).
RUN_COLUMNS = (
    ("read", "read"),
    ("written", "written"),
    ("inserted", "inserted"),
    ("changed", "restated"),
    ("unchanged", "unchanged"),
    ("reversed/deleted", "deleted"),
    ("quarantined", "quarantined"),
)
DRY_RUN_COLUMNS = (
    ("read", "read"),
    ("would add", "inserted"),
    ("would change", "restated"),
    ("would reverse", "deleted"),
    ("unchanged", "unchanged"),
    ("quarantined", "quarantined"),
)


def print_result(result: SyncResult) -> None:
    """The summary table of a run (or a dry run) and its status line."""
    columns = DRY_RUN_COLUMNS if result.dry_run else RUN_COLUMNS
    headings = [h for h, _ in columns]
    extra = () if result.dry_run else ("amounts read", "checkpoint")
    title = (
        f"{result.connector}: dry run: nothing was written"
        if result.dry_run
        else f"{result.connector}: run {result.run_id}"
    )
    t = table(title, "stream", "status", *headings, *extra, numeric=tuple(headings))
    for s in result.streams:
        counts = [_n(getattr(s.stats, field)) for _, field in columns]
        more = () if result.dry_run else (amounts_text(s.amount("read")), cursor_text(s.checkpoint))
        t.add_row(s.stream, s.status, *counts, *more)
    show(t)
    if not result.dry_run:
        out(f"run {result.run_id} {result.status}: {_one_line(result.message)}")
        return
    for heading, field in DRY_RUN_COLUMNS[1:4]:  # would add, change, reverse
        n = sum(getattr(s.stats, field) for s in result.streams)
        amounts = _sum_amounts(s.amount(field) for s in result.streams)
        out(f"{heading}: {n:,}" + (f" ({amounts_text(amounts)})" if amounts else ""))
    out(f"dry run of {result.connector} {result.status}: {_one_line(result.message)}")


# --- runs ------------------------------------------------------------------------------------


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
    srs = SyncRunStream
    sums = (
        select(
            srs.run_id,
            func.sum(srs.rows_read).label("read"),
            func.sum(srs.rows_written).label("written"),
            func.sum(srs.rows_quarantined).label("quarantined"),
        )
        .group_by(srs.run_id)
        .subquery()
    )
    query = (
        select(SyncRun, sums.c.read, sums.c.written, sums.c.quarantined)
        .outerjoin(sums, sums.c.run_id == SyncRun.id)
        .order_by(SyncRun.id.desc())
        .limit(limit)
    )
    if connector:
        query = query.where(SyncRun.connector == connector)
    with ledger_reading(ctx) as session:
        rows = session.execute(query).all()
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
    for run, read, written, quarantined in rows:
        t.add_row(
            str(run.id),
            run.connector,
            run.trigger,
            run.status,
            _when(run.started_at),
            duration_text(run.finished_at - run.started_at) if run.finished_at else "",
            *map(_n, (read or 0, written or 0, quarantined or 0)),
            _truncate(_one_line(run.message or "")),
        )
    show(t)
    out(plural(len(rows), "run"))


def show_run(
    ctx: typer.Context, run_id: Annotated[int, typer.Argument(metavar="ID", help="Run id.")]
) -> None:
    """Show one run: its header, per-stream figures, checkpoints, errors and amounts."""
    with ledger_reading(ctx) as session:
        run = session.get(SyncRun, run_id)
        if run is None:
            raise fail(f"no run {run_id}")
        streams = session.scalars(
            select(SyncRunStream)
            .where(SyncRunStream.run_id == run_id)
            .order_by(SyncRunStream.started_at, SyncRunStream.stream)
        ).all()
    out(f"run {run.id} of {run.connector}: {run.status}")
    out(f"trigger:  {run.trigger}")
    out(f"options:  {options_text(run.options or {})}")
    out(f"started:  {_when(run.started_at)} UTC")
    if run.finished_at:
        took = duration_text(run.finished_at - run.started_at)
        out(f"finished: {_when(run.finished_at)} UTC ({took})")
    if run.retry_at:
        out(f"retry at: {_when(run.retry_at)} UTC")
    if run.holder:
        out(f"holder:   {run.holder}")
    out(f"message:  {_one_line(run.message or '')}")
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
            *map(_n, counts),
            cursor_text(Cursor.from_json(s.checkpoint) if s.checkpoint else None),
            _one_line(s.error or ""),
        )
    show(t)
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
            t.add_row(stream, outcome, *("" if v is None else _money(Decimal(v)) for v in cells))
    return t


# --- check -----------------------------------------------------------------------------------


def check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The connector ([connectors.NAME]).")],
) -> None:
    """Check a connector can read its source (one line).

    Prints `NAME (kind): ok` (exit 0) or `NAME (kind): ErrorClass: message` (exit 1).
    """
    app = app_of(ctx)
    cfg = app.config.connectors.get(name)
    if cfg is None:
        raise fail(_unknown(app, name))
    label = f"{name} ({cfg.kind})"
    try:
        context = ConnectorContext(name, cfg.connect_timeout, cfg.read_timeout)
        connector = build_connector(name, cfg.kind, cfg.settings, context)
        try:
            connector.check()
        finally:
            connector.close()
    except ConnectorError as exc:
        retry = (
            f" (retry at {_when(exc.retry_at)} UTC)"
            if isinstance(exc, ConnectorTransientError) and exc.retry_at
            else ""
        )
        out(f"{label}: {type(exc).__name__}: {_one_line(exc)}{retry}")
        raise typer.Exit(1) from None
    out(f"{label}: ok")


# --- formatting ------------------------------------------------------------------------------


def show(t: Table) -> None:
    """Print a table as wide as its rows need, on a terminal too (a cut figure is worse than
    a line the terminal wraps); long texts (errors) wrap within TEXT_WIDTH."""
    for column in t.columns:
        if any(len(str(cell)) > TEXT_WIDTH for cell in column.cells):
            column.max_width = TEXT_WIDTH
    c = console()
    c.width = max(c.width, c.measure(t, options=c.options.update_width(10_000)).maximum)
    c.print(t)


def _one_line(text: object) -> str:
    """Several lines (e.g. one per settings problem) as one: joined with '; '."""
    return "; ".join(" ".join(part.split()) for part in str(text).splitlines() if part.strip())


def _n(value: int) -> str:
    return f"{value:,}"


def _money(value: Decimal) -> str:
    return f"{value.quantize(CENT):,}"


def amounts_text(amounts: Mapping[str, Decimal]) -> str:
    """'12,345.67 USD; 9.00 EUR' ('' for none)."""
    return "; ".join(f"{_money(a)} {c}" for c, a in amounts.items())


def _sum_amounts(parts: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
    total: dict[str, Decimal] = {}
    for part in parts:
        for ccy, amount in part.items():
            total[ccy] = total.get(ccy, Decimal(0)) + amount
    return total


def cursor_text(cursor: Cursor | None) -> str:
    """A checkpoint as an operator reads it: ISO UTC time, period, offset or token."""
    if cursor is None:
        return ""
    if isinstance(cursor.value, datetime):
        return cursor.value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = str(cursor.value)
    return text if len(text) <= 24 else text[:23] + "…"


def duration_text(took: timedelta) -> str:
    """'0.4s', '3m 04s', '1h 02m'."""
    seconds = max(took.total_seconds(), 0.0)
    if seconds < 60:
        return f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{int(seconds // 60)}m {int(seconds % 60):02d}s"
    return f"{int(seconds // 3600)}h {int(seconds % 3600 // 60):02d}m"


def options_text(options: Mapping[str, Any]) -> str:
    """The run's options as flags: 'full, streams=actuals, allow-mass-delete' ('none')."""
    parts = []
    for key, value in options.items():
        if key == "dry_run" or value in (None, False, [], ""):
            continue
        flag = key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, list):
            parts.append(f"{flag}={','.join(map(str, value))}")
        else:
            parts.append(f"{flag}={value.isoformat() if isinstance(value, date) else value}")
    return ", ".join(parts) or "none"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _truncate(text: str, width: int = MESSAGE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
