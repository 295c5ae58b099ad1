"""A cut-off full read that resumes (issue 16, item 5, after review) on SQLite and PostgreSQL,
with a scripted source: it resumes only as the same read with all of its keys, a scope's keys
never outlive it (pooled connections, a scope opened again), a connector may start it over,
a stream's own error keeps what it read, and a stream has finished only when it read to its
end."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine, delete, event, func, select
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Cursor, Page, ReadRequest, ScopeEnd, ScopeStart
from pmo_ledger.connectors.errors import SourceError, StreamConfigError
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.admin import connectors_rename
from pmo_ledger.ledger.models import ActualLine, ScopeListed, SyncState
from tests.jobs.scripted import line, make_app, pages_of, projects
from tests.jobs.test_sync_streams import FullRead, connector, live_keys, order_of

KEYS = [f"k{i}" for i in range(1, 9)]


def app_named(engine: Engine, tmp_path: Path, name: str) -> App:
    """An App on the test engine whose one scripted connector is called `name`."""
    data = {
        "ledger": {"url": engine.url.render_as_string(hide_password=False), "base_currency": "USD"},
        "connectors": {name: {"kind": "scripted", "lookback": "15m"}},
    }
    return App(parse_config(data, {}, tmp_path), None, _engine=engine)


def cut_after_two_pages(app: App, source: FullRead, name: str = "s1") -> None:
    """A first full read of every key, then one cut off after its first two pages (k1-k4)."""
    streams = {"projects": lambda r: [projects("A")], "actuals": source}
    assert run_sync(app, name, connector=connector(streams)).status == "succeeded"
    source.stop_after, source.read = 2, []
    assert run_sync(app, name, connector=connector(streams)).status == "partial"
    assert source.read == ["k1", "k2", "k3", "k4"]
    source.stop_after, source.read = None, []


def restarted(logs: list[dict[str, Any]]) -> list[str]:
    return [e["reason"] for e in logs if e["event"] == "full_read_restarted"]


# --- item 1: a resume is taken up only with every key it listed ------------------------------


def test_a_rename_keeps_what_a_cut_off_read_listed(engine: Engine, tmp_path: Path) -> None:
    """`connectors rename` moves the keys a cut-off read listed with its position: the read
    resumed under the new name reads only the rest and reverses nothing."""
    source = FullRead(list(KEYS))
    cut_after_two_pages(make_app(engine, tmp_path), source)
    with Session(engine) as s:
        touched = connectors_rename(s, "s1", "s2")
        s.commit()
    assert touched["scope_listed"] == 4
    assert touched["sync_state"] == 2
    conn = connector({"projects": lambda r: [projects("A")], "actuals": source})
    resumed = run_sync(app_named(engine, tmp_path, "s2"), "s2", connector=conn)
    assert resumed.status == "succeeded", resumed.message
    assert source.read == ["k5", "k6", "k7", "k8"]
    assert live_keys(engine) == KEYS
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ScopeListed)) == 0


def test_a_resume_whose_keys_are_not_all_there_starts_over(engine: Engine, tmp_path: Path) -> None:
    """One of the four keys a cut-off read kept is missing: the read is not continued (its
    end would reverse that line) but started over, with the reason logged, and its end
    reverses only what the source no longer lists."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))
    cut_after_two_pages(app, source)
    with Session(engine) as s:
        s.execute(delete(ScopeListed).where(ScopeListed.external_id == "k3"))
        s.commit()
    source.keys = [k for k in KEYS if k != "k6"]
    conn = connector({"actuals": source})
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "s1", connector=conn)
    assert result.status == "succeeded", result.message
    assert restarted(logs) == ["3 of the 4 keys it listed are kept"]
    assert conn.requests[0][1] == ReadRequest(None, None, None, None)
    assert source.read == ["k1", "k2", "k3", "k4", "k5", "k7", "k8"]
    assert live_keys(engine) == ["k1", "k2", "k3", "k4", "k5", "k7", "k8"]
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None and state.resume is None
        assert s.scalar(select(func.count()).select_from(ScopeListed)) == 0


