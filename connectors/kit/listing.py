"""Deletions of master data a source never reports: the keys each full read listed.

A source without a delete log (SAP's PROJ/PRPS and OData services, a folder of workbooks)
only lists what exists. A connector reading such a stream whole every run remembers the keys
the read listed in the stream's checkpoint (a `token` cursor) and reports, on the next full
read, every key listed then and not now as deleted (`Page.deletions`, as a delete log would).

- `pack`/`unpack`: keys <-> compact text (sorted, newline-joined, zlib, base64);
- `token`/`remembered`: one key set in a token (`<read time> listed:<packed>`);
- `group_token`/`remembered_groups`: key sets per group (a file, ...) in one token (JSON);
- `vanished`: the keys listed before and not now, with the guard: a read that lists nothing
  while the last one listed keys, or that would delete more than `share` of them (and more
  than `minimum`), raises `MassDeletion` with the numbers instead (the caller keeps its
  checkpoint, so the next read compares with the same keys);
- `stream_listing`: a connector stream's `Listing` from its checkpoint, the guard's message
  naming the connector's `max_vanished_share` / `max_vanished_min` settings;
- `Listing`: wraps a stream's items (`kit.pages.Item`), remembers their keys and yields a
  deletion (`Marked(None, key)`) for each vanished key after the last item; a read that
  listed one key twice (pages that disagree: one repeated a row, so another may be skipped)
  deletes nothing (`Listing.twice`); `Listing.pages` does the same for a read already cut
  into pages, a page's records of one key (one source row split by period) listing it once.

A token written before a connector used this (or one that cannot be read) remembers nothing:
that read deletes nothing. Nothing here imports SQLAlchemy or an HTTP client.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from decimal import Decimal

from pmo_ledger.connectors.base import Cursor, Page
from pmo_ledger.connectors.errors import StreamConfigError
from pmo_ledger.connectors.kit.pages import Item, Marked
from pmo_ledger.ledger.records import Rejected

#: Between the read's time and the packed keys in a single-set token.
SEPARATOR = " listed:"


class MassDeletion(StreamConfigError):
    """A full read of master data would delete more than the guard allows."""


def pack(keys: Iterable[str]) -> str:
    """`keys` (deduplicated, sorted) as compact ASCII text."""
    joined = "\n".join(sorted(set(keys))).encode("utf-8")
    return base64.b64encode(zlib.compress(joined, 9)).decode("ascii")


def unpack(text: str) -> set[str] | None:
    """The keys `pack` wrote, or None for text it did not write."""
    try:
        raw = zlib.decompress(base64.b64decode(text.encode("ascii"), validate=True))
    except (ValueError, zlib.error):
        return None
    return set(filter(None, raw.decode("utf-8").split("\n")))


def token(keys: Iterable[str], at: datetime | None = None) -> Cursor:
    """A token holding the read's time and the keys it listed."""
    stamp = (at or datetime.now(UTC)).isoformat(timespec="seconds")
    return Cursor("token", f"{stamp}{SEPARATOR}{pack(keys)}")


def remembered(checkpoint: Cursor | None) -> set[str] | None:
    """The keys the last read listed, from its token (None: none remembered)."""
    if checkpoint is None or checkpoint.kind != "token":
        return None
    _, sep, blob = str(checkpoint.value).partition(SEPARATOR)
    return unpack(blob) if sep else None


def group_token(groups: Mapping[str, Iterable[str]]) -> Cursor:
    """A token holding, per group (e.g. a file), the keys the read listed for it: JSON
    `{"v": 1, "files": {group: [keys, sorted]}}`, readable in `pmo-ledger` status output (a
    group's keys are few; a single large set is `token`'s packed form)."""
    listed = {name: sorted(set(keys)) for name, keys in groups.items()}
    return Cursor("token", json.dumps({"v": 1, "files": listed}, sort_keys=True))


