"""Pages for the runner from what a source lists: checkpoints that are safe, scope markers,
deletions.

- `ordered_pages`: items in cursor order (records, and `Marked` deletions and rejected rows
  with their cursor value) cut into pages of `size`. A page's checkpoint is the largest cursor
  value that every later item sorts after: rows that share a value are never split across a
  checkpoint (a tie that spills into the next page moves the checkpoint back to the value
  before it, or leaves the page without one).
- `unordered`: pages of a read with no order (a bulk export, a token-paged API): no page
  carries a checkpoint but the last, which gets the read's own (e.g. its start time).
- `scoped`: wrap pages in ScopeStart(key) on the first and ScopeEnd(key) on the last, either
  on the pages themselves or on marker pages of their own.
- `deletion_pages`: keys a source lists as deleted (a delete log, a journal) in pages.

They take and give plain iterators, so a connector chains them: `scoped(stream,
ordered_pages(rows, 500))`. Nothing here reads a source, sleeps or touches the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from pmo_ledger.connectors.base import Cursor, CursorKind, Page, ScopeEnd, ScopeStart
from pmo_ledger.ledger.records import Record, Rejected


@dataclass(frozen=True, slots=True)
class Marked:
    """A deleted key (`item` a str) or a rejected row (`item` a Rejected) in an ordered
    stream, at its cursor value `at` (records carry their own, see `ordered_pages`)."""

    at: Any
    item: str | Rejected


#: What an ordered read lists: records, and deletions and rejected rows with their position.
Item = Record | Marked


def modified_at(record: Record) -> Any:
    """A record's cursor value: its `source_modified_at` (the default of `ordered_pages`)."""
    return record.source_modified_at


def ordered_pages(
    items: Iterable[Item],
    size: int,
    *,
    kind: CursorKind = "timestamp",
    position: Callable[[Record], Any] = modified_at,
    checkpoints: bool = True,
) -> Iterator[Page]:
    """Pages of at most `size` items taken in order. With `checkpoints`, each page's
    checkpoint is `Cursor(kind, v)` for the largest v in it such that every later item's
    value is greater than v (items must come in ascending order of value; an item with no
    value, None, never gives one). Without, no page has one (e.g. a scope that is only part
    of the stream)."""
    if size < 1:
        raise ValueError("size >= 1")
    it = iter(items)
    batch = list(islice(it, size))
    while batch:
        following = list(islice(it, size))
        records: list[Record] = []
        deletions: list[str] = []
        rejected: list[Rejected] = []
        for obj in batch:
            if type(obj) is Marked:
                if isinstance(obj.item, str):
                    deletions.append(obj.item)
                else:
                    rejected.append(obj.item)
            else:
                records.append(obj)  # type: ignore[arg-type]
        checkpoint = None
        if checkpoints:
            after = _first_value(following, position)
            safe = _safe_value(batch, after, position) if after is not _UNKNOWN else None
            checkpoint = Cursor(kind, safe) if safe is not None else None
        yield Page(records, deletions, rejected, checkpoint)
        batch = following


def _value(obj: Item, position: Callable[[Record], Any]) -> Any:
    return obj.at if type(obj) is Marked else position(obj)  # type: ignore[arg-type]


#: The next page holds items, none of them with a value: what follows is not known.
_UNKNOWN = object()


def _first_value(following: list[Item], position: Callable[[Record], Any]) -> Any:
    """The smallest value that follows a page: the first one of the next page (items come in
    ascending order; those without a value are skipped). None when nothing follows, and
    _UNKNOWN when the next page has items but no value, so no checkpoint is safe."""
    for obj in following:
        value = _value(obj, position)
        if value is not None:
            return value
    return _UNKNOWN if following else None


def _safe_value(batch: list[Item], after: Any, position: Callable[[Record], Any]) -> Any:
    """The largest value of `batch` below `after` (any, when nothing follows)."""
    for obj in reversed(batch):
        value = _value(obj, position)
        if value is not None and (after is None or value < after):
            return value
    return None


def unordered(pages: Iterable[Page], checkpoint: Cursor | None) -> Iterator[Page]:
    """The pages without their checkpoints, the last one carrying `checkpoint` (an empty page
    does when there is none): a read in no order is only safe to resume from once whole."""
    last: Page | None = None
    for page in pages:
        if last is not None:
            yield last
        last = replace(page, checkpoint=None)
    yield Page(checkpoint=checkpoint) if last is None else replace(last, checkpoint=checkpoint)


def scoped(
    key: str,
    pages: Iterable[Page],
    *,
    restarted: bool = False,
    markers_apart: bool = False,
    end_checkpoint: Cursor | None = None,
) -> Iterator[Page]:
    """The pages between ScopeStart(key) and ScopeEnd(key): a scope the source lists in full.

    By default the markers ride on the pages (ScopeStart on the first, applying before its
    records; ScopeEnd on the last, applying after), with an empty page for whichever has no
    page of its own (one page: its ScopeEnd page repeats its checkpoint). `markers_apart`:
    each marker on an empty page of its own, the ScopeStart yielded before the first page is
    read. `end_checkpoint`: the checkpoint of the ScopeEnd page (by default the last page's)."""
    start = ScopeStart(key, restarted=restarted)
    if markers_apart:
        yield Page(scope=start)
        yield from pages
        yield Page(scope=ScopeEnd(key), checkpoint=end_checkpoint)
        return
    it = iter(pages)
    current = next(it, None)
    if current is None:
        yield Page(scope=start)
        yield Page(scope=ScopeEnd(key), checkpoint=end_checkpoint)
        return
    following = next(it, None)
    yield replace(current, scope=start)
    if following is None:
        end = end_checkpoint if end_checkpoint is not None else current.checkpoint
        yield Page(scope=ScopeEnd(key), checkpoint=end)
        return
    current = following
    for following in it:
        yield current
        current = following
    end = end_checkpoint if end_checkpoint is not None else current.checkpoint
    yield replace(current, scope=ScopeEnd(key), checkpoint=end)


def deletion_pages(
    keys: Iterable[str], size: int, *, checkpoint: Cursor | None = None
) -> Iterator[Page]:
    """Deleted keys in pages of `size`; the last page (an empty one when there are no keys)
    carries `checkpoint`, e.g. the time the delete log was read up to."""
    return unordered((Page(deletions=chunk) for chunk in _chunks(iter(keys), size)), checkpoint)


def _chunks(it: Iterator[str], size: int) -> Iterator[list[str]]:
    while chunk := list(islice(it, size)):
        yield chunk
