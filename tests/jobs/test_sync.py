"""The sync runner (rules 4-5, Operations) on SQLite and PostgreSQL, with a scripted source."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from pmo_ledger.connectors.base import Cursor, Page, ReadRequest, ScopeStart, StreamSpec
from pmo_ledger.connectors.errors import ConnectorTransientError, SourceError
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.config import parse_config
from pmo_ledger.jobs.sync import ConnectorDisabled, run_sync, start_sync
from pmo_ledger.ledger.models import ActualLine, SyncRun, SyncRunStream, SyncState
from pmo_ledger.ledger.records import Rejected
from tests.jobs.scripted import ScriptedConnector, line, make_app, pages_of, projects


def _total(engine: Engine, project: str = "A") -> Decimal:
    with Session(engine) as s:
        value = s.execute(
            text("SELECT actual FROM v_project_budget_vs_actual WHERE project_code = :p"), {"p": project}
        ).scalar_one()
    return Decimal(value)


def _lines(engine: Engine) -> int:
    with Session(engine) as s:
        return int(s.scalar(select(func.count()).select_from(ActualLine).where(ActualLine.deleted_at.is_(None))))


def _checkpoint(engine: Engine, stream: str = "actuals") -> Any:
    with Session(engine) as s:
        return s.scalar(select(SyncState.checkpoint).where(SyncState.stream == stream))


def _connector(actuals: Any, **more: Any) -> ScriptedConnector:
    scripts = {"projects": lambda r: [projects("A", "B")], "actuals": actuals, **more}
    specs = {
        "projects": StreamSpec("projects", "offset", deletes="project"),
        "actuals": StreamSpec("actuals", "offset", scopes=("project", "period")),
    }
    specs.update({k: StreamSpec(k, "offset") for k in more})
    return ScriptedConnector(scripts, specs)


def test_a_run_loads_commits_checkpoints_and_records_figures(engine: Engine, tmp_path: Path) -> None:
    """Two pages load; the run succeeds with per-stream figures and the last checkpoint."""
    app = make_app(engine, tmp_path)
    records = [line(f"a{i}", "10.00") for i in range(5)] + [line("e1", "5.00", currency="EUR")]
    result = run_sync(app, "s1", connector=_connector(lambda r: pages_of(records, 3)))
    assert (result.status, _total(engine)) == ("succeeded", Decimal("50.00"))
    assert _checkpoint(engine) == {"kind": "offset", "value": 6}
    with Session(engine) as s:
        row = s.scalars(select(SyncRunStream).where(SyncRunStream.stream == "actuals")).one()
        run = s.get(SyncRun, result.run_id)
    assert (row.rows_read, row.rows_written, row.status) == (6, 6, "succeeded")
    assert row.amounts["read"] == {"USD": "50.00", "EUR": "5.00"}
    assert run.status == "succeeded" and run.finished_at is not None


def test_checkpoints_never_go_back(engine: Engine, tmp_path: Path) -> None:
    """Page checkpoints 10, 5, none, 20 are stored as 10, 10, 10, 20 with checkpoint_regressed."""
    app = make_app(engine, tmp_path, batch_rows=1)
    marks = [10, 5, None, 20]
    script = lambda r: [  # noqa: E731
        Page(records=[line(f"c{i}")], checkpoint=Cursor("offset", m) if m is not None else None)
        for i, m in enumerate(marks)
    ]
    stored: list[Any] = []
    with structlog.testing.capture_logs() as logs:
        run_sync(app, "s1", streams=["actuals"], connector=_connector(script),
                 on_batch=lambda o: stored.append(_checkpoint(engine)["value"]))
    assert stored == [10, 10, 10, 20]
    assert next(e for e in logs if e["event"] == "checkpoint_regressed")["got"] == {"kind": "offset", "value": 5}


def test_crash_between_batches_then_rerun_loads_exactly_once(engine: Engine, tmp_path: Path) -> None:
    """A read that dies after its first batch committed: the re-run resumes, no duplicates."""
    app = make_app(engine, tmp_path, batch_rows=3)
    records = [line(f"k{i}", "1.00") for i in range(9)]

    def dying(request: ReadRequest) -> Iterator[Page]:
        start = int(request.cursor.value) if request.cursor else 0
        for page in pages_of(records[start:], 3, start=start):
            yield page
            if start == 0 and page.checkpoint and page.checkpoint.value == 6:
                raise RuntimeError("the process died")

    first = run_sync(app, "s1", streams=["projects", "actuals"], connector=_connector(dying))
    assert first.status == "partial"  # projects finished, actuals did not
    assert (_checkpoint(engine)["value"], _lines(engine)) == (6, 6)
    second = run_sync(app, "s1", streams=["actuals"], connector=_connector(dying))
    assert second.status == "succeeded"
    assert (_lines(engine), _total(engine)) == (9, Decimal("9.00"))


def test_transient_error_keeps_the_checkpoint_and_ends_partial(engine: Engine, tmp_path: Path) -> None:
    """An API quota error mid-read: committed pages stay, the run is partial with retry_at."""
    app = make_app(engine, tmp_path, batch_rows=2)

    def quota(request: ReadRequest) -> Iterator[Page]:
        yield from pages_of([line("q1"), line("q2")], 2)
        raise ConnectorTransientError("daily API allowance exhausted")

    result = run_sync(app, "s1", connector=_connector(quota))
    assert result.status == "partial"
    assert "actuals stopped early: daily API allowance exhausted" in result.message
    assert _checkpoint(engine)["value"] == 2


def test_project_resync_reads_the_scope_and_reverses_what_vanished(engine: Engine, tmp_path: Path) -> None:
    """--project A re-reads A in full: a line gone from A is reversed, B is untouched."""
    app = make_app(engine, tmp_path)
    everything = [line("a1"), line("a2"), line("a3"), line("b1", project="B")]
    run_sync(app, "s1", connector=_connector(lambda r: pages_of(everything, 10)))
    survivors = [line("a1"), line("a3")]
    conn = _connector(lambda r: pages_of(survivors, 10, scope=r.scope))
    result = run_sync(app, "s1", project="A", allow_mass_delete=True, connector=conn)
    assert conn.requests[-1][1].scope == "project:A"
    assert result.status == "succeeded" and result.streams[0].reversed == 1
    assert (_total(engine, "A"), _total(engine, "B")) == (Decimal("20.00"), Decimal("10.00"))


def test_scope_that_stops_before_its_end_reverses_nothing(engine: Engine, tmp_path: Path) -> None:
    """A full read that fails before ScopeEnd leaves every line in place."""
    app = make_app(engine, tmp_path, batch_rows=1)
    run_sync(app, "s1", connector=_connector(lambda r: pages_of([line("x1"), line("x2")], 1)))

    def broken(request: ReadRequest) -> Iterator[Page]:
        yield Page(records=[line("x1")], scope=ScopeStart("actuals"))
        raise ConnectorTransientError("timeout")

    result = run_sync(app, "s1", full=True, streams=["actuals"], connector=_connector(broken))
    assert result.status in ("partial", "failed")
    assert _lines(engine) == 2


def test_mass_delete_guard_then_allow(engine: Engine, tmp_path: Path) -> None:
    """A full read listing 1 of 4 lines would reverse 3: partial with the command; allowed, it applies."""
    app = make_app(engine, tmp_path, max_scope_reversal_min=1)
    run_sync(app, "s1", connector=_connector(lambda r: pages_of([line(f"m{i}") for i in range(4)], 10)))
    before = _checkpoint(engine)
    shrunk = lambda r: pages_of([line("m0")], 10, scope="actuals", start=100)  # noqa: E731
    guarded = run_sync(app, "s1", full=True, streams=["actuals"], connector=_connector(shrunk))
    assert guarded.status == "partial"
    assert "mass_delete_guard" in guarded.message
    assert "pmo-ledger sync s1 --stream actuals --full --allow-mass-delete" in guarded.message
    assert (_lines(engine), _checkpoint(engine)) == (4, before)
    allowed = run_sync(app, "s1", full=True, streams=["actuals"], allow_mass_delete=True,
                       connector=_connector(shrunk))
    assert (allowed.status, _lines(engine), _total(engine)) == ("succeeded", 1, Decimal("10.00"))


def test_rejected_rows_are_quarantined_and_the_run_goes_on(engine: Engine, tmp_path: Path) -> None:
    """A page with a rejected row: the row is held, the rest loads, the run succeeds."""
    app = make_app(engine, tmp_path)
    page = Page(records=[line("ok")], rejected=[Rejected("bad", "bad_amount", {"Amount": "n/a"})],
                checkpoint=Cursor("offset", 1))
    result = run_sync(app, "s1", connector=_connector(lambda r: [page]))
    assert result.status == "succeeded" and result.streams[1].stats.quarantined == 1
    with Session(engine) as s:
        held = s.execute(text("SELECT external_id, reason, payload_kind FROM quarantine")).all()
    assert [tuple(h) for h in held] == [("bad", "bad_amount", "raw")]


def test_dry_run_writes_nothing_and_reports(engine: Engine, tmp_path: Path) -> None:
    """A dry run reports what would be added, changed and reversed, and writes no row."""
    app = make_app(engine, tmp_path)
    run_sync(app, "s1", connector=_connector(lambda r: pages_of([line("d1"), line("d2"), line("d3")], 10)))
    with Session(engine) as s:
        before = {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in
                  ("actual_line", "ledger_entry", "sync_run", "sync_run_stream", "sync_state", "quarantine")}
    changed = [line("d1", "15.00"), line("d3"), line("d4", "2.50")]
    result = run_sync(app, "s1", full=True, streams=["actuals"], dry_run=True, allow_mass_delete=True,
                      connector=_connector(lambda r: pages_of(changed, 10, scope="actuals")))
    stats = result.streams[0].stats
    assert (result.run_id, stats.inserted, stats.restated, stats.deleted) == (None, 1, 1, 1)
    assert stats.amounts["inserted"] == {"USD": Decimal("2.50")}
    assert stats.amounts["deleted"] == {"USD": Decimal("10.0000")}
    with Session(engine) as s:
        after = {t: s.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in before}
    assert after == before
    assert _total(engine) == Decimal("30.00")


def test_sync_health_view(engine: Engine, tmp_path: Path) -> None:
    """v_sync_health shows each stream's last run, checkpoint, open quarantine and drift."""
    app = make_app(engine, tmp_path)
    page = Page(records=[line("h1")], rejected=[Rejected("h2", "bad_amount", {"x": 1})],
                checkpoint=Cursor("offset", 7))
    result = run_sync(app, "s1", connector=_connector(lambda r: [page]))
    with Session(engine) as s:
        s.execute(text(
            "INSERT INTO control_total (run_id, source, stream, source_count, source_amount,"
            " ledger_count, ledger_amount, checked_at) VALUES (:r, 's1', 'actuals', 3, :sa, 2, :la, :t)"),
            {"r": result.run_id, "sa": 300000 if engine.dialect.name == "sqlite" else Decimal("30"),
             "la": 100000 if engine.dialect.name == "sqlite" else Decimal("10"),
             "t": "2025-10-02 00:00:00"})
        s.commit()
        row = s.execute(text(
            "SELECT last_run_id, last_run_status, last_stream_status, open_quarantine, count_drift,"
            " amount_drift FROM v_sync_health WHERE connector = 's1' AND stream = 'actuals'")).one()
    assert tuple(row)[:5] == (result.run_id, "succeeded", "succeeded", 1, 1)
    assert Decimal(row[5]) == Decimal("20")


