"""The kit's pages: tie-safe checkpoints on ordered reads, a last-page checkpoint on
unordered ones, scope markers, deletion pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from pmo_ledger.connectors.base import Cursor, Page, ScopeEnd, ScopeStart
from pmo_ledger.connectors.kit.pages import (
    Marked,
    deletion_pages,
    ordered_pages,
    scoped,
    unordered,
)
from pmo_ledger.ledger.records import ActualRecord, Rejected

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def line(key: str, second: int) -> ActualRecord:
    return ActualRecord(
        external_id=key,
        project_ref="P1",
        posted_on=date(2026, 1, 5),
        amount=Decimal("10.00"),
        currency="EUR",
        source_modified_at=at(second),
    )


def ts(second: int) -> Cursor:
    return Cursor("timestamp", at(second))


def keys(page: Page) -> list[str]:
    return [r.external_id for r in page.records]


def test_distinct_values_checkpoint_each_page_at_its_last_row() -> None:
    rows = [line(f"A{i}", i) for i in range(5)]
    pages = list(ordered_pages(rows, 2))
    assert [keys(p) for p in pages] == [["A0", "A1"], ["A2", "A3"], ["A4"]]
    assert [p.checkpoint for p in pages] == [ts(1), ts(3), ts(4)]


def test_a_tie_across_pages_moves_the_checkpoint_before_it() -> None:
    """Rows at 1, 2, 2 | 2, 3: the first page ends inside the tie at 2, so its checkpoint is
    1 (every row at 2 is not yet listed); the second page's is 3."""
    rows = [line("A", 1), line("B", 2), line("C", 2), line("D", 2), line("E", 3)]
    pages = list(ordered_pages(rows, 3))
    assert [keys(p) for p in pages] == [["A", "B", "C"], ["D", "E"]]
    assert [p.checkpoint for p in pages] == [ts(1), ts(3)]


def test_a_page_that_is_all_one_tie_has_no_checkpoint() -> None:
    """Rows 5, 5 | 5, 5 | 6: the first two pages hold only the tie at 5 and it goes on, so
    neither may be checkpointed; the last is at 6."""
    rows = [line(k, 5) for k in "ABCD"] + [line("E", 6)]
    pages = list(ordered_pages(rows, 2))
    assert [p.checkpoint for p in pages] == [None, ts(5), ts(6)]


def test_a_tie_ending_exactly_at_the_page_end_is_safe() -> None:
    """Rows 1, 2, 2 | 3: the tie ends with the page, so the page's checkpoint is 2."""
    rows = [line("A", 1), line("B", 2), line("C", 2), line("D", 3)]
    assert [p.checkpoint for p in ordered_pages(rows, 3)] == [ts(2), ts(3)]


def test_deletions_and_rejected_rows_go_in_order_and_count_for_ties() -> None:
    """A Marked deletion at 4 ties with the next page's row at 4: the checkpoint stays at 3."""
    bad = Rejected("X9", "unreadable_row", {"error": "no amount"})
    items = [line("A", 3), Marked(at(3), bad), Marked(at(4), "OLD1"), line("B", 4)]
    pages = list(ordered_pages(items, 3))
    assert keys(pages[0]) == ["A"]
    assert list(pages[0].rejected) == [bad]
    assert list(pages[0].deletions) == ["OLD1"]
    assert pages[0].checkpoint == ts(3)
    assert (keys(pages[1]), pages[1].checkpoint) == (["B"], ts(4))


def test_other_cursor_kinds_and_positions() -> None:
    """An offset-ordered source (e.g. Workfront IDs sorted, or a sequence number)."""
    rows = [line(f"L{n}", 0) for n in (10, 11, 11, 12)]
    pages = list(ordered_pages(rows, 2, kind="offset", position=lambda r: int(r.external_id[1:])))
    assert [p.checkpoint for p in pages] == [Cursor("offset", 10), Cursor("offset", 12)]


