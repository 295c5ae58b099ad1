"""A Salesforce full read cut off and resumed (issue 16, item 5, after review), end to end on
SQLite and PostgreSQL: a query the org stops for time keeps the read for the next run, a
changed `where` starts it over, and a position the connector cannot read starts it over
without the first part's keys. What a read depends on is `read_fingerprint`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from sqlalchemy import Engine, func, select, update

from pmo_ledger.connectors.base import ConnectorContext
from pmo_ledger.connectors.salesforce import SalesforceConnector, SalesforceSettings
from pmo_ledger.connectors.salesforce.sandbox import SandboxServer
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.run_records import SyncResult
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine, ScopeListed, SyncRunStream, SyncState
from tests.connectors.salesforce.psa_org import PsaOrg, build_org, ledger_totals, sandbox_app


@pytest.fixture
def psa() -> PsaOrg:
    org = build_org()
    for i in range(10):
        org.add_timecard("P3", "1.0", f"{10 + i}.00")
    return org  # 18 timecard splits: 0, 3 and 6 in EUR, the others in USD


def app_of(engine: Engine, tmp_path: Path, server: SandboxServer, **settings: Any) -> App:
    return sandbox_app(engine, tmp_path, server, {"batch_rows": 5}, **settings)


def cut_by_query_timeout(app: App, server: SandboxServer) -> SyncResult:
    """Load projects and timecards, then run a full read of timecards that the org stops
    with QUERY_TIMEOUT when it asks for the second page: the first page (5 rows, one batch)
    commits, whenever the runner, reading ahead, asked for the next."""
    assert run_sync(app, "crm", streams=["projects", "timecards"]).status == "succeeded"
    server.fail_next(1, status=400, error_code="QUERY_TIMEOUT", query_more=True)
    return run_sync(app, "crm", full=True, streams=["timecards"])


def rows_read(app: App, run_id: int | None) -> int:
    with app.reading() as s:
        return int(
            s.scalar(
                select(SyncRunStream.rows_read).where(
                    SyncRunStream.run_id == run_id, SyncRunStream.stream == "timecards"
                )
            )
        )


def live_timecards(app: App) -> set[str]:
    with app.reading() as s:
        return set(
            s.scalars(
                select(ActualLine.external_id).where(
                    ActualLine.stream == "timecards", ActualLine.deleted_at.is_(None)
                )
            )
        )


def test_a_query_timeout_keeps_the_full_read_for_the_next_run(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """QUERY_TIMEOUT half-way through a full read is not the stream's configuration: the
    stream and the run end partial with a retry time (the message names the stream), the
    read's position and the 5 keys it listed are kept, and the next run reads only the 13 rows
    after them."""
    app = app_of(engine, tmp_path, server)
    before = datetime.now(UTC)
    cut = cut_by_query_timeout(app, server)
    assert cut.status == "partial"
    assert cut.message == (
        "timecards: stopped early: query_more: Salesforce stopped a query that ran too "
        "long (QUERY_TIMEOUT: Your query request was running for too long.); the next run "
        "continues its full read where it stopped"
    )
    assert [(o.stream, o.status, o.retry_at) for o in cut.streams] == [
        ("timecards", "partial", cut.retry_at)
    ]
    assert cut.retry_at is not None and cut.retry_at >= before + timedelta(minutes=10)
    assert rows_read(app, cut.run_id) == 5
    with app.reading() as s:
        state = s.get(SyncState, ("crm", "timecards"))
        assert state is not None and state.resume is not None
        assert state.resume["listed"] == 5
    resumed = run_sync(app, "crm", streams=["timecards"])
    assert resumed.status == "succeeded", resumed.message
    assert rows_read(app, resumed.run_id) == 13
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))
    with app.reading() as s:
        state = s.get(SyncState, ("crm", "timecards"))
        assert state is not None and state.resume is None


def test_a_changed_where_starts_a_cut_off_read_over(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """The first part listed timecards 0-4; then the stream gets `where = CurrencyIsoCode =
    'USD'`. The next run does not continue with the old read's keys (they would keep the EUR
    timecards 0 and 3 live) but reads the new query in full: the three EUR lines go."""
    cut = cut_by_query_timeout(app_of(engine, tmp_path, server), server)
    assert cut.status == "partial"
    usd = app_of(
        engine, tmp_path, server, streams={"timecards": {"where": "CurrencyIsoCode = 'USD'"}}
    )
    with structlog.testing.capture_logs() as logs:
        again = run_sync(usd, "crm", streams=["timecards"])
    assert again.status == "succeeded", again.message
    assert [e["reason"] for e in logs if e["event"] == "full_read_restarted"] == [
        "the stream's settings changed since the read was cut off"
    ]
    assert rows_read(usd, again.run_id) == 15
    eur = {psa.timecards[0], psa.timecards[3], psa.timecards[6]}
    assert live_timecards(usd) == set(psa.timecards) - eur


def test_a_position_the_connector_cannot_read_starts_over_without_the_old_keys(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """The kept position is not one the connector wrote: it reads the stream from the start
    and says so, so timecard 1, listed by the first part and purged from the org since, is
    reversed instead of staying live on the first part's word."""
    app = app_of(engine, tmp_path, server)
    assert cut_by_query_timeout(app, server).status == "partial"
    with app.transaction() as s:
        state = s.get(SyncState, ("crm", "timecards"))
        assert state is not None and state.resume is not None
        resume = dict(state.resume, token={"kind": "token", "value": "not a position"})
        s.execute(
            update(SyncState)
            .where(SyncState.connector == "crm", SyncState.stream == "timecards")
            .values(resume=resume)
        )
        assert s.scalar(
            select(func.count())
            .select_from(ScopeListed)
            .where(ScopeListed.external_id == psa.timecards[1])
        )
    org = psa.org
    org.advance(timedelta(hours=1))
    org.delete("pse__Timecard__c", psa.timecards[1])
    org.advance(timedelta(hours=1))
    assert org.purge_delete_log(org.now()) == 1
    with structlog.testing.capture_logs() as logs:
        again = run_sync(app, "crm", streams=["timecards"])
    assert again.status == "succeeded", again.message
    assert [e["event"] for e in logs if e["event"].startswith("full_read_")] == [
        "full_read_resumed",
        "full_read_restarted",
    ]
    assert rows_read(app, again.run_id) == 17
    assert live_timecards(app) == set(psa.timecards) - {psa.timecards[1]}
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))


def test_the_read_fingerprint_follows_the_query_not_the_transport() -> None:
    """A stream's `where`, fields or object change what a read lists; the allowance headroom
    or page size do not, so changing them mid-read does not start a cut-off read over."""

    def key(**settings: Any) -> str | None:
        values = {**SalesforceConnector.example_settings, **settings}
        conn = SalesforceConnector(SalesforceSettings(**values), ConnectorContext("crm"))
        return conn.read_fingerprint("timecards")

    base = key()
    assert base is not None and len(base) == 16
    assert key(api_headroom="0.05", page_size=500, max_retries=5) == base
    assert key(streams={"expenses": {"where": "pse__Billable__c = true"}}) == base
    assert key(streams={"timecards": {"where": "CurrencyIsoCode = 'USD'"}}) != base
    assert key(streams={"timecards": {"fields": {"hours": "Hours__c"}}}) != base
