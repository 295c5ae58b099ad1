"""`pmo-ledger sync NAME | --all` and `check NAME`.

`sync` is exactly what a scheduled run does (`jobs.sync.run_sync`), with a live line per
stream on a terminal, a summary table and one status line; its exit status tells a script
what happened (0 succeeded, 1 failed or interrupted, 2 refused: the connector is disabled,
3 partial). Ctrl-C sets the run's cancel event, so the runner stops between pages and the run
ends interrupted; a second Ctrl-C aborts.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from sqlalchemy.exc import SQLAlchemyError

from pmo_ledger.connectors.errors import ConnectorError, ConnectorTransientError
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.cli.common import app_of, console, fail, out, reported, table
from pmo_ledger.jobs.cli.format import (
    COUNT_COLUMNS,
    LEGEND,
    counts,
    cursor_text,
    grouped_amounts,
    n,
    one_line,
    parked_line,
    show,
    sum_amounts,
    when,
)
from pmo_ledger.jobs.reconcile import run_reconcile
from pmo_ledger.jobs.run_records import StreamResult, SyncResult
from pmo_ledger.jobs.sync import AlreadyRunning, ConnectorDisabled, run_sync
from pmo_ledger.ledger.time.calendar import parse_period
from pmo_ledger.ledger.time.dates import business_date

#: Exit status of `sync` per run status.
EXIT_CODES = {"succeeded": 0, "failed": 1, "interrupted": 1, "abandoned": 1, "partial": 3}


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
    allow_disabled: Annotated[
        bool,
        typer.Option("--allow-disabled", help="Run connector NAME once although enabled = false."),
    ] = False,
) -> None:
    """Sync a connector (or --all) into the ledger.

    Reads connector NAME, or every enabled connector with --all, into the ledger.
    Exit status: 0 succeeded; 1 failed or interrupted (or, with --all, any connector did);
    2 refused: NAME is disabled (enabled = false) and --allow-disabled was not given;
    3 partial (a stream stopped early, even before its first row, or failed alone: the next
    run resumes from the checkpoints).
    Ctrl-C stops the run between pages (it ends interrupted); a second Ctrl-C aborts.
    """
    app = app_of(ctx)
    if all_ == (name is not None):
        raise fail("name one connector, or use --all")
    if name is not None and name not in app.config.connectors:
        raise fail(_unknown(app, name))
    if name is not None and not allow_disabled and not app.config.connectors[name].enabled:
        refused = f"{ConnectorDisabled(name)}; use --allow-disabled to run it once anyway"
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(2)
    if all_ and allow_disabled:
        raise fail("--allow-disabled runs one named connector; --all runs the enabled ones")
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
        "allow_disabled": allow_disabled,
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
    cfg = app.config.reconcile
    if cfg.enabled and cfg.after_sync and not dry_run and any(c in (0, 3) for c in codes.values()):
        _reconcile_after(app)
    raise typer.Exit(_worst(codes.values()))


def _reconcile_after(app: App) -> None:
    """The rules after a sync that loaded something ([reconcile] after_sync); a failure is
    reported and does not change the sync's exit status."""
    try:
        outcome = run_reconcile(app)
    except (LookupError, ValueError, SQLAlchemyError) as exc:
        typer.echo(f"error: reconcile after sync: {one_line(exc)}", err=True)
        return
    if outcome.queued:
        out("reconcile: already running, one more run follows it")
    elif outcome.last is not None and outcome.last.lifecycle is not None:
        lc = outcome.last.lifecycle
        out(
            f"reconcile: {outcome.last.total} findings; {lc.opened} opened, "
            f"{lc.resolved} resolved, {lc.escalated} escalated"
        )


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
            typer.echo(f"error: {prefix}{one_line(exc)}", err=True)
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
    """A live line per stream with the records read so far, fed by the runner's `on_batch`:
    "rows yielded / expected" on a bar with that total when the stream announced its row
    count (`Page.expected`); nothing at all when the console is not a terminal."""

    def __init__(self, console: Console, name: str) -> None:
        self.name = name
        self.progress = (
            Progress(
                SpinnerColumn(finished_text="done"),
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.fields[read]}"),
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
            self.tasks[outcome.stream] = self.progress.add_task(label, total=None, read="")
        expected = outcome.expected
        read = outcome.stats.read if expected is None else outcome.listed
        self.read[outcome.stream] = read
        self.progress.update(
            self.tasks[outcome.stream],
            completed=read,
            total=expected,
            read=f"{read:,} records read" if expected is None else f"{read:,} / {expected:,} rows",
        )


#: The dry run's totals under its summary: (heading, ApplyStats field).
DRY_RUN_TOTALS = (
    ("would add", "inserted"),
    ("would change", "restated"),
    ("would reverse", "deleted"),
)


def print_result(result: SyncResult) -> None:
    """The summary of a run (or a dry run): counts per stream with their legend, then per
    stream its status, checkpoint and amounts read (a run), and the status line. Two tables
    so that each fits 80 columns."""
    title = (
        f"{result.connector}: dry run: nothing was written"
        if result.dry_run
        else f"{result.connector}: run {result.run_id}"
    )
    t = table(title, "stream", *COUNT_COLUMNS, numeric=COUNT_COLUMNS)
    for s in result.streams:
        t.add_row(s.stream, *map(n, counts(s.stats)))
    show(t)
    for line in LEGEND:
        out(line)
    parked = sum(s.stats.parked for s in result.streams)
    if parked:
        out(parked_line(parked))
    extra = () if result.dry_run else ("checkpoint", "amounts read")
    more = table(None, "stream", "status", *extra)
    for s in result.streams:
        cells = (
            () if result.dry_run else (cursor_text(s.checkpoint), grouped_amounts(s.amount("read")))
        )
        more.add_row(s.stream, s.status, *cells)
    show(more)
    if not result.dry_run:
        out(f"run {result.run_id} {result.status}: {one_line(result.message)}")
        return
    for heading, field in DRY_RUN_TOTALS:
        count = sum(getattr(s.stats, field) for s in result.streams)
        amounts = sum_amounts(s.amount(field) for s in result.streams)
        out(f"{heading}: {count:,}" + (f" ({grouped_amounts(amounts)})" if amounts else ""))
    out(f"dry run of {result.connector} {result.status}: {one_line(result.message)}")


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
        connector = app.connector(name)
        try:
            connector.check()
        finally:
            connector.close()
    except ConnectorError as exc:
        retry = (
            f" (retry at {when(exc.retry_at)} UTC)"
            if isinstance(exc, ConnectorTransientError) and exc.retry_at
            else ""
        )
        out(f"{label}: {type(exc).__name__}: {one_line(exc)}{retry}")
        raise typer.Exit(1) from None
    detail = connector.context.extra.get("check")
    out(f"{label}: ok" + (f" ({detail})" if detail else ""))
