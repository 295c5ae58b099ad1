"""The runner's streams (issue 16) on SQLite and PostgreSQL, with a scripted source: one bad
stream fails alone, the streams furthest behind go first, a full read cut off resumes from its
own progress, and a transient stop before any row is partial."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceRefusedRequest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import (
    Cursor,
    Page,
    ReadRequest,
    ScopeEnd,
    ScopeStart,
    StreamSpec,
    fingerprint,
)
from pmo_ledger.connectors.errors import (
    ConnectorConfigError,
    ConnectorTransientError,
    StreamConfigError,
    StreamTransientError,
)
from pmo_ledger.connectors.salesforce.client import translate
from pmo_ledger.jobs.cli.sync import EXIT_CODES
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine, ScopeListed, SyncRun, SyncRunStream, SyncState
from tests.jobs.scripted import ScriptedConnector, line, make_app, pages_of, projects

Script = Callable[[ReadRequest], Any]


def ok(request: ReadRequest) -> list[Page]:
    return [Page(checkpoint=Cursor("offset", 1))]


def connector(scripts: dict[str, Script], **after: tuple[str, ...]) -> ScriptedConnector:
    specs = {name: StreamSpec(name, "offset", after=after.get(name, ())) for name in scripts}
    return ScriptedConnector(scripts, specs)


def order_of(conn: ScriptedConnector) -> list[str]:
    return [stream for stream, _ in conn.requests]


def stream_rows(engine: Engine, run_id: int | None) -> dict[str, tuple[str, str | None]]:
    with Session(engine) as s:
        rows = s.scalars(select(SyncRunStream).where(SyncRunStream.run_id == run_id)).all()
        return {r.stream: (r.status, r.error) for r in rows}


# --- one bad stream ---------------------------------------------------------------------------


def test_a_stream_config_error_fails_that_stream_alone(engine: Engine, tmp_path: Path) -> None:
    """A stream whose field the source lacks fails alone: the streams after it load and the
    run ends partial with that stream's message."""
    app = make_app(engine, tmp_path)

    def missing(request: ReadRequest) -> Iterator[Page]:
        raise StreamConfigError("stream b: no field X__c; fix: [connectors.s1.streams.b.fields]")
        yield Page()

    scripts: dict[str, Script] = {
        "projects": lambda r: [projects("A")],
        "b": missing,
        "actuals": lambda r: pages_of([line("a1", "7.00")], 1),
    }
    result = run_sync(app, "s1", connector=connector(scripts))
    assert result.status == "partial"
    assert result.message == "b: stream b: no field X__c; fix: [connectors.s1.streams.b.fields]"
    assert stream_rows(engine, result.run_id) == {
        "projects": ("succeeded", None),
        "b": ("failed", "stream b: no field X__c; fix: [connectors.s1.streams.b.fields]"),
        "actuals": ("succeeded", None),
    }
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(ActualLine)) == 1


def test_a_connector_config_error_still_fails_the_whole_run(engine: Engine, tmp_path: Path) -> None:
    """Credentials refused (a config error of the connector, not of one stream) stop the run
    at once: failed, and no later stream is read."""
    app = make_app(engine, tmp_path)

    def refused(request: ReadRequest) -> Iterator[Page]:
        raise ConnectorConfigError("login refused: INVALID_LOGIN")
        yield Page()

    conn = connector({"a": refused, "b": ok})
    result = run_sync(app, "s1", connector=conn)
    assert (result.status, result.message) == (
        "failed",
        "connector s1 is misconfigured: login refused: INVALID_LOGIN",
    )
    assert order_of(conn) == ["a"]


# --- a stop before any row --------------------------------------------------------------------