def test_without_checkpoints_no_page_has_one() -> None:
    rows = [line(f"A{i}", i) for i in range(3)]
    assert [p.checkpoint for p in ordered_pages(rows, 2, checkpoints=False)] == [None, None]


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="size >= 1"):
        list(ordered_pages([], 0))


def test_unordered_reads_checkpoint_only_the_last_page() -> None:
    """Bulk pages in no order: checkpoints dropped, the read's start on the last page."""
    pages = [Page([line("B", 9)], checkpoint=ts(9)), Page([line("A", 1)], checkpoint=ts(1))]
    out = list(unordered(pages, ts(100)))
    assert [(keys(p), p.checkpoint) for p in out] == [(["B"], None), (["A"], ts(100))]
    assert list(unordered([], ts(100))) == [Page(checkpoint=ts(100))]


def test_scoped_puts_the_markers_on_the_first_and_last_pages() -> None:
    pages = list(scoped("actuals", ordered_pages([line(f"A{i}", i) for i in range(5)], 2)))
    assert [p.scope for p in pages] == [ScopeStart("actuals"), None, ScopeEnd("actuals")]
    assert [keys(p) for p in pages] == [["A0", "A1"], ["A2", "A3"], ["A4"]]
    assert pages[-1].checkpoint == ts(4)


def test_scoped_one_page_gets_its_own_scope_end_page_with_its_checkpoint() -> None:
    pages = list(scoped("project:P1", ordered_pages([line("A", 1)], 5)))
    assert [(p.scope, keys(p), p.checkpoint) for p in pages] == [
        (ScopeStart("project:P1"), ["A"], ts(1)),
        (ScopeEnd("project:P1"), [], ts(1)),
    ]


def test_scoped_empty_read_is_two_marker_pages() -> None:
    """An empty scope still ends: everything it held in the ledger is gone."""
    assert list(scoped("actuals", iter([]), end_checkpoint=ts(7))) == [
        Page(scope=ScopeStart("actuals")),
        Page(scope=ScopeEnd("actuals"), checkpoint=ts(7)),
    ]


def test_scoped_markers_apart_restarted_and_an_end_checkpoint() -> None:
    """Markers on pages of their own (ScopeStart before the first page is read), a restarted
    read, the read's start time as the ScopeEnd's checkpoint."""
    read: list[str] = []

    def source() -> object:
        read.append("first page")
        yield Page([line("A", 1)])

    out = scoped("actuals", source(), restarted=True, markers_apart=True, end_checkpoint=ts(0))
    assert next(out) == Page(scope=ScopeStart("actuals", restarted=True))
    assert read == []
    assert [(p.scope, keys(p), p.checkpoint) for p in out] == [
        (None, ["A"], None),
        (ScopeEnd("actuals"), [], ts(0)),
    ]


def test_deletion_pages_chunk_the_keys_and_checkpoint_the_last() -> None:
    pages = list(deletion_pages(["D1", "D2", "D3"], 2, checkpoint=ts(50)))
    assert [(list(p.deletions), p.checkpoint) for p in pages] == [
        (["D1", "D2"], None),
        (["D3"], ts(50)),
    ]
    assert list(deletion_pages([], 2, checkpoint=ts(50))) == [Page(checkpoint=ts(50))]


def test_a_value_less_item_does_not_hide_a_tie_that_goes_on() -> None:
    """Rows 1, 2 | (a deletion with no value), 2 | 3: the next page's first value is 2, so the
    first page's checkpoint stays before the tie at 2 (1), not 2."""
    rows = [line("A", 1), line("B", 2), Marked(None, "X"), line("C", 2), line("D", 3)]
    assert [p.checkpoint for p in ordered_pages(rows, 2)] == [ts(1), ts(2), ts(3)]


def test_a_next_page_without_values_leaves_the_page_without_a_checkpoint() -> None:
    """Rows 1, 2 | (two deletions with no value): what follows is unknown, so no checkpoint."""
    rows = [line("A", 1), line("B", 2), Marked(None, "X"), Marked(None, "Y")]
    assert [p.checkpoint for p in ordered_pages(rows, 2)] == [None, None]