def remembered_groups(checkpoint: Cursor | None) -> dict[str, set[str]]:
    """group -> keys from a `group_token` (empty when none or another form: nothing is then
    reversed)."""
    if checkpoint is None or checkpoint.kind != "token":
        return {}
    try:
        data = json.loads(str(checkpoint.value))
    except ValueError:
        return {}
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict):
        return {}
    return {str(k): {str(x) for x in v} for k, v in files.items() if isinstance(v, list)}


def vanished(
    previous: set[str] | None,
    now: set[str],
    *,
    what: str = "",
    share: Decimal | None = None,
    minimum: int = 0,
    hint: str = "",
) -> list[str]:
    """The keys `previous` listed and `now` does not, sorted. With `share`, raises
    MassDeletion when `now` is empty while keys vanish, or more than `share` of `previous`
    (and more than `minimum`) vanish; `what` starts its message, `hint` ends it."""
    if not previous:
        return []
    gone = sorted(previous - now)
    if share is None or not gone:
        return gone
    if not now or len(gone) > max(share * len(previous), Decimal(minimum)):
        raise MassDeletion(
            f"{what} lists {len(now)} keys where the last read listed {len(previous)}: "
            f"{len(gone)} would be deleted, over the limit{hint}"
        )
    return gone


def key_of(item: Item) -> str | None:
    """The source key an item lists: a record's external id, a flagged deletion's key, a
    rejected row's key (it exists in the source, readable or not)."""
    if isinstance(item, Marked):
        if isinstance(item.item, Rejected):
            return item.item.external_id
        return item.item
    return getattr(item, "external_id", None)


class Listing:
    """Wraps a full read's items: remembers their keys, then yields a deletion for each key
    the last read listed and this one does not (`vanished`, guarded by `share`/`minimum`)."""

    def __init__(
        self,
        previous: set[str] | None,
        *,
        what: str,
        share: Decimal,
        minimum: int,
        hint: str = "",
    ) -> None:
        self.previous, self.what, self.hint = previous, what, hint
        self.share, self.minimum = share, minimum
        self.keys: set[str] = set()
        #: Keys the read listed more than once: its pages disagreed (an unordered page
        #: repeats a row and skips another), so it deletes nothing.
        self.twice: list[str] = []

    def items(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            self._list(key_of(item))
            yield item
        yield from (Marked(None, key) for key in self.vanished())

    def pages(self, pages: Iterable[Page]) -> Iterator[Page]:
        """The pages as they come, then one page of the vanished keys (when any). A page
        lists the external ids of its records, its deletions and its rejected rows' keys,
        each once: the records of one key in one page are one source row."""
        for page in pages:
            keys = [r.external_id for r in page.records] + list(page.deletions)
            for key in dict.fromkeys([*keys, *(r.external_id for r in page.rejected)]):
                self._list(key)
            yield page
        gone = self.vanished()
        if gone:
            yield Page(deletions=gone)

    def _list(self, key: str | None) -> None:
        if key:
            if key in self.keys:
                self.twice.append(key)
            self.keys.add(key)

    def vanished(self) -> list[str]:
        if self.twice:
            return []
        return vanished(
            self.previous,
            self.keys,
            what=self.what,
            share=self.share,
            minimum=self.minimum,
            hint=self.hint,
        )

    def checkpoint(self) -> Cursor:
        return token(self.keys)


def stream_listing(
    checkpoint: Cursor | None,
    *,
    name: str,
    stream: str,
    share: Decimal,
    minimum: int,
    source: str,
) -> Listing:
    """The `Listing` of stream `stream` of connector `name` (a `source`, e.g. SAP) from the
    stream's checkpoint, its guard's message naming the settings that raise the limit."""
    return Listing(
        remembered(checkpoint),
        what=f"{name}: stream {stream}",
        share=share,
        minimum=minimum,
        hint=(
            f" (connectors.{name}.max_vanished_share / max_vanished_min); nothing was deleted. "
            f"If {source} really lost them, raise the limit for one run"
        ),
    )


__all__ = [
    "Listing",
    "MassDeletion",
    "group_token",
    "key_of",
    "pack",
    "remembered",
    "remembered_groups",
    "stream_listing",
    "token",
    "unpack",
    "vanished",
]
