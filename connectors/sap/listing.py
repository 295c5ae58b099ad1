"""Master data SAP deletes without saying so: a project or WBS element archived without the
deletion flag (LOEVM) ever being read, or any one over OData (whose services list what exists
and nothing else), is simply no longer listed.

PROJ/PRPS and A_EnterpriseProject/A_EnterpriseProjectElement carry no change log, so the
projects and tasks streams are full reads every run and report what vanished through the
connector kit's listing (`connectors.kit.listing`: the keys each full read listed, kept in
the stream's token). A key flagged LOEVM or rejected as unreadable is still listed (it exists
in SAP). The runner's mass-delete guard covers actual lines' scopes only, so these deletions
are guarded by the kit's vanish guard with `max_vanished_share` and `max_vanished_min`: over
the limit the stream stops with the numbers (`MassDeletion`) and deletes nothing. Before the
listing sees the end of a read, the keys it missed are read again by key (`streams.confirmed`):
a paged read skips a row when one before it goes between two pages.
"""

from __future__ import annotations

from decimal import Decimal

from pmo_ledger.connectors.base import Cursor
from pmo_ledger.connectors.kit.listing import (
    Listing,
    MassDeletion,
    remembered,
    stream_listing,
    token,
)


def listing(
    checkpoint: Cursor | None, *, name: str, stream: str, share: Decimal, minimum: int
) -> Listing:
    """The kit's `Listing` for SAP stream `stream` of connector `name` from its checkpoint,
    its guard's message naming the settings that raise the limit."""
    return stream_listing(
        checkpoint, name=name, stream=stream, share=share, minimum=minimum, source="SAP"
    )


__all__ = ["Listing", "MassDeletion", "listing", "remembered", "token"]
