"""The next stream's read opens while the stream before writes its last batch (jobs/sync.py,
`_read_ahead`): its first pages come during that commit, and what the run does stays what it
did when each read opened in its turn (order, errors, cancel, lease loss), on both engines."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Cursor, Page, ReadRequest, StreamSpec
from pmo_ledger.connectors.errors import ConnectorTransientError, SourceError
from pmo_ledger.jobs import sync as runner
from pmo_ledger.jobs.lease import Lease, LeaseLost
from pmo_ledger.jobs.run_records import StreamResult
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine, SyncState
from pmo_ledger.ledger.write import store_checkpoint
from tests.jobs.scripted import ScriptedConnector, line, make_app

FIRST_PAGES = 5  # two lines each: "f0a" .. "f4b"
WAIT = 5.0  # seconds the last batch of `first` waits for the next stream's read at most


class AheadConnector(ScriptedConnector):
    reads_ahead: ClassVar[bool] = True


class Second:
    """The stream read next: pages of two lines "s<i>a", "s<i>b" from the request's offset;
    counts what was pulled and where, and can fail at its first page."""

    def __init__(self, pages: int | None = 4, error: Exception | None = None) -> None:
        self.pages, self.error = pages, error
        self.pulled = 0
        self.started = threading.Event()  # its first page was asked for
        self.threads: set[str] = set()
        self.requests: list[ReadRequest] = []
        self.closed = False

    def __call__(self, request: ReadRequest) -> Iterator[Page]:
        self.requests.append(request)
        start = int(request.cursor.value) if request.cursor is not None else 0
        try:
            i = start
            while self.pages is None or i < start + self.pages:
                self.threads.add(threading.current_thread().name)
                self.started.set()
                if self.error is not None:
                    raise self.error
                self.pulled += 1
                yield Page(records=[line(f"s{i}a"), line(f"s{i}b")],
                           checkpoint=Cursor("offset", i + 1))  # fmt: skip
                i += 1
        finally:
            self.closed = True


def first(request: ReadRequest) -> Iterator[Page]:
    for i in range(FIRST_PAGES):
        yield Page(records=[line(f"f{i}a"), line(f"f{i}b")], checkpoint=Cursor("offset", i + 1))


def connector(second: Second) -> AheadConnector:
    specs = {name: StreamSpec(name, "offset") for name in ("first", "second")}
    return AheadConnector({"first": first, "second": second}, specs)


class LastBatch:
    """Wraps the runner's `apply_batch`: while the batch holding `first`'s last line is
    written (inside its transaction, before the commit), waits for `second`'s read to begin
    (at most WAIT seconds) and records what it saw; then runs `then(session)`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, second: Second, then: Any = None) -> None:
        self.second, self.then = second, then
        self.read_had_begun: bool | None = None
        self.second_lines: int | None = None
        self.first_done_before_second: list[bool] = []
        apply = runner.apply_batch

        def wrapped(session: Session, settings: Any, source: str, stream: str,
                    records: Any = (), *args: Any, **kw: Any) -> Any:  # fmt: skip
            keys = {r.external_id for r in records}
            if stream == "first" and f"f{FIRST_PAGES - 1}b" in keys:
                self.read_had_begun = second.started.wait(WAIT)
                self.second_lines = _lines(session, "s")
                if self.then is not None:
                    self.then(session)
            if stream == "second":
                state = session.get(SyncState, ("s1", "first"))
                self.first_done_before_second.append(
                    state is not None and state.finished_at is not None
                )
            return apply(session, settings, source, stream, records, *args, **kw)

        monkeypatch.setattr(runner, "apply_batch", wrapped)


def _lines(session: Session, prefix: str) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(ActualLine)
            .where(ActualLine.external_id.like(f"{prefix}%"))
        )
        or 0
    )


def lines(engine: Engine, prefix: str) -> int:
    with Session(engine) as s:
        return _lines(s, prefix)


def state(engine: Engine, stream: str) -> SyncState | None:
    with Session(engine) as s:
        return s.get(SyncState, ("s1", stream))


def producers() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.name.startswith("prefetch-") and t.is_alive()
    ]


