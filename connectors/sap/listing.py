"""Master data SAP deletes without saying so: a project or WBS element archived without the
deletion flag (LOEVM) ever being read, or any one over OData (whose services list what exists
and nothing else), is simply no longer listed.

PROJ/PRPS and A_EnterpriseProject/A_EnterpriseProjectElement carry no change log, so the
projects and tasks streams are full reads every run; each remembers the keys it listed in its
checkpoint (a `token`: the read's time, then the keys, sorted, compressed, base64). The next
full read compares: a key listed last time and not now is reported deleted (`Page.deletions`,
as a Salesforce or Workfront delete log reports them); a key flagged LOEVM or rejected as
unreadable is still listed (it exists in SAP). The runner's mass-delete guard covers actual
lines' scopes only, so the connector guards these deletions itself: a read that lists nothing
while the last listed keys, or that would delete more than `max_vanished_share` of them (and
more than `max_vanished_min`), stops that stream with the numbers instead of deleting
(`MassDeletion`; the checkpoint stays, so the next read compares with the same keys). The first
run after an upgrade has no remembered keys and deletes nothing.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

from pmo_ledger.connectors.base import Cursor
from pmo_ledger.connectors.errors import StreamConfigError
from pmo_ledger.connectors.kit.pages import Item, Marked
from pmo_ledger.ledger.records import Rejected

#: Between the read's time and the remembered keys in a projects/tasks token.
SEPARATOR = " listed:"


class MassDeletion(StreamConfigError):
    """A full read of master data would delete more than the guard allows."""


def remembered(checkpoint: Cursor | None) -> set[str] | None:
    """The keys the last read listed, from its token (None: none remembered, e.g. a token
    written before this existed, or an unreadable one)."""
    if checkpoint is None or checkpoint.kind != "token":
        return None
    _, sep, blob = str(checkpoint.value).partition(SEPARATOR)
    if not sep:
        return None
    try:
        text = zlib.decompress(base64.b64decode(blob.encode("ascii"), validate=True))
    except (ValueError, zlib.error):
        return None
    return set(filter(None, text.decode("utf-8").split("\n")))


def token(keys: Iterable[str], at: datetime | None = None) -> Cursor:
    """A token holding the read's time and the keys it listed."""
    stamp = (at or datetime.now(UTC)).isoformat(timespec="seconds")
    packed = zlib.compress("\n".join(sorted(set(keys))).encode("utf-8"), 9)
    return Cursor("token", f"{stamp}{SEPARATOR}{base64.b64encode(packed).decode('ascii')}")


def key_of(item: Item) -> str | None:
    """The source key an item lists: a record's external id, a flagged deletion's key, a
    rejected row's key (it exists in SAP, unreadable or not)."""
    if isinstance(item, Marked):
        if isinstance(item.item, Rejected):
            return item.item.external_id
        return item.item
    return getattr(item, "external_id", None)


class Listing:
    """Wraps a full read's items: remembers their keys, then yields a deletion for each key
    the last read listed and this one does not (see the module docstring)."""

    def __init__(
        self,
        previous: set[str] | None,
        *,
        name: str,
        stream: str,
        share: Decimal,
        minimum: int,
    ) -> None:
        self.previous, self.name, self.stream = previous, name, stream
        self.share, self.minimum = share, minimum
        self.keys: set[str] = set()

    def items(self, items: Iterable[Item]) -> Iterator[Item]:
        for item in items:
            key = key_of(item)
            if key:
                self.keys.add(key)
            yield item
        yield from (Marked(None, key) for key in self.vanished())

    def vanished(self) -> list[str]:
        if not self.previous:
            return []
        gone = sorted(self.previous - self.keys)
        too_many = len(gone) > max(self.share * len(self.previous), Decimal(self.minimum))
        if gone and (not self.keys or too_many):
            raise MassDeletion(
                f"{self.name}: stream {self.stream} lists {len(self.keys)} keys where the last "
                f"read listed {len(self.previous)}: {len(gone)} would be deleted, over the "
                f"limit (connectors.{self.name}.max_vanished_share / max_vanished_min); "
                "nothing was deleted. If SAP really lost them, raise the limit for one run"
            )
        return gone

    def checkpoint(self) -> Cursor:
        return token(self.keys)