def test_a_transient_stop_before_any_row_is_partial_exit_3(engine: Engine, tmp_path: Path) -> None:
    """The API allowance spent before the first page: partial with retry_at (exit 3), not
    failed; nothing is written and the stream's state stays empty."""
    app = make_app(engine, tmp_path)

    def spent(request: ReadRequest) -> Iterator[Page]:
        raise ConnectorTransientError("API allowance exhausted")
        yield Page()

    result = run_sync(app, "s1", connector=connector({"a": spent, "b": ok}))
    assert result.status == "partial"
    assert result.message == (
        "stream a stopped early: API allowance exhausted; the next run resumes from the last "
        "committed checkpoint"
    )
    assert EXIT_CODES[result.status] == 3
    with Session(engine) as s:
        assert s.get(SyncRun, result.run_id).status == "partial"  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(SyncState)) == 0


def test_a_query_that_always_times_out_stops_only_its_stream(
    engine: Engine, tmp_path: Path
) -> None:
    """Salesforce stops stream a's query (QUERY_TIMEOUT) in every run: a commits the page it
    read and is partial with its retry_at, b still loads in the first run and every run after,
    and the run ends partial (exit 3) naming a."""
    app = make_app(engine, tmp_path)
    busy = SalesforceMalformedRequest(
        "u", 400, "query", [{"errorCode": "QUERY_TIMEOUT", "message": "too long"}]
    )

    def times_out(request: ReadRequest) -> Iterator[Page]:
        yield from pages_of([line("a1", "4.00")], 1)
        raise translate(busy, "query a")

    def b(request: ReadRequest) -> list[Page]:
        return pages_of([line("b1", "6.00")], 1)

    specs = {"a": StreamSpec("a", "offset"), "b": StreamSpec("b", "offset")}
    message = (
        "a: stopped early: query a: Salesforce stopped a query that ran too long (QUERY_TIMEOUT: "
        "too long); the next run resumes from the last committed checkpoint"
    )
    for _ in range(2):
        conn = ScriptedConnector({"a": times_out, "b": b}, specs)
        result = run_sync(app, "s1", connector=conn)
        assert order_of(conn) == ["a", "b"]  # a never read to its end: it goes first
        assert (result.status, result.message) == ("partial", message)
        assert EXIT_CODES[result.status] == 3
        a = result.streams[0]
        assert [(o.stream, o.status, o.stats.read) for o in result.streams] == [
            ("a", "partial", 1),
            ("b", "succeeded", 1),
        ]
        assert a.retry_at is not None and result.retry_at == a.retry_at
        assert stream_rows(engine, result.run_id) == {
            "a": ("partial", message.removeprefix("a: ")),
            "b": ("succeeded", None),
        }
        with Session(engine) as s:
            run = s.get(SyncRun, result.run_id)
            assert run is not None and (run.status, run.retry_at) == ("partial", a.retry_at)
            states = s.execute(
                select(
                    SyncState.stream, SyncState.checkpoint, SyncState.finished_at.is_(None)
                ).order_by(SyncState.stream)
            ).all()
            assert [tuple(r) for r in states] == [
                ("a", {"kind": "offset", "value": 1}, True),
                ("b", {"kind": "offset", "value": 1}, False),
            ]
    assert live_keys(engine) == ["a1", "b1"]


def test_a_stream_transient_error_is_a_transient_error_of_the_connector() -> None:
    """The Salesforce timeouts are StreamTransientError (a ConnectorTransientError, so
    callers that retry on it still do); the API allowance stays a ConnectorTransientError of
    the whole connector."""
    for code in ("QUERY_TIMEOUT", "REQUEST_RUNNING_TOO_LONG"):
        err = translate(SalesforceMalformedRequest("u", 400, "q", [{"errorCode": code}]), "q")
        assert type(err) is StreamTransientError and isinstance(err, ConnectorTransientError)
    spent = translate(
        SalesforceRefusedRequest("u", 403, "q", [{"errorCode": "REQUEST_LIMIT_EXCEEDED"}]), "q"
    )
    assert type(spent) is ConnectorTransientError


# --- order ------------------------------------------------------------------------------------


