"""Formatting shared by the commands: tables fitted to the width, counts (the sync summary's
columns, which add up), amounts, checkpoints, durations, run options and times as an operator
reads them."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from pmo_ledger.connectors.base import Cursor
from pmo_ledger.jobs.cli.common import CENT, console, fits_width, money

if TYPE_CHECKING:
    from pmo_ledger.ledger.write import ApplyStats

MESSAGE_WIDTH = 60
#: Cells longer than this (errors) wrap.
TEXT_WIDTH = 72


def show(t: Table, *, narrow_drops: tuple[str, ...] = ()) -> None:
    """Print a table: within the width of a terminal (or COLUMNS), its texts folding and
    wrapping, without its empty columns and the `narrow_drops` columns (dropped in order
    while its rows are wider than that); to a pipe or a file whole, as wide as its rows
    need. Long texts (errors) wrap within TEXT_WIDTH."""
    for column in t.columns:
        if any(len(str(cell)) > TEXT_WIDTH for cell in column.cells):
            column.max_width = TEXT_WIDTH
    c = console()
    if not fits_width(c):
        c.width = max(c.width, natural_width(c, t))
    else:
        t.columns[:] = [col for col in t.columns if any(str(cell) for cell in col.cells)]
        for name in narrow_drops:
            if natural_width(c, t) <= c.width:
                break
            t.columns[:] = [col for col in t.columns if col.header != name]
    c.print(t)


def natural_width(c: Console, t: Table) -> int:
    """The width `t` takes with every cell on one line."""
    return c.measure(t, options=c.options.update_width(10_000)).maximum


def too_wide(t: Table) -> bool:
    """Whether `t` must fit the width (a terminal, or COLUMNS) and its rows are wider: the
    caller then shows a narrow form of it (fewer columns, cells stacked)."""
    c = console()
    return fits_width(c) and natural_width(c, t) > c.width


def wrapped(label: str, text: str, *, hang: int | None = None) -> str:
    """`label text` as lines within the console's width (when tables must fit it), the
    continuation lines indented under the text (or by `hang` spaces)."""
    c = console()
    if not fits_width(c) or len(label) + len(text) <= c.width:
        return label + text
    return textwrap.fill(
        text,
        width=c.width,
        initial_indent=label,
        subsequent_indent=" " * (len(label) if hang is None else hang),
        break_on_hyphens=False,
        break_long_words=True,
    )


def line_fitted(text: str) -> str:
    """One line of prose (a summary, a hint) within the console's width when tables must fit
    it: continuation lines indented by 2."""
    return wrapped("", text, hang=2)


def one_line(text: object) -> str:
    """Several lines (e.g. one per settings problem) as one: joined with '; '."""
    return "; ".join(" ".join(part.split()) for part in str(text).splitlines() if part.strip())


def n(value: int) -> str:
    return f"{value:,}"


def grouped_money(value: Decimal) -> str:
    """'12,345.67': run figures, read across many lines."""
    return f"{value.quantize(CENT):,}"


def grouped_amounts(amounts: Mapping[str, Decimal]) -> str:
    """'12,345.67 USD; 9.00 EUR' ('' for none), in the order given (run figures)."""
    return "; ".join(f"{grouped_money(a)} {c}" for c, a in amounts.items())


def plain_amounts(amounts: Mapping[str, Decimal]) -> str:
    """'1275.00 USD, 300.00 EUR' by currency (ledger reports, as the ledger holds them)."""
    return ", ".join(f"{money(v)} {ccy}" for ccy, v in sorted(amounts.items()))


def sum_amounts(parts: Iterable[Mapping[str, Decimal]]) -> dict[str, Decimal]:
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


def when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def truncate(text: str, width: int = MESSAGE_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


#: The summary's count columns; `read` is the sum of the next five (see `LEGEND`).
COUNT_COLUMNS = ("read", "new", "changed", "same", "held", "other", "reversed")
#: What the count columns count, printed under the summary (each line within 80 columns).
LEGEND = (
    "read = new + changed + same + held + other (records; rejected lines included)",
    "new, changed: written; same: unchanged; held: quarantined, not written;",
    "other: repeated in a batch, or rates merged into one series; reversed: deleted",
)


def counts(stats: ApplyStats) -> tuple[int, ...]:
    """A stream's figures in COUNT_COLUMNS, derived from its counters so they add up: read
    counts the rejected lines too, records parked (written, waiting for a mapping) are new or
    changed, not held,
    and `other` is what no outcome counts (a key repeated in a batch, a key sent and deleted
    together, fx rates written as one series)."""
    read = stats.read + stats.rejected
    new = stats.inserted
    changed = stats.written - stats.inserted
    held = stats.quarantined - stats.parked
    other = read - new - changed - stats.unchanged - held
    return read, new, changed, stats.unchanged, held, other, stats.deleted


def parked_line(parked: int) -> str:
    """The line under a summary naming the records that wait for a mapping."""
    return f"{parked:,} of the records written or unchanged wait for a mapping (also held)"