def test_a_stream_whose_object_changed_is_retired(engine: Engine, tmp_path: Path) -> None:
    """Timecard splits become headers: the new object is read in full and the old lines reversed."""
    app = make_app(engine, tmp_path)
    splits = _connector(lambda r: pages_of([line("s1"), line("s2"), line("s3")], 10))
    splits.fingerprints["actuals"] = "pse__Timecard__c"
    run_sync(app, "s1", connector=splits)
    headers = _connector(lambda r: pages_of([line("h1", "25.00")], 10, start=500))
    headers.fingerprints["actuals"] = "pse__Timecard_Header__c"
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "s1", connector=headers)
    assert result.status == "succeeded" and result.streams[1].reversed == 3
    assert headers.requests[-1][1].cursor is None
    assert (_lines(engine), _total(engine)) == (1, Decimal("25.00"))
    assert [e["now"] for e in logs if e["event"] == "stream_retired"] == ["pse__Timecard_Header__c"]
    with Session(engine) as s:
        assert s.scalar(select(SyncState.config_hash).where(SyncState.stream == "actuals")) == (
            "pse__Timecard_Header__c"
        )


def test_a_retirement_cut_off_is_taken_up_by_the_next_run(engine: Engine, tmp_path: Path) -> None:
    """The read of the new object stops mid-way (a batch committed, then a SourceError): the
    stream stays the old object's in sync_state, so the next run retires it again, reads the
    new object in full from its start and reverses the old lines: only the new ones count."""
    app = make_app(engine, tmp_path, batch_rows=1)  # each page is a batch of its own
    splits = _connector(lambda r: pages_of([line("s1"), line("s2"), line("s3")], 10))
    splits.fingerprints["actuals"] = "pse__Timecard__c"
    run_sync(app, "s1", connector=splits)

    def state() -> tuple[Any, ...]:
        with Session(engine) as s:
            row = s.execute(
                select(SyncState.checkpoint, SyncState.config_hash, SyncState.resume).where(
                    SyncState.stream == "actuals"
                )
            ).one()
            return tuple(row)

    old = ({"kind": "offset", "value": 10}, "pse__Timecard__c", None)
    assert state() == old
    headers = [line("h1", "25.00"), line("h2", "5.00")]

    def cut(request: ReadRequest) -> Iterator[Page]:
        yield from pages_of(headers, 1, start=500)
        raise SourceError("Salesforce answered 400: UNKNOWN_EXCEPTION")

    first = _connector(cut)
    first.fingerprints["actuals"] = "pse__Timecard_Header__c"
    cut_off = run_sync(app, "s1", connector=first)
    assert (cut_off.status, cut_off.message) == (
        "partial",
        "actuals: source error: Salesforce answered 400: UNKNOWN_EXCEPTION",
    )
    actuals = next(o for o in cut_off.streams if o.stream == "actuals")
    # No line reversed yet, and the checkpoint recorded is the old object's one that stays.
    assert (actuals.stats.read, actuals.reversed) == (2, 0)
    assert actuals.checkpoint == Cursor("offset", 10)
    assert (_lines(engine), _total(engine)) == (5, Decimal("60.00"))  # nothing reversed yet
    assert state() == old  # still retiring: the old object's checkpoint and fingerprint

    second = _connector(lambda r: pages_of(headers, 1, start=500))
    second.fingerprints["actuals"] = "pse__Timecard_Header__c"
    with structlog.testing.capture_logs() as logs:
        done = run_sync(app, "s1", connector=second)
    actuals = next(o for o in done.streams if o.stream == "actuals")
    assert (done.status, actuals.reversed) == ("succeeded", 3)
    assert second.requests[-1][1].cursor is None  # the new object read in full again
    assert [e["was"] for e in logs if e["event"] == "stream_retired"] == ["pse__Timecard__c"]
    assert (_lines(engine), _total(engine)) == (2, Decimal("30.00"))
    with Session(engine) as s:
        live = s.scalars(
            select(ActualLine.external_id)
            .where(ActualLine.deleted_at.is_(None))
            .order_by(ActualLine.external_id)
        )
        assert list(live) == ["h1", "h2"]
    assert state() == ({"kind": "offset", "value": 502}, "pse__Timecard_Header__c", None)