def test_a_resume_with_an_unreadable_position_starts_over(engine: Engine, tmp_path: Path) -> None:
    """A kept position that is no cursor at all (a hand edit, an older version) is not handed
    to the connector: the read starts over, logged, and loads every key once more."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))
    cut_after_two_pages(app, source)
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None and state.resume is not None
        state.resume = dict(state.resume, token={"kind": "page", "value": 4})
        s.commit()
    conn = connector({"actuals": source})
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "s1", connector=conn)
    assert result.status == "succeeded", result.message
    assert restarted(logs) == ["its position cannot be read"]
    assert conn.requests[0][1].resume is None
    assert source.read == KEYS
    assert live_keys(engine) == KEYS


# --- item 2: a scope's keys never outlive it --------------------------------------------------


def test_a_pooled_connection_brings_no_keys_of_an_earlier_run(
    engine: Engine, tmp_path: Path
) -> None:
    """Every connection the pool hands out holds key k2 of scope `actuals` in its
    scope_seen, as a run cut off inside that scope leaves it: a later full read that no
    longer lists k2 still reverses it."""
    app = make_app(engine, tmp_path)
    source = FullRead([f"k{i}" for i in range(1, 7)])
    assert run_sync(app, "s1", connector=connector({"actuals": source})).status == "succeeded"

    def stale(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        cur = dbapi_connection.cursor()
        cur.execute(
            "CREATE TEMPORARY TABLE IF NOT EXISTS scope_seen "
            "(scope_key VARCHAR(255), external_id VARCHAR(255))"
        )
        cur.execute("INSERT INTO scope_seen VALUES ('actuals', 'k2')")
        cur.close()
        dbapi_connection.commit()

    source.keys = ["k1", "k3", "k4", "k5", "k6"]
    event.listen(engine, "checkout", stale)
    try:
        result = run_sync(app, "s1", full=True, connector=connector({"actuals": source}))
    finally:
        event.remove(engine, "checkout", stale)
    assert result.status == "succeeded", result.message
    assert live_keys(engine) == ["k1", "k3", "k4", "k5", "k6"]


def test_a_scope_opened_again_counts_only_its_own_keys(engine: Engine, tmp_path: Path) -> None:
    """Stream a opens scope project:A, lists x1 and never closes it; stream b then reads the
    same scope and lists only x2: b's line x1 is reversed (a's listing is not b's)."""
    app = make_app(engine, tmp_path)
    first = {"a": lambda r: [], "b": lambda r: pages_of([line("x1"), line("x2")], 2)}
    assert run_sync(app, "s1", connector=connector(first)).status == "succeeded"
    assert live_keys(engine) == ["x1", "x2"]

    def a(request: ReadRequest) -> list[Page]:
        return [Page(records=[line("x1")], scope=ScopeStart("project:A"))]

    def b(request: ReadRequest) -> list[Page]:
        return pages_of([line("x2")], 1, scope="project:A")

    result = run_sync(app, "s1", connector=connector({"a": a, "b": b}))
    assert result.status == "succeeded", result.message
    with Session(engine) as s:
        rows = s.execute(
            select(ActualLine.stream, ActualLine.external_id, ActualLine.deleted_reason).order_by(
                ActualLine.stream, ActualLine.external_id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        ("a", "x1", None),
        ("b", "x1", "scope_reversal"),
        ("b", "x2", None),
    ]


# --- item 3: the same read, or a read started over --------------------------------------------


def test_a_changed_read_starts_a_cut_off_read_over(engine: Engine, tmp_path: Path) -> None:
    """The stream's query changed (`where`, fields) after a read was cut off: the next run
    does not continue it with the old read's keys but reads in full, logs why, and reverses
    what the new read does not list, k2 among them though the old read had listed it."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))
    cut_after_two_pages(app, source)
    source.keys = [k for k in KEYS if k not in ("k2", "k7")]
    conn = connector({"actuals": source})
    conn.reads["actuals"] = "where: amount > 0"
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "s1", connector=conn)
    assert result.status == "succeeded", result.message
    assert restarted(logs) == ["the stream's settings changed since the read was cut off"]
    assert conn.requests[0][1].resume is None
    assert source.read == ["k1", "k3", "k4", "k5", "k6", "k8"]
    assert live_keys(engine) == ["k1", "k3", "k4", "k5", "k6", "k8"]


def test_a_connector_that_cannot_continue_forgets_the_earlier_keys(
    engine: Engine, tmp_path: Path
) -> None:
    """Asked to continue, the source cannot (its position means nothing to it any more): it
    reads from the start and says so (ScopeStart restarted); the keys the first part listed
    no longer count, so k2, gone since, is reversed."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))
    cut_after_two_pages(app, source)
    source.keys = [k for k in KEYS if k != "k2"]

    def over(request: ReadRequest) -> Iterator[Page]:
        assert request.resume == Cursor("token", "4")
        for page in source(ReadRequest()):
            if isinstance(page.scope, ScopeStart):
                page = Page(scope=ScopeStart("actuals", restarted=True))
            yield page

    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "s1", connector=connector({"actuals": over}))
    assert result.status == "succeeded", result.message
    assert restarted(logs) == ["the connector could not continue it and reads it from the start"]
    assert live_keys(engine) == [k for k in KEYS if k != "k2"]
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None and state.resume is None
        assert s.scalar(select(func.count()).select_from(ScopeListed)) == 0


