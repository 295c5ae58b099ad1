"""The Salesforce connector under a nearly spent API allowance (issue 16, item 5), end to end
on SQLite and PostgreSQL: a full read cut off resumes where it stopped, the streams take turns
so the actuals load too, and a stop before any row is partial (exit 3)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from pmo_ledger.connectors.salesforce.sandbox import SandboxServer
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetVersion,
    LedgerEntry,
    ScopeListed,
    SyncRunStream,
    SyncState,
)
from tests.connectors.salesforce.psa_org import PsaOrg, build_org, ledger_totals, sandbox_app


@pytest.fixture
def psa() -> PsaOrg:
    org = build_org()
    for i in range(10):
        org.add_timecard("P3", "1.0", f"{10 + i}.00")
    return org  # 18 timecard splits


def spend_at_the_second_page(server: SandboxServer) -> None:
    """The org's daily allowance is used up when a read asks for its second page (that call
    is REQUEST_LIMIT_EXCEEDED): the first page (5 rows, one batch) commits, whenever the
    runner, reading ahead, asked for the next."""
    server.api_limit(100, used=100, at_query_more=True)


def rows_read(app: object, run_id: int | None, stream: str) -> int:
    with app.reading() as s:  # type: ignore[attr-defined]
        return int(
            s.scalar(
                select(SyncRunStream.rows_read).where(
                    SyncRunStream.run_id == run_id, SyncRunStream.stream == stream
                )
            )
        )


def test_a_full_read_cut_off_by_the_allowance_resumes_where_it_stopped(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """A recovery full read (the delete log forgot two deletions) is cut off after its first
    page: the next run reads only the 11 rows after it, one query, and its ScopeEnd reverses
    exactly the two vanished lines; every line's entries add up, none is written twice."""
    app = sandbox_app(engine, tmp_path, server)
    app.config.ledger.__dict__["batch_rows"] = 5
    assert run_sync(app, "crm", streams=["projects", "timecards"]).status == "succeeded"
    org = psa.org
    org.advance(timedelta(hours=1))
    org.delete("pse__Timecard__c", psa.timecards[1])
    org.delete("pse__Timecard__c", psa.timecards[12])
    org.advance(timedelta(hours=1))
    assert org.purge_delete_log(org.now()) == 2  # the next read is a full scope

    spend_at_the_second_page(server)
    cut = run_sync(app, "crm", streams=["timecards"])
    assert cut.status == "partial"
    assert cut.message.startswith("stream timecards stopped early: query_more: Salesforce API ")
    assert cut.message.endswith("; the next run continues its full read where it stopped")
    assert rows_read(app, cut.run_id, "timecards") == 5
    with app.reading() as s:
        state = s.get(SyncState, ("crm", "timecards"))
        assert state is not None and state.resume is not None
        assert (state.resume["scope"], state.resume["listed"]) == ("timecards", 5)
        assert s.scalar(select(func.count()).select_from(ScopeListed)) == 5
        live = s.scalar(
            select(func.count()).select_from(ActualLine).where(ActualLine.deleted_at.is_(None))
        )
    assert live == 18  # a read that did not finish reverses nothing

    server.api_limit(100_000)
    server.clear_log()
    resumed = run_sync(app, "crm", streams=["timecards"])
    assert resumed.status == "succeeded", resumed.message
    assert rows_read(app, resumed.run_id, "timecards") == 11  # 16 left at the org, 5 read
    reads = [r.params["q"][0] for r in server.requests if r.path.endswith("/queryAll/")]
    assert len(reads) == 1
    assert "(SystemModstamp > " in reads[0] and " AND Id > '" in reads[0]
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))
    with app.reading() as s:
        gone = s.execute(
            select(ActualLine.external_id, ActualLine.deleted_reason).where(
                ActualLine.deleted_at.is_not(None)
            )
        ).all()
        assert sorted(gone) == sorted(
            [(psa.timecards[1], "scope_reversal"), (psa.timecards[12], "scope_reversal")]
        )
        inserts = s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reason == "insert")
        )
        assert inserts == 18
        state = s.get(SyncState, ("crm", "timecards"))
        assert state is not None and state.resume is None
        assert s.scalar(select(func.count()).select_from(ScopeListed)) == 0


#: Calls each run may make before the headroom (20% of 1,000) stops it: never a whole run.
CALLS_PER_RUN = 10
STREAMS = [
    "projects", "resources", "resource_rates", "fx_rates", "currency_rates", "allocations",
    "budgets", "timecards", "expenses", "opportunities",
]  # fmt: skip


def finished_streams(app: object) -> list[str]:
    with app.reading() as s:  # type: ignore[attr-defined]
        done = s.scalars(select(SyncState.stream).where(SyncState.finished_at.is_not(None)))
        return sorted(done)


def test_under_a_nearly_spent_allowance_every_stream_loads_in_turn(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Each run may make only 10 calls, never enough for every stream: the runs take the
    streams in turn, furthest behind first, a cut-off full read going on where it stopped,
    so within four runs every stream (the actuals too) has loaded what the org holds."""
    app = sandbox_app(engine, tmp_path, server)
    runs: list[list[tuple[str, str]]] = []
    while len(runs) < 8 and finished_streams(app) != sorted(STREAMS):
        server.api_limit(1_000, used=800 - CALLS_PER_RUN)
        result = run_sync(app, "crm")
        assert result.status == "partial", result.message
        runs.append([(x.stream, x.status) for x in result.streams])
    assert len(runs) == 4, runs
    # The first run goes in declared order; the next ones start where the last one stopped.
    assert [r[0][0] for r in runs] == ["projects", "projects", "projects", "timecards"]
    assert ("timecards", "partial") in runs[2] and ("timecards", "succeeded") in runs[3]
    assert ledger_totals(app) == psa.source_totals()
    with app.reading() as s:
        assert s.scalar(select(func.count()).select_from(BudgetVersion)) == 6
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == s.scalar(
            select(func.count()).select_from(ActualLine)
        )


def test_an_allowance_spent_before_any_row_ends_partial_exit_3(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The org refuses the very first call (REQUEST_LIMIT_EXCEEDED): the run ends partial
    with a retry time, `sync` exits 3, and nothing was written."""
    from pmo_ledger.jobs.cli import make_cli

    app = sandbox_app(engine, tmp_path, server, api_headroom="0")
    server.api_limit(100, used=100)
    result = run_sync(app, "crm")
    assert result.status == "partial"
    assert result.retry_at is not None
    assert result.message.startswith(
        "stream projects stopped early: describe pse__Proj__c: Salesforce API allowance "
        "exhausted (REQUEST_LIMIT_EXCEEDED: TotalRequests Limit exceeded.)"
    )
    assert [(s.stream, s.status) for s in result.streams] == [("projects", "partial")]
    monkeypatch.setattr("pmo_ledger.jobs.cli.build_app", lambda *a, **k: app)
    cli = CliRunner().invoke(make_cli(), ["sync", "crm"])
    assert cli.exit_code == 3, cli.output
    assert "run 2 partial: stream projects stopped early: " in cli.output
    with app.reading() as s:
        assert s.scalar(select(func.count()).select_from(ActualLine)) == 0
