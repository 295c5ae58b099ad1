"""How the hours stream is read, against a small local server that answers searches, counts
and journal entries (real sockets): a full read is a scope whose end carries the earlier of the
read's start on Workfront's clock and the latest lastUpdateDate read; an incremental read filters on lastUpdateDate, takes deletions from the
journal and checkpoints its last page only; an unreadable journal stops the stream with one
line naming `deletes = "scan"`; scan mode lists everything once per `scan_every`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from pmo_ledger.connectors.base import (
    ConnectorContext,
    Cursor,
    Page,
    ReadRequest,
    ScopeEnd,
    ScopeStart,
)
from pmo_ledger.connectors.errors import StreamConfigError
from pmo_ledger.connectors.workfront import WorkfrontConnector
from pmo_ledger.connectors.workfront.settings import WorkfrontSettings
from tests.connectors.kit.local_server import Answer, Seen, serving, url

#: This machine's clock: the server dates its answers with it (http.server's Date header).
NOW = datetime.now(UTC).replace(microsecond=0)
HOURS = [
    {"ID": f"{i:032x}", "hours": 8, "entryDate": "2025-03-03T00:00:00:000-0600",
     "status": status, "projectID": "p1", "lastUpdateDate": "2025-03-04T10:15:02:117-0600"}
    for i, status in ((1, "APP"), (2, "APP"), (3, "SUB"), (4, "APP"), (5, "APP"))
]  # fmt: skip
JOURNAL = [{"ID": "j1", "subObjID": "0" * 31 + "9", "subObjCode": "HOUR", "changeType": "D"}]


def workfront(journal: Answer | None = None) -> Callable[[Seen], Answer]:
    """Searches and counts of HOUR, PROJ and JRNLE (pages by $$FIRST / $$LIMIT)."""
    tables: dict[str, list[dict[str, Any]]] = {
        "HOUR": HOURS,
        "PROJ": [{"ID": "p1", "currency": "EUR"}],
        "JRNLE": JOURNAL,
    }

    def route(seen: Seen) -> Answer:
        obj, op = seen.path.split("/")[-2:]
        if obj == "JRNLE" and journal is not None:
            return journal
        rows = tables[obj]
        if op == "count":
            return Answer(200, {"data": {"count": len(rows)}})
        first, limit = int(seen.query["$$FIRST"]), int(seen.query["$$LIMIT"])
        return Answer(200, {"data": rows[first : first + limit]})

    return route


def read(base: str, request: ReadRequest, **settings: Any) -> list[Page]:
    config = WorkfrontSettings(base_url=base, api_key="k", page_size=2, **settings)
    connector = WorkfrontConnector(config, ConnectorContext("wf"))
    try:
        return list(connector.extract("hours", request))
    finally:
        connector.close()


def since(at: datetime) -> ReadRequest:
    """An incremental request from the checkpoint `at` (cursor: 15 minutes before it)."""
    return ReadRequest(Cursor("timestamp", at - timedelta(minutes=15)), Cursor("timestamp", at))


#: The latest lastUpdateDate of HOURS, in UTC.
LATEST = datetime(2025, 3, 4, 16, 15, 2, 117000, tzinfo=UTC)


def started_now(page: Page) -> bool:
    """The page's checkpoint is the earlier of the read's start on the server's clock (its
    Date: now) and the latest lastUpdateDate read: the latter here."""
    at = page.checkpoint.value if page.checkpoint is not None else None
    return at == LATEST


def test_a_full_read_is_a_scope_checkpointed_at_its_end_only() -> None:
    """ScopeStart on a page of its own, the records (the submitted hour a deletion), then
    ScopeEnd with the latest lastUpdateDate read (Workfront's Date is later); no other page
    has a checkpoint."""
    with serving(workfront()) as server:
        pages = read(url(server), ReadRequest())
    assert pages[0].scope == ScopeStart("hours") and not pages[0].records
    assert pages[-1].scope == ScopeEnd("hours")
    assert started_now(pages[-1])
    assert [p.checkpoint for p in pages[:-1]] == [None] * (len(pages) - 1)
    listed = [r.external_id for p in pages for r in p.records]
    assert listed == [HOURS[i]["ID"] for i in (0, 1, 3, 4)]
    assert [d for p in pages for d in p.deletions] == [HOURS[2]["ID"]]
    assert {r.currency for p in pages for r in p.records} == {"EUR"}  # type: ignore[union-attr]
    searches = [s for s in server.seen if s.path.endswith("/HOUR/search")]
    assert all("lastUpdateDate" not in s.query for s in searches)


def test_an_incremental_read_filters_changes_and_takes_deletions_from_the_journal() -> None:
    """lastUpdateDate >= the cursor (ISO in UTC), the journal asked for deleted HOURs since
    then; the deleted ID comes on the last page, which alone carries the checkpoint."""
    with serving(workfront()) as server:
        pages = read(url(server), since(datetime(2025, 3, 10, 11, tzinfo=UTC)))
    assert all(p.scope is None for p in pages)
    assert pages[-1].deletions == [JOURNAL[0]["subObjID"]]
    assert started_now(pages[-1])
    assert [p.checkpoint for p in pages[:-1]] == [None] * (len(pages) - 1)
    (journal,) = [s.query for s in server.seen if s.path.endswith("/JRNLE/search")]
    assert (journal["subObjCode"], journal["changeType"]) == ("HOUR", "D")
    assert (journal["entryDate"], journal["entryDate_Mod"]) == ("2025-03-10T10:45:00.000Z", "gte")
    hour = next(s.query for s in server.seen if s.path.endswith("/HOUR/search"))
    assert (hour["lastUpdateDate"], hour["lastUpdateDate_Mod"]) == (
        "2025-03-10T10:45:00.000Z", "gte",
    )  # fmt: skip
    assert hour["ID_Sort"] == "asc"


@pytest.mark.parametrize(
    "refusal",
    [
        Answer(403, {"error": {"class": "SecurityException", "message": "no access"}}),
        Answer(200, {"error": {"class": "UnsupportedOperationException", "message": "off"}}),
    ],
)
def test_an_unreadable_journal_stops_the_stream_with_the_fix(refusal: Answer) -> None:
    """A refused journal (403, or an error body with 200) is one line naming the fix; no
    hour is read before it."""
    with serving(workfront(journal=refusal)) as server:
        with pytest.raises(StreamConfigError) as caught:
            read(url(server), since(NOW))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("stream hours: Workfront's journal (JRNLE) cannot be read")
    assert message.endswith('set connectors.wf.deletes = "scan"')
    assert not [s for s in server.seen if s.path.endswith("/HOUR/search")]


def test_scan_mode_lists_everything_once_per_window_and_never_asks_the_journal() -> None:
    """deletes = "scan", scan_every 24h: a checkpoint before today's window (UTC days) reads
    the stream in full as a scope; one inside it reads incrementally; no journal either way."""
    today = NOW.replace(hour=0, minute=0, second=0)
    with serving(workfront()) as server:
        scan = read(url(server), since(today - timedelta(seconds=1)), deletes="scan")
        quiet = read(url(server), since(today + (NOW - today) / 2), deletes="scan")
    assert scan[0].scope == ScopeStart("hours") and scan[-1].scope == ScopeEnd("hours")
    assert all(p.scope is None for p in quiet) and started_now(quiet[-1])
    assert not [s for s in server.seen if "JRNLE" in s.path]


def test_report_sums_summed_in_floats_are_compared_at_the_ledgers_scale() -> None:
    from pmo_ledger.connectors.workfront.reader import _agg

    assert _agg({"sum_hours": Decimal("1234.5000000000002")}, "hours") == Decimal("1234.5000")
    assert _agg({"sum_actualCost": Decimal("99.99995")}, "actualCost") == Decimal("100.0000")


def test_a_read_that_sees_nothing_keeps_the_stored_checkpoint() -> None:
    """No hour changed and no journal entry: the last page carries the stored checkpoint,
    not Workfront's clock (which may run ahead of the clock stamping the rows)."""

    def route(seen: Seen) -> Answer:
        if seen.path.endswith("/count"):
            return Answer(200, {"data": {"count": 0}})
        if seen.path.endswith("/PROJ/search"):
            return Answer(200, {"data": [{"ID": "p1", "currency": "EUR"}]})
        return Answer(200, {"data": []})

    stored = datetime(2025, 3, 10, 11, tzinfo=UTC)
    with serving(route) as server:
        pages = read(url(server), since(stored))
    assert pages[-1].checkpoint == Cursor("timestamp", stored)
    assert not [r for p in pages for r in p.records]


def test_the_read_announces_its_count_on_its_first_page() -> None:
    """The count asked before the read (issue 19 item 1) is `Page.expected` of the first page
    (the runner's progress total), not repeated after; full and incremental reads alike."""
    with serving(workfront()) as server:
        full = read(url(server), ReadRequest())
        changed = read(url(server), since(datetime(2025, 3, 10, 11, tzinfo=UTC)))
    for pages in (full, changed):
        assert [p.expected for p in pages] == [len(HOURS)] + [None] * (len(pages) - 1)