# --- item 4: a stream's own error keeps what it read ------------------------------------------


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (StreamConfigError, "stream actuals: the org refused the query"),
        (SourceError, "source error: stream actuals: the org refused the query"),
    ],
    ids=["stream_config", "source"],
)
def test_a_stream_error_mid_read_keeps_its_pages_and_position(
    engine: Engine, tmp_path: Path, error: type[Exception], said: str
) -> None:
    """A full read fails on its third page (a stream's config or the source's error): the
    two pages it read are complete, so they load and the read keeps its position; once the
    error is fixed the next run reads only the rest."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))
    failing = {"on": True}

    def read(request: ReadRequest) -> Iterator[Page]:
        for i, page in enumerate(source(request)):
            if failing["on"] and i == 3:
                raise error("stream actuals: the org refused the query")
            yield page

    first = run_sync(app, "s1", connector=connector({"actuals": read}))
    assert (first.status, first.message) == ("failed", f"actuals: {said}")
    assert [(x.stream, x.status, x.message) for x in first.streams] == [("actuals", "failed", said)]
    assert live_keys(engine) == ["k1", "k2", "k3", "k4"]
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None and state.resume is not None
        assert (state.resume["token"], state.resume["listed"]) == (
            {"kind": "token", "value": "4"},
            4,
        )
    failing["on"], source.read = False, []
    conn = connector({"actuals": read})
    assert run_sync(app, "s1", connector=conn).status == "succeeded"
    assert conn.requests[0][1].resume == Cursor("token", "4")
    assert source.read == ["k5", "k6", "k7", "k8"]
    assert live_keys(engine) == KEYS


# --- item 5: finished only when read to its end -----------------------------------------------


def test_a_read_that_leaves_its_own_scope_open_has_not_finished(
    engine: Engine, tmp_path: Path
) -> None:
    """Stream b opens its own scope and its read ends without closing it: b has not read to
    its end, so the next run reads it before a."""
    app = make_app(engine, tmp_path)

    def b(request: ReadRequest) -> list[Page]:
        return [Page(records=[line("b1")], scope=ScopeStart("b"))]

    scripts = {"a": lambda r: [Page(checkpoint=Cursor("offset", 1))], "b": b}
    first = connector(scripts)
    assert run_sync(app, "s1", connector=first).status == "succeeded"
    assert order_of(first) == ["a", "b"]
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "b"))
        assert state is None or state.finished_at is None
    second = connector(scripts)
    assert run_sync(app, "s1", connector=second).status == "succeeded"
    assert order_of(second) == ["b", "a"]


def test_a_since_run_while_a_full_read_waits_has_not_finished(
    engine: Engine, tmp_path: Path
) -> None:
    """A `--since` run reads actuals from a date while its cut-off full read waits: the full
    read is still behind, so actuals keep the finished time of their last complete read and
    the next run reads them first (and continues the full read)."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))

    def actuals(request: ReadRequest) -> Iterator[Page]:
        if request.cursor is not None:  # --since: an incremental read, no scope
            yield Page(records=[line("k1", "2.00")])
            return
        yield from source(request)

    scripts = {"a": lambda r: [Page(checkpoint=Cursor("offset", 1))], "actuals": actuals}
    assert run_sync(app, "s1", connector=connector(scripts)).status == "succeeded"
    source.stop_after = 2
    assert run_sync(app, "s1", connector=connector(scripts)).status == "partial"
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None
        finished = state.finished_at
    source.stop_after = None
    since = run_sync(
        app, "s1", since=date(2025, 10, 1), streams=["actuals"], connector=connector(scripts)
    )
    assert since.status == "succeeded", since.message
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None and state.resume is not None
        assert state.finished_at == finished
    source.read = []
    last = connector(scripts)
    assert run_sync(app, "s1", connector=last).status == "succeeded"
    assert order_of(last) == ["actuals", "a"]
    assert last.requests[0][1].resume == Cursor("token", "4")
    assert source.read == ["k5", "k6", "k7", "k8"]


