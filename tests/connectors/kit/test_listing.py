"""The kit's listing: the keys each full read listed, kept in a token, diffed against the
next read, with the vanish guard."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from pmo_ledger.connectors.base import Cursor, Page
from pmo_ledger.connectors.kit.listing import (
    Listing,
    MassDeletion,
    group_token,
    pack,
    remembered,
    remembered_groups,
    token,
    unpack,
    vanished,
)
from pmo_ledger.connectors.kit.pages import Marked
from pmo_ledger.ledger.records import ProjectRecord, Rejected


def _project(key: str) -> ProjectRecord:
    return ProjectRecord(external_id=key, code=key, name=key)


def test_keys_pack_compactly_and_round_trip() -> None:
    keys = {f"P-{n:05d}.{t:02d}" for n in range(2000) for t in range(5)}  # 10,000 keys
    text = pack(keys)
    assert unpack(text) == keys
    assert text.isascii() and len(text) < len("\n".join(keys)) / 3
    assert unpack(pack([])) == set()
    assert unpack("not base64!") is None


def test_a_token_holds_the_read_time_and_its_keys() -> None:
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    cursor = token(["b", "a", "a", "Ä|odd"], at)
    assert cursor.kind == "token" and str(cursor.value).startswith(
        "2026-12-07T12:00:00+00:00 listed:"
    )
    assert remembered(cursor) == {"a", "b", "Ä|odd"}
    assert remembered(Cursor("token", "2026-12-07T12:00:00+00:00")) is None  # an older token
    assert remembered(None) is None


def test_group_tokens_keep_each_groups_keys() -> None:
    cursor = group_token({"/x/b.xlsx": ["b/2", "b/1"], "/x/a.xlsx": []})
    assert json.loads(str(cursor.value)) == {
        "v": 1,
        "files": {"/x/a.xlsx": [], "/x/b.xlsx": ["b/1", "b/2"]},
    }
    assert remembered_groups(cursor) == {"/x/a.xlsx": set(), "/x/b.xlsx": {"b/1", "b/2"}}
    assert remembered_groups(token(["a"])) == {}  # another form remembers nothing
    assert remembered_groups(None) == {}


def test_vanished_keys_and_the_guard() -> None:
    before = {f"k{n}" for n in range(10)}
    assert vanished(None, set()) == []  # nothing remembered: nothing deleted
    assert vanished(before, before - {"k3", "k7"}) == ["k3", "k7"]
    assert vanished(before, set()) == sorted(before)  # unguarded
    guard = {"what": "erp: stream tasks", "share": Decimal("0.25"), "minimum": 1}
    assert vanished(before, before - {"k1", "k2"}, **guard) == ["k1", "k2"]  # type: ignore[arg-type]
    with pytest.raises(MassDeletion) as too_many:
        vanished(before, {"k0", "k1", "k2"}, hint="; raise the limit", **guard)  # type: ignore[arg-type]
    assert str(too_many.value) == (
        "erp: stream tasks lists 3 keys where the last read listed 10: 7 would be deleted, "
        "over the limit; raise the limit"
    )
    with pytest.raises(MassDeletion, match="lists 0 keys"):
        vanished({"k0"}, set(), **guard)  # type: ignore[arg-type]


def test_a_listing_yields_the_vanished_keys_after_the_items() -> None:
    listing = Listing({"A", "B", "C", "D"}, what="erp: stream projects", share=Decimal("0.5"),
                      minimum=0)  # fmt: skip
    held = Marked(None, Rejected("C", "bad", {}))
    flagged = Marked(None, "D")
    out = list(listing.items([_project("A"), held, flagged]))
    assert out[:3] == [_project("A"), held, flagged]
    assert out[3:] == [Marked(None, "B")]  # a rejected or flagged key is still listed
    assert remembered(listing.checkpoint()) == {"A", "C", "D"}


def test_a_listing_of_pages_lists_a_key_split_over_records_once_and_ends_with_what_vanished() -> (
    None
):
    """A page's several records of one key (one row per period) list it once; the vanished
    keys come on a page of their own after the read's pages; a key in two pages deletes
    nothing."""
    listing = Listing({"A", "B", "C", "D"}, what="wf: stream assignments", share=Decimal("0.5"),
                      minimum=0)  # fmt: skip
    first = Page([_project("A"), _project("A")], rejected=[Rejected("C", "bad", {})])
    second = Page(deletions=["D"])
    assert list(listing.pages([first, second])) == [first, second, Page(deletions=["B"])]
    assert remembered(listing.checkpoint()) == {"A", "C", "D"}
    twice = Listing({"A", "B"}, what="wf", share=Decimal(1), minimum=0)
    pages = [Page([_project("A")]), Page([_project("A")])]
    assert list(twice.pages(pages)) == pages
    assert twice.twice == ["A"]