def test_the_streams_furthest_behind_go_first(engine: Engine, tmp_path: Path) -> None:
    """First run in declared order; a run cut off in b leaves b and c behind a, so the next
    run reads b, then c, then a; with all three caught up the order stays."""
    app = make_app(engine, tmp_path)
    cut = {"b": True}

    def b(request: ReadRequest) -> Iterator[Page]:
        if cut["b"]:
            raise ConnectorTransientError("allowance")
        yield Page(checkpoint=Cursor("offset", 2))

    first = connector({"a": ok, "b": lambda r: ok(r), "c": ok})
    assert run_sync(app, "s1", connector=first).status == "succeeded"
    assert order_of(first) == ["a", "b", "c"]
    second = connector({"a": ok, "b": b, "c": ok})
    assert run_sync(app, "s1", connector=second).status == "partial"
    assert order_of(second) == ["a", "b"]
    cut["b"] = False
    third = connector({"a": ok, "b": b, "c": ok})
    assert run_sync(app, "s1", connector=third).status == "succeeded"
    assert order_of(third) == ["b", "c", "a"]
    fourth = connector({"a": ok, "b": b, "c": ok})
    assert run_sync(app, "s1", connector=fourth).status == "succeeded"
    assert order_of(fourth) == ["b", "c", "a"]


def test_a_stream_goes_after_the_streams_it_points_to(engine: Engine, tmp_path: Path) -> None:
    """Budgets name projects (`after`): when budgets are furthest behind, projects still go
    just before them; the other streams follow by how far behind they are."""
    app = make_app(engine, tmp_path)
    spent = {"budgets": True}

    def budgets(request: ReadRequest) -> Iterator[Page]:
        if spent["budgets"]:
            raise ConnectorTransientError("allowance")
        yield Page(checkpoint=Cursor("offset", 1))

    scripts: dict[str, Script] = {"projects": ok, "other": ok, "budgets": budgets, "more": ok}
    assert (
        run_sync(app, "s1", connector=connector(scripts, budgets=("projects",))).status == "partial"
    )
    spent["budgets"] = False
    again = connector(scripts, budgets=("projects",))
    assert run_sync(app, "s1", connector=again).status == "succeeded"
    # budgets and more never finished: budgets (declared first) leads, behind its projects.
    assert order_of(again) == ["projects", "budgets", "more", "other"]


# --- a full read that resumes -----------------------------------------------------------------


