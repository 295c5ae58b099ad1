"""The runner's read-ahead (jobs/prefetch.py): a producer thread fetches the next pages while
a batch is written. Order, bound, cancel, errors and lease loss, on both engines."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Cursor, Page, ReadRequest
from pmo_ledger.connectors.errors import ConnectorTransientError, SourceError
from pmo_ledger.jobs.prefetch import Prefetch
from pmo_ledger.jobs.run_records import StreamResult
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine, SyncLock, SyncState
from pmo_ledger.ledger.settings import LedgerSettings
from tests.jobs.scripted import ScriptedConnector, line, make_app

DEPTH = 2
DEFAULT = LedgerSettings().prefetch_pages  # what a configuration without it reads ahead


class AheadConnector(ScriptedConnector):
    """A scripted source the runner reads ahead of its writes (as it does Salesforce's)."""

    reads_ahead: ClassVar[bool] = True


class Source:
    """Pages of two lines each, `pages` of them (None: until the reader stops asking); counts
    what was pulled and in which thread."""

    def __init__(
        self, pages: int | None, fail_after: int | None = None, error: Exception | None = None
    ) -> None:
        self.pages, self.fail_after, self.error = pages, fail_after, error
        self.pulled = 0
        self.threads: set[str] = set()
        self.closed = False

    def __call__(self, request: ReadRequest) -> Iterator[Page]:
        try:
            i = 0
            while self.pages is None or i < self.pages:
                if self.fail_after is not None and i == self.fail_after:
                    assert self.error is not None
                    raise self.error
                self.threads.add(threading.current_thread().name)
                self.pulled += 1
                yield Page(
                    records=[line(f"k{i}a"), line(f"k{i}b")], checkpoint=Cursor("offset", i + 1)
                )
                i += 1
        finally:
            self.closed = True


def _lines(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(ActualLine)) or 0)


def _checkpoint(engine: Engine) -> Any:
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        return state.checkpoint if state else None


def _producers() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("prefetch-") and t.is_alive()
    ]