def test_the_next_stream_is_read_while_the_last_batch_before_it_commits(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(engine, tmp_path, batch_rows=100)  # the default read-ahead
    second = Second(4)
    batches: list[tuple[str, int]] = []
    last = LastBatch(monkeypatch, second)

    def on_batch(outcome: StreamResult) -> None:
        batches.append((outcome.stream, outcome.stats.written))

    result = run_sync(app, "s1", connector=connector(second), on_batch=on_batch)
    assert result.status == "succeeded", result.message
    # Its first pages came while `first`'s last batch was written, and none was written then.
    assert last.read_had_begun is True and last.second_lines == 0
    assert second.threads == {"prefetch-s1-second"}
    # Written after `first` committed its end, in its turn: every page, in order.
    assert last.first_done_before_second and all(last.first_done_before_second)
    assert [s for s, _ in batches] == ["first", "second"]
    assert batches == [("first", 10), ("second", 8)]
    assert lines(engine, "f") == 10 and lines(engine, "s") == 8
    first_state, second_state = state(engine, "first"), state(engine, "second")
    assert first_state is not None and first_state.checkpoint == {"kind": "offset", "value": 5}
    assert second_state is not None and second_state.checkpoint == {"kind": "offset", "value": 4}
    assert first_state.finished_at is not None and second_state.finished_at is not None
    assert [(r.stream, r.status) for r in result.streams] == [
        ("first", "succeeded"),
        ("second", "succeeded"),
    ]
    assert second.closed and producers() == []


def test_in_turn_the_next_stream_opens_after_the_one_before(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`prefetch_pages = 0`: no read opens early (the last batch waits for nothing)."""
    monkeypatch.setattr("tests.jobs.test_sync_next_stream.WAIT", 0.3)
    app = make_app(engine, tmp_path, batch_rows=100, prefetch_pages=0)
    second = Second(2)
    last = LastBatch(monkeypatch, second)
    result = run_sync(app, "s1", connector=connector(second))
    assert result.status == "succeeded"
    assert last.read_had_begun is False
    assert second.threads == {threading.current_thread().name}
    assert lines(engine, "s") == 4


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (SourceError("the org answered 400: INVALID_FIELD"), "partial",
         "second: source error: the org answered 400: INVALID_FIELD"),
        (ConnectorTransientError("the org is busy (REQUEST_LIMIT_EXCEEDED)"), "partial",
         "stream second stopped early: the org is busy (REQUEST_LIMIT_EXCEEDED); the next run "
         "resumes from the last committed checkpoint"),
        (KeyError("Amount__c"), "partial",
         "stream second failed: KeyError: 'Amount__c'; the next run resumes from the last "
         "committed checkpoint (details in the log, run_id={run_id})"),
    ],
)  # fmt: skip
def test_a_next_read_that_fails_fails_its_own_stream_in_its_turn(
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: str,
    message: str,
) -> None:
    """The error comes while `first`'s last batch is written; `first` still commits whole and
    ends as read to its end, and the error is `second`'s, as the same exception."""
    app = make_app(engine, tmp_path, batch_rows=100)
    second = Second(None, error=error)
    last = LastBatch(monkeypatch, second)
    result = run_sync(app, "s1", connector=connector(second))
    assert last.read_had_begun is True
    assert (result.status, result.message) == (status, message.format(run_id=result.run_id))
    assert result.streams[0].status == "succeeded"
    assert result.streams[1].status in ("failed", "partial")
    assert lines(engine, "f") == 10 and lines(engine, "s") == 0
    first_state = state(engine, "first")
    assert first_state is not None and first_state.finished_at is not None
    assert first_state.checkpoint == {"kind": "offset", "value": 5}
    assert state(engine, "second") is None
    assert second.closed and producers() == []


def test_a_cancel_while_the_last_batch_commits_stops_the_next_read(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(engine, tmp_path, batch_rows=100)
    second = Second(None)  # it would never end by itself
    cancel = threading.Event()
    pulled_at_cancel: list[int] = []

    def cancel_now(session: Session) -> None:
        pulled_at_cancel.append(second.pulled)
        cancel.set()

    last = LastBatch(monkeypatch, second, cancel_now)
    result = run_sync(app, "s1", connector=connector(second), cancel=cancel)
    assert last.read_had_begun is True and pulled_at_cancel[0] >= 1
    assert (result.status, result.message) == (
        "interrupted",
        "cancelled during stream second; the next run resumes from the last committed checkpoint",
    )
    # `first` had read to its end: its last batch commits and it ends as read to its end.
    assert result.streams[0].status == "succeeded"
    first_state = state(engine, "first")
    assert first_state is not None and first_state.finished_at is not None
    # At most the page it was fetching when the cancel came; the pages it handed over are
    # written whole, after `first`, with the last one's checkpoint.
    assert second.pulled <= pulled_at_cancel[0] + 1
    assert lines(engine, "s") == 2 * second.pulled
    second_state = state(engine, "second")
    assert second_state is not None and second_state.finished_at is None
    assert second_state.checkpoint == {"kind": "offset", "value": second.pulled}
    assert all(last.first_done_before_second)
    assert second.closed and producers() == []


@pytest.mark.parametrize("fault", ["lease", "crash"])
def test_when_the_last_batch_fails_nothing_of_the_next_read_is_written(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    """The lease is lost, or the writer fails, in `first`'s last batch while `second`'s read
    is open: that batch rolls back, the run ends there, and the read is closed unwritten."""
    app = make_app(engine, tmp_path, batch_rows=100)
    second = Second(None)
    confirm = Lease.confirm

    def fail(session: Session) -> None:
        if fault == "crash":
            raise RuntimeError("the writer broke")

        def lost(self: Lease, conn: Any, now: Any = None) -> None:
            raise LeaseLost("the lease of s1 was lost (taken over or freed)")

        monkeypatch.setattr(Lease, "confirm", lost)

    LastBatch(monkeypatch, second, fail)
    result = run_sync(app, "s1", connector=connector(second))
    monkeypatch.setattr(Lease, "confirm", confirm)
    assert result.status == "failed"
    if fault == "lease":
        assert "lease of s1 was lost" in result.message and result.lease_lost
    else:
        assert result.message.startswith("stream first failed: RuntimeError: the writer broke")
    assert [r.stream for r in result.streams] == ["first"]  # the run ended in `first`
    assert lines(engine, "f") == 0 and lines(engine, "s") == 0
    assert state(engine, "second") is None
    assert second.pulled >= 1 and second.closed and producers() == []


def test_a_read_opened_ahead_is_dropped_when_the_ledger_changes_how_it_opens(
    engine: Engine, tmp_path: Path
) -> None:
    """`second`'s checkpoint moves while `first`'s last batch commits (another writer): the
    read opened ahead from the old one is closed unwritten and `second` reads from the new."""
    app = make_app(engine, tmp_path, batch_rows=100)
    second = Second(3)
    moved = False

    def move_checkpoint(outcome: StreamResult) -> None:
        nonlocal moved
        if outcome.stream == "first" and not moved:
            assert second.started.wait(WAIT)  # the read opened ahead has begun
            moved = True
            with Session(engine) as s, s.begin():
                store_checkpoint(s, "s1", "second", run_id=None, fingerprint=None,
                                 checkpoint={"kind": "offset", "value": 10})  # fmt: skip

    result = run_sync(app, "s1", connector=connector(second), on_batch=move_checkpoint)
    assert result.status == "succeeded", result.message
    assert [r.cursor for r in second.requests] == [None, Cursor("offset", 10)]
    # Only the second read's pages are written: s10..s12.
    with Session(engine) as s:
        written = set(s.scalars(select(ActualLine.external_id).where(
            ActualLine.external_id.like("s%"))))  # fmt: skip
    assert written == {f"s{i}{x}" for i in (10, 11, 12) for x in "ab"}
    second_state = state(engine, "second")
    assert second_state is not None and second_state.checkpoint == {"kind": "offset", "value": 13}
    assert producers() == []


def test_a_retiring_next_stream_opens_in_its_turn(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retirement writes before its first page (the scope's keys): that read is not opened
    while the stream before writes."""
    monkeypatch.setattr("tests.jobs.test_sync_next_stream.WAIT", 0.3)
    app = make_app(engine, tmp_path, batch_rows=100)
    with Session(engine) as s, s.begin():
        store_checkpoint(s, "s1", "second", run_id=None, fingerprint="old-object",
                         checkpoint={"kind": "offset", "value": 2})  # fmt: skip
    second = Second(2)
    src = connector(second)
    src.fingerprints["second"] = "new-object"
    last = LastBatch(monkeypatch, second)
    result = run_sync(app, "s1", connector=src)
    assert result.status == "succeeded", result.message
    assert last.read_had_begun is False
    assert [r.cursor for r in second.requests] == [None]  # the new object, in full
    assert lines(engine, "s") == 4