class FullRead:
    """A source whose full read lists `keys` in order, two per page, each page with a resume
    token (the index after it); it stops with a transient error after `pages` pages."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.stop_after: int | None = None
        self.read: list[str] = []

    def __call__(self, request: ReadRequest) -> Iterator[Page]:
        start = int(str(request.resume.value)) if request.resume else 0
        yield Page(scope=ScopeStart("actuals"))
        served = 0
        for i in range(start, len(self.keys), 2):
            if self.stop_after is not None and served == self.stop_after:
                raise ConnectorTransientError("API allowance exhausted")
            chunk = self.keys[i : i + 2]
            self.read += chunk
            served += 1
            yield Page(records=[line(k, "1.00") for k in chunk], resume=Cursor("token", str(i + 2)))
        yield Page(scope=ScopeEnd("actuals"))


def read_key(conn: ScriptedConnector, stream: str) -> str:
    """What the runner keeps with a cut-off read of `stream` to know it is the same read."""
    return fingerprint([conn.stream_fingerprint(stream), conn.read_fingerprint(stream)])


def live_keys(engine: Engine) -> list[str]:
    with Session(engine) as s:
        keys = s.scalars(
            select(ActualLine.external_id)
            .where(ActualLine.deleted_at.is_(None))
            .order_by(ActualLine.external_id)
        )
        return list(keys)


def test_a_cut_off_full_read_resumes_and_reverses_only_what_no_part_listed(
    engine: Engine, tmp_path: Path
) -> None:
    """A full read stops after two pages: the next run continues after them (it reads only
    the rest) and its ScopeEnd reverses the one line neither part listed."""
    app = make_app(engine, tmp_path)
    source = FullRead([f"k{i}" for i in range(1, 9)])
    streams = {"projects": lambda r: [projects("A")], "actuals": source}
    assert run_sync(app, "s1", connector=connector(streams)).status == "succeeded"
    assert len(live_keys(engine)) == 8

    source.keys = ["k1", "k2", "k3", "k5", "k6", "k7", "k8"]  # k4 is gone at the source
    source.stop_after, source.read = 2, []
    cut = run_sync(app, "s1", connector=connector(streams))
    assert cut.status == "partial"
    assert cut.message == (
        "stream actuals stopped early: API allowance exhausted; the next run continues its full "
        "read where it stopped"
    )
    assert source.read == ["k1", "k2", "k3", "k5"]
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None
        assert state.resume == {
            "scope": "actuals",
            "token": {"kind": "token", "value": "4"},
            "listed": 4,
            "read": read_key(connector(streams), "actuals"),
        }
        kept = s.scalars(select(ScopeListed.external_id).order_by(ScopeListed.external_id))
        assert list(kept) == ["k1", "k2", "k3", "k5"]
    assert len(live_keys(engine)) == 8  # nothing reversed by a read that did not finish

    source.stop_after, source.read = None, []
    conn = connector(streams)
    resumed = run_sync(app, "s1", connector=conn)
    assert resumed.status == "succeeded", resumed.message
    actuals = next(req for stream, req in conn.requests if stream == "actuals")
    assert actuals.resume == Cursor("token", "4")
    assert source.read == ["k6", "k7", "k8"]  # only what the first part had not read
    assert live_keys(engine) == ["k1", "k2", "k3", "k5", "k6", "k7", "k8"]
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None and state.resume is None
        assert s.scalar(select(func.count()).select_from(ScopeListed)) == 0
        gone = s.scalars(select(ActualLine).where(ActualLine.external_id == "k4")).one()
        assert gone.deleted_reason == "scope_reversal"


def test_full_starts_a_cut_off_read_over(engine: Engine, tmp_path: Path) -> None:
    """`--full` reads from the start even when a cut-off read waits; its end clears what the
    cut-off read kept."""
    app = make_app(engine, tmp_path)
    source = FullRead([f"k{i}" for i in range(1, 7)])
    streams = {"actuals": source}
    source.stop_after = 1
    assert run_sync(app, "s1", connector=connector(streams)).status == "partial"
    source.stop_after, source.read = None, []
    conn = connector(streams)
    assert run_sync(app, "s1", full=True, connector=conn).status == "succeeded"
    assert conn.requests[0][1].resume is None
    assert source.read == [f"k{i}" for i in range(1, 7)]
    with Session(engine) as s:
        state = s.get(SyncState, ("s1", "actuals"))
        assert state is not None and state.resume is None
        assert s.scalar(select(func.count()).select_from(ScopeListed)) == 0


def test_a_cancelled_full_read_resumes_too(engine: Engine, tmp_path: Path) -> None:
    """Cancelled between two pages (a service stopping): the run is interrupted, the page it
    read is committed with its position, and the next run goes on after it."""
    app = make_app(engine, tmp_path)
    source = FullRead([f"k{i}" for i in range(1, 7)])
    cancel = threading.Event()

    def cancelled(request: ReadRequest) -> Iterator[Page]:
        for page in source(request):
            if page.records:
                cancel.set()  # the runner sees it once it has taken this page
            yield page

    stopped = run_sync(app, "s1", connector=connector({"actuals": cancelled}), cancel=cancel)
    assert stopped.status == "interrupted"
    assert live_keys(engine) == ["k1", "k2"]
    source.read = []
    conn = connector({"actuals": source})
    assert run_sync(app, "s1", connector=conn).status == "succeeded"
    assert conn.requests[0][1].resume == Cursor("token", "2")
    assert source.read == ["k3", "k4", "k5", "k6"]
    assert live_keys(engine) == [f"k{i}" for i in range(1, 7)]