def test_pages_read_ahead_are_written_in_order_and_the_producer_ends(
    engine: Engine, tmp_path: Path
) -> None:
    app = make_app(engine, tmp_path, batch_rows=7, prefetch_pages=DEPTH)
    source = Source(30)
    result = run_sync(app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": source}))
    assert result.status == "succeeded"
    assert _lines(engine) == 60
    assert result.streams[0].stats.written == 60
    assert _checkpoint(engine) == {"kind": "offset", "value": 30}
    assert source.threads == {"prefetch-s1-actuals"}  # not the runner's own thread
    assert source.closed and _producers() == []


def test_a_remote_kind_is_read_ahead_by_default(engine: Engine, tmp_path: Path) -> None:
    """No `prefetch_pages` in the configuration: a kind that reads ahead is read by the
    producer thread, at most the default depth ahead of the writes."""
    app = make_app(engine, tmp_path, batch_rows=2)  # one page a batch
    assert app.config.ledger.prefetch_pages == DEFAULT == 4
    source = Source(12)
    leads: list[int] = []

    def slow_batch(outcome: StreamResult) -> None:
        time.sleep(0.05)
        leads.append(source.pulled - outcome.stats.written // 2)

    result = run_sync(app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": source}),
                      on_batch=slow_batch)  # fmt: skip
    assert result.status == "succeeded" and _lines(engine) == 24
    assert source.threads == {"prefetch-s1-actuals"}
    assert max(leads) == DEFAULT + 1


def test_the_producer_stays_at_most_its_depth_ahead(engine: Engine, tmp_path: Path) -> None:
    app = make_app(engine, tmp_path, batch_rows=2, prefetch_pages=DEPTH)  # one page a batch
    source = Source(12)
    leads: list[int] = []

    def slow_batch(outcome: StreamResult) -> None:
        time.sleep(0.05)  # the producer fills its queue meanwhile
        leads.append(source.pulled - outcome.stats.written // 2)

    result = run_sync(
        app,
        "s1",
        streams=["actuals"],
        connector=AheadConnector({"actuals": source}),
        on_batch=slow_batch,
    )
    assert result.status == "succeeded" and _lines(engine) == 24
    # Queued pages plus the one the producer holds: never more, and it did read ahead.
    assert max(leads[:-3]) == DEPTH + 1
    assert max(leads) <= DEPTH + 1


def test_without_read_ahead_the_runner_reads_in_its_own_thread(
    engine: Engine, tmp_path: Path
) -> None:
    app = make_app(engine, tmp_path, batch_rows=7, prefetch_pages=0)
    source = Source(5)
    result = run_sync(app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": source}))
    assert result.status == "succeeded" and _lines(engine) == 10
    assert source.threads == {threading.current_thread().name}


def _ahead(engine: Engine, tmp_path: Path, depth: int | None, **ledger: Any) -> Any:
    """An app reading `depth` pages ahead (None: the default, not in the configuration)."""
    if depth is not None:
        ledger["prefetch_pages"] = depth
    return make_app(engine, tmp_path, **ledger)


@pytest.mark.parametrize("depth", [DEPTH, None])
def test_a_cancel_stops_the_producer_within_one_page_and_writes_whole_pages(
    engine: Engine, tmp_path: Path, depth: int | None
) -> None:
    app = _ahead(engine, tmp_path, depth, batch_rows=2)
    ahead = depth or DEFAULT
    source = Source(None)  # it would never end by itself
    cancel = threading.Event()
    pulled_at_cancel: list[int] = []

    def cancel_after_three(outcome: StreamResult) -> None:
        if outcome.stats.written == 6 and not cancel.is_set():
            pulled_at_cancel.append(source.pulled)
            cancel.set()

    result = run_sync(
        app,
        "s1",
        streams=["actuals"],
        connector=AheadConnector({"actuals": source}),
        cancel=cancel,
        on_batch=cancel_after_three,
    )
    assert result.status == "interrupted"
    assert result.message == (
        "cancelled during stream actuals; the next run resumes from the last committed checkpoint"
    )
    # At most the page it was fetching when the cancel came, then it stopped.
    assert source.pulled <= pulled_at_cancel[0] + 1
    assert source.closed and _producers() == []
    # Every page it handed over is written whole, and the checkpoint is the last one written.
    written = _lines(engine)
    assert written == 2 * source.pulled
    assert _checkpoint(engine) == {"kind": "offset", "value": source.pulled}
    assert 6 <= written <= 2 * (3 + ahead + 1)


@pytest.mark.parametrize("depth", [0, DEPTH])
def test_a_cancel_before_the_first_page_ends_the_run_interrupted_not_read_to_its_end(
    engine: Engine, tmp_path: Path, depth: int
) -> None:
    """A cancel that comes before a stream's read asks for its first page: the read ends
    without a page, and the run is interrupted, not a stream read to its end (in turn as
    read ahead: the service's stop found runs ending `succeeded` with nothing read)."""
    app = make_app(engine, tmp_path, prefetch_pages=depth)
    source = Source(5)
    cancel = threading.Event()
    cancel.set()
    result = run_sync(
        app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": source}),
        cancel=cancel,
    )  # fmt: skip
    assert (result.status, result.message) == (
        "interrupted",
        "cancelled during stream actuals; the next run resumes from the last committed checkpoint",
    )
    assert source.pulled <= 1 and _lines(engine) == 2 * source.pulled  # at most one page, whole
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is None or state.finished_at is None


@pytest.mark.parametrize("depth", [DEPTH, None])
def test_a_failing_producer_fails_the_stream_with_its_own_error(
    engine: Engine, tmp_path: Path, depth: int | None
) -> None:
    app = _ahead(engine, tmp_path, depth, batch_rows=4)
    source = Source(None, fail_after=5, error=SourceError("the org answered 400: INVALID_FIELD"))
    result = run_sync(app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": source}))
    assert result.status == "failed"
    assert result.streams[0].message == "source error: the org answered 400: INVALID_FIELD"
    # The five complete pages before the error are committed (the read stops as before).
    assert _lines(engine) == 10
    assert _checkpoint(engine) == {"kind": "offset", "value": 5}
    assert _producers() == []


def test_a_producer_that_crashes_fails_the_run_with_its_cause(
    engine: Engine, tmp_path: Path
) -> None:
    app = make_app(engine, tmp_path, batch_rows=100, prefetch_pages=DEPTH)
    source = Source(None, fail_after=3, error=KeyError("Amount__c"))
    result = run_sync(app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": source}))
    assert result.status == "failed"
    assert result.streams[0].message == "unexpected error: KeyError: 'Amount__c'"
    # What committed stays (whole pages, with their checkpoint); the open batch is rolled back.
    written = _lines(engine)
    assert written % 2 == 0 and written <= 6
    if written:
        assert _checkpoint(engine) == {"kind": "offset", "value": written // 2}
    assert _producers() == []


def test_a_transient_error_of_the_producer_ends_the_run_partial(
    engine: Engine, tmp_path: Path
) -> None:
    app = make_app(engine, tmp_path, batch_rows=100, prefetch_pages=DEPTH)
    source = Source(
        None,
        fail_after=4,
        error=ConnectorTransientError("the org is busy (REQUEST_LIMIT_EXCEEDED)"),
    )
    result = run_sync(app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": source}))
    assert result.status == "partial"
    assert result.streams[0].message == "the org is busy (REQUEST_LIMIT_EXCEEDED)"
    assert _lines(engine) == 8 and _checkpoint(engine) == {"kind": "offset", "value": 4}


@pytest.mark.parametrize("depth", [DEPTH, None])
def test_a_lost_lease_stops_the_producer(engine: Engine, tmp_path: Path, depth: int | None) -> None:
    app = _ahead(engine, tmp_path, depth, batch_rows=2)
    ahead = depth or DEFAULT
    pulled = 0

    def hijacked(request: object) -> Iterator[Page]:
        nonlocal pulled
        for i in range(10_000):
            if i == 1:
                with engine.begin() as conn:
                    conn.execute(
                        update(SyncLock).where(SyncLock.connector == "s1").values(holder="intruder")
                    )
            pulled += 1
            yield Page(records=[line(f"h{i}")], checkpoint=Cursor("offset", i + 1))

    result = run_sync(
        app, "s1", streams=["actuals"], connector=AheadConnector({"actuals": hijacked})
    )
    assert result.status == "failed" and "lease of s1 was lost" in result.message
    assert pulled <= 2 + ahead + 1  # the producer stopped soon after the batch was refused
    assert _lines(engine) <= 1
    assert _producers() == []
    with Session(engine) as s:
        assert s.scalar(select(SyncLock.holder)) == "intruder"


def test_prefetch_hands_over_the_error_after_the_pages_before_it() -> None:
    def pages() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("page 3 is broken")

    got: list[int] = []
    reader = Prefetch(pages, depth=4)
    try:
        for item in reader:
            got.append(item)
    except ValueError as exc:
        assert str(exc) == "page 3 is broken"
        assert exc.__traceback__ is not None
    else:
        raise AssertionError("the error was not raised")
    finally:
        reader.close()
    assert got == [1, 2]


def test_closing_prefetch_early_closes_the_read_in_its_own_thread() -> None:
    closed_in: list[str] = []

    def pages() -> Iterator[int]:
        try:
            yield from range(1000)
        finally:
            closed_in.append(threading.current_thread().name)

    reader = Prefetch(pages, depth=2, name="prefetch-test")
    for item in reader:
        if item == 3:
            break
    reader.close()
    assert closed_in == ["prefetch-test"]
    assert _producers() == []
