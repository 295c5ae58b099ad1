"""Pages from an ordered stream of items: page size, checkpoints, scope markers, fail-after.

Items come ordered by (modstamp, key), so a page's checkpoint, the modstamp of its last item,
is safe: every item with a smaller cursor value has been yielded. A scope read is wrapped in
ScopeStart (on its first page) and ScopeEnd (on its last, applying after its records); a read
of one page gets a second, empty page for its ScopeEnd.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import Any

from pmo_ledger.connectors.base import Cursor, Page, ScopeEnd, ScopeStart
from pmo_ledger.connectors.errors import ConnectorTransientError
from pmo_ledger.ledger.records import Record, Rejected


@dataclass(frozen=True, slots=True)
class Marked:
    """A deleted key or a rejected row in an ordered stream, with its modstamp (records carry
    their own, `source_modified_at`)."""

    at: datetime
    item: str | Rejected


#: What an ordered stream yields.
Item = Any  # Record | Marked


@dataclass(frozen=True, slots=True)
class Chunk:
    records: list[Record]
    deletions: list[str]
    rejected: list[Rejected]
    last: datetime


def chunks(items: Iterable[Item], size: int) -> Iterator[Chunk]:
    """Split records and Marked items into chunks of `size`."""
    it = iter(items)
    while True:
        batch = list(islice(it, size))
        if not batch:
            return
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
                records.append(obj)
        last = batch[-1]
        yield Chunk(
            records,
            deletions,
            rejected,
            last.at if type(last) is Marked else last.source_modified_at,
        )


def pages(
    items: Iterable[Item],
    size: int,
    *,
    scope: str | None,
    checkpoints: bool,
    fail_after: int | None = None,
    what: str = "read",
    delay: float = 0,
) -> Iterator[Page]:
    """The pages of a read. `scope`: wrap them in ScopeStart/ScopeEnd of that key.
    `checkpoints`: set each page's checkpoint (off for a scope that is a part of the stream).
    Raises ConnectorTransientError before a page past `fail_after`; waits `delay` seconds
    before each page."""
    yielded = 0

    def page(chunk: Chunk | None, marker: ScopeStart | ScopeEnd | None, last: Any) -> Page:
        nonlocal yielded
        if delay:
            time.sleep(delay)
        if fail_after is not None and yielded >= fail_after:
            raise ConnectorTransientError(f"{what}: the sample fails after {fail_after} pages")
        yielded += 1
        checkpoint = Cursor("timestamp", last) if checkpoints and last is not None else None
        if chunk is None:
            return Page(checkpoint=checkpoint, scope=marker)
        return Page(chunk.records, chunk.deletions, chunk.rejected, checkpoint, marker)

    parts = chunks(items, size)
    if scope is None:
        for chunk in parts:
            yield page(chunk, None, chunk.last)
        return
    current = next(parts, None)
    if current is None:
        yield page(None, ScopeStart(scope), None)
        yield page(None, ScopeEnd(scope), None)
        return
    first = True
    while True:
        following = next(parts, None)
        if first:
            yield page(current, ScopeStart(scope), current.last)
            if following is None:
                yield page(None, ScopeEnd(scope), current.last)
                return
        elif following is None:
            yield page(current, ScopeEnd(scope), current.last)
            return
        else:
            yield page(current, None, current.last)
        first, current = False, following