def test_a_disabled_connector_runs_only_when_allowed(engine: Engine, tmp_path: Path) -> None:
    """enabled = false: a run, a dry run and a start are refused before the source is read (no
    run row, no line); allow_disabled runs it once and the run's options say so."""
    data = {
        "ledger": {"url": engine.url.render_as_string(hide_password=False), "base_currency": "USD"},
        "connectors": {"s1": {"kind": "scripted", "lookback": "15m", "enabled": False}},
    }
    app = App(parse_config(data, {}, tmp_path), None, _engine=engine)
    source = _connector(lambda r: pages_of([line("a1", "10.00")], 10))
    refused = r"^connector s1 is disabled \(enabled = false in \[connectors\.s1\]\)$"
    with pytest.raises(ConnectorDisabled, match=refused):
        run_sync(app, "s1", connector=source)
    with pytest.raises(ConnectorDisabled, match=refused):
        run_sync(app, "s1", dry_run=True, connector=source)
    with pytest.raises(ConnectorDisabled, match=refused):
        start_sync(app, "s1", connector=source)
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(SyncRun)) == 0
    assert (_lines(engine), source.requests) == (0, [])
    result = run_sync(app, "s1", connector=source, allow_disabled=True)
    assert (result.status, _lines(engine), _total(engine)) == ("succeeded", 1, Decimal("10.00"))
    with Session(engine) as s:
        assert s.get(SyncRun, result.run_id).options["allow_disabled"] is True