# --- a scope opened on an empty stream (a first load) records no keys ------------------------


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(scope, number of keys) of each batch's `record_seen`."""
    from pmo_ledger.ledger.write import batch

    calls: list[tuple[str, int]] = []
    real = batch.record_seen

    def spy(session: Session, scope_key: str, external_ids: list[str]) -> None:
        calls.append((scope_key, len(external_ids)))
        real(session, scope_key, external_ids)

    monkeypatch.setattr(batch, "record_seen", spy)
    return calls


def test_a_first_load_records_no_keys_and_its_next_full_read_reverses(
    engine: Engine, tmp_path: Path, recorded: list[tuple[str, int]]
) -> None:
    """The stream's own scope opens on an empty stream: its keys are not recorded (every line
    at its end is one it listed) and its end reverses nothing. The next full read opens on a
    stream with lines: its keys are recorded, and the one line it no longer lists goes."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))
    streams = {"projects": lambda r: [projects("A")], "actuals": source}
    first = run_sync(app, "s1", connector=connector(streams))
    assert first.status == "succeeded", first.message
    assert recorded == []
    assert first.streams[-1].reversed == 0
    assert live_keys(engine) == KEYS
    source.keys = [k for k in KEYS if k != "k5"]
    again = run_sync(app, "s1", connector=connector(streams), full=True)
    assert again.status == "succeeded", again.message
    assert recorded == [("actuals", 7)]
    assert again.streams[-1].reversed == 1
    assert live_keys(engine) == [k for k in KEYS if k != "k5"]


def test_a_cut_off_first_load_keeps_its_lines_as_listed(
    engine: Engine, tmp_path: Path, recorded: list[tuple[str, int]]
) -> None:
    """A first load stops after two pages: with no key recorded, what it listed is the lines
    it wrote (k1-k4), kept for the next run, which continues after them and reverses none."""
    app = make_app(engine, tmp_path)
    source = FullRead(list(KEYS))
    source.stop_after = 2
    streams = {"projects": lambda r: [projects("A")], "actuals": source}
    cut = run_sync(app, "s1", connector=connector(streams))
    assert cut.status == "partial"
    assert recorded == []
    with Session(engine) as s:
        kept = s.scalars(select(ScopeListed.external_id).order_by(ScopeListed.external_id))
        assert list(kept) == ["k1", "k2", "k3", "k4"]
    source.stop_after, source.read = None, []
    resumed = run_sync(app, "s1", connector=connector(streams))
    assert resumed.status == "succeeded", resumed.message
    assert source.read == ["k5", "k6", "k7", "k8"]
    assert resumed.streams[-1].reversed == 0
    assert live_keys(engine) == KEYS


def test_a_first_load_started_over_reverses_what_its_first_part_alone_listed(
    engine: Engine, tmp_path: Path
) -> None:
    """A first load's source starts its read over (ScopeStart restarted) after writing k1-k4,
    and no longer lists k2: from the restart the keys are recorded, and the end reverses k2."""
    app = make_app(engine, tmp_path)
    keys = list(KEYS)

    def read(request: ReadRequest) -> Iterator[Page]:
        yield Page(scope=ScopeStart("actuals"))
        yield Page(records=[line(k, "1.00") for k in keys[:4]])
        yield Page(scope=ScopeStart("actuals", restarted=True))
        yield Page(records=[line(k, "1.00") for k in keys if k != "k2"])
        yield Page(scope=ScopeEnd("actuals"))

    streams = {"projects": lambda r: [projects("A")], "actuals": read}
    result = run_sync(app, "s1", connector=connector(streams))
    assert result.status == "succeeded", result.message
    assert result.streams[-1].reversed == 1
    assert live_keys(engine) == [k for k in KEYS if k != "k2"]
