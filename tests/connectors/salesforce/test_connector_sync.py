"""The Salesforce connector end to end: the real simple-salesforce client against the sandbox
over HTTPS, through `run_sync` into the ledger (SQLite and PostgreSQL). Each scenario checks the
ledger's totals per project and currency against what the fake org serves."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from sqlalchemy import Engine, func, select, text

from pmo_ledger.connectors.salesforce.sandbox import SandboxServer
from pmo_ledger.jobs.run_records import StreamResult
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetLine,
    BudgetVersion,
    FxRate,
    LedgerEntry,
    Project,
    Quarantine,
    RevenueForecast,
)
from tests.connectors.salesforce.psa_org import PsaOrg, ledger_totals, sandbox_app

LINES = ("timecards", "expenses")


class Killed(BaseException):
    """The process dying: not an Exception, so no job boundary catches it."""


def die_in(stream: str) -> Callable[[StreamResult], None]:
    """An on_batch callback that kills the run after the first batch of `stream` commits."""

    def die(outcome: StreamResult) -> None:
        if outcome.stream == stream:
            raise Killed

    return die


def test_first_load_matches_the_org_per_project_and_currency(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Every stream loads; lines, budgets, projects and rates are what the org holds."""
    app = sandbox_app(engine, tmp_path, server)
    result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == psa.source_totals()
    # P1: splits 600.25 + 603.25 + 606.25 and expenses 120.40 + 122.40, all in EUR.
    assert ledger_totals(app)[("P1", "EUR")] == (5, Decimal("2052.55"))
    with app.reading() as s:
        p1 = s.scalars(select(Project).where(Project.code == "P1")).one()
        assert (p1.name, p1.currency) == ("Project P1", "EUR")
        urls = s.scalars(select(ActualLine.source_url).where(ActualLine.source == "crm")).all()
        assert len(urls) == 12 and all(
            u and u.startswith(server.instance_url + "/lightning/r/") for u in urls
        )
        budgets = s.execute(
            select(BudgetVersion.kind, func.count(), func.sum(BudgetLine.amount))
            .join(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
            .group_by(BudgetVersion.kind)
        ).all()
        # One approved budget per project, phased linearly over its 12 months (Jan-Dec).
        assert sorted(tuple(b) for b in budgets) == [
            ("baseline", 36, Decimal("150000")),
            ("current", 36, Decimal("150000")),
        ]
        rates = s.execute(select(FxRate.to_ccy, FxRate.rate, FxRate.rate_type)).all()
        assert ("EUR", Decimal("0.92"), "corporate") in [tuple(r) for r in rates]
    # Paging: the sandbox served 5 records per page, so timecards took two query_more calls.
    mores = [r for r in server.requests if "/query/" in r.path]
    assert len(mores) >= 2


def test_incremental_run_applies_edits_deletions_new_rows_and_moves(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Edits restate, deletions and rows leaving financials reverse, a moved row leaves one
    project for another; totals match the org again and nothing is written twice."""
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm").status == "succeeded"
    org = psa.org
    org.advance(timedelta(hours=1))
    org.update("pse__Timecard__c", psa.timecards[0], pse__Total_Cost__c="999.99")
    org.delete("pse__Timecard__c", psa.timecards[1])
    org.update("pse__Expense__c", psa.expenses[1], pse__Include_In_Financials__c=False)
    org.update("pse__Timecard__c", psa.timecards[2], pse__Project__c=psa.projects["P1"])
    psa.add_expense("P3", "77.70")
    server.clear_log()
    result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == psa.source_totals()
    # Incremental: the line streams read only what changed since the checkpoint (minus the
    # lookback). Streams that had no rows yet (no checkpoint) are read in full again.
    queries = [
        r
        for r in server.requests
        if r.path.endswith("/queryAll/")
        and any(o in r.params["q"][0] for o in ("pse__Timecard__c", "pse__Expense__c"))
    ]
    assert len(queries) == 2
    assert [r.params["q"][0] for r in queries if "SystemModstamp >=" not in r.params["q"][0]] == []
    with app.reading() as s:
        moved = s.scalars(
            select(ActualLine).where(ActualLine.external_id == psa.timecards[2])
        ).one()
        assert s.get(Project, moved.project_id).code == "P1"  # type: ignore[union-attr]
        reasons = dict(
            s.execute(
                select(LedgerEntry.reason, func.count())
                .where(LedgerEntry.run_id == result.run_id)
                .group_by(LedgerEntry.reason)
            )
            .tuples()
            .all()
        )
    # The edit restates once; the move reverses the old version and books the new one (two
    # restates); the deletion and the row leaving financials reverse; the new row inserts.
    assert reasons == {"restate": 3, "delete": 2, "insert": 1}


def test_a_row_changed_inside_the_lookback_window_is_read_again(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """A change that becomes visible with a SystemModstamp just before the stored checkpoint
    (a late commit) is read by the next run; one older than the lookback is not."""
    app = sandbox_app(engine, tmp_path, server)
    old = psa.timecards[0]
    psa.org.advance(timedelta(hours=2))
    late = psa.add_timecard("P2", "4.0", "300.00")  # the newest row: the checkpoint
    assert run_sync(app, "crm").status == "succeeded"
    psa.org.update_silently("pse__Timecard__c", late, pse__Total_Cost__c="310.00")
    psa.org.update_silently("pse__Timecard__c", old, pse__Total_Cost__c="1.00")
    assert run_sync(app, "crm").status == "succeeded"
    with app.reading() as s:
        amounts = dict(
            s.execute(
                select(ActualLine.external_id, ActualLine.amount).where(
                    ActualLine.external_id.in_([late, old])
                )
            )
            .tuples()
            .all()
        )
    assert amounts == {late: Decimal("310.00"), old: Decimal("600.25")}


def test_an_expired_session_logs_in_again_and_the_run_goes_on(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """INVALID_SESSION_ID mid-run: one new SOAP login, the cursor of the query goes on."""
    app = sandbox_app(engine, tmp_path, server)
    server.expire_after(6)
    result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == psa.source_totals()
    logins = [r for r in server.requests if r.path.startswith("/services/Soap/u/")]
    assert len(logins) == 2


def test_an_access_token_that_expires_fails_the_run_with_the_reason(
    engine: Engine, tmp_path: Path, server: SandboxServer
) -> None:
    """A bare access token cannot log in again: the run fails and says to renew it."""
    from tests.connectors.salesforce.sandbox_support import http, soap_login

    session_id, _ = soap_login(server, http(server))
    app = sandbox_app(
        engine, tmp_path, server, username=None, password=None, security_token=None,
        instance_url=server.instance_url, access_token=session_id,
    )  # fmt: skip
    server.expire_sessions()
    result = run_sync(app, "crm")
    assert result.status == "failed"
    assert "renew the access token" in (result.message or "")


def test_api_allowance_running_low_ends_partial_and_resumes_without_duplicates(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Below the headroom the run stops partial with a clear message and keeps what it
    committed; with allowance back, the next run finishes with exact totals."""
    app = sandbox_app(engine, tmp_path, server, api_headroom="0.20")
    server.api_limit(100, used=70)  # 30 left: stops when fewer than 20 remain
    result = run_sync(app, "crm")
    assert result.status == "partial"
    assert "stopped to keep Salesforce API allowance" in (result.message or "") or any(
        "stopped to keep Salesforce API allowance" in (s.message or "") for s in result.streams
    )
    assert server.api_usage[0] <= 82
    server.api_limit(10_000)
    assert run_sync(app, "crm").status == "succeeded"
    assert ledger_totals(app) == psa.source_totals()
    with app.reading() as s:
        lines = s.scalar(
            select(func.count()).select_from(ActualLine).where(ActualLine.source == "crm")
        )
        inserts = s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.reason == "insert")
        )
    assert (lines, inserts) == (12, 12)


def test_request_limit_exceeded_ends_partial(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """The org's own REQUEST_LIMIT_EXCEEDED (no headroom kept) also ends the run partial."""
    app = sandbox_app(engine, tmp_path, server, api_headroom="0")
    server.api_limit(6)  # the first run needs about 12 calls
    result = run_sync(app, "crm")
    assert result.status == "partial"
    assert any("REQUEST_LIMIT_EXCEEDED" in (s.message or "") for s in result.streams)
    server.api_limit(10_000)
    assert run_sync(app, "crm").status == "succeeded"
    assert ledger_totals(app) == psa.source_totals()


def test_a_purged_delete_log_turns_the_read_into_a_full_scope_that_reverses(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Deletions emptied from the recycle bin before the run are invisible to queryAll; the
    delete log's earliestDateAvailable is later than the checkpoint, so the stream is read in
    full and the vanished line reversed."""
    app = sandbox_app(engine, tmp_path, server)
    app.config.ledger.__dict__["max_scope_reversal_min"] = 5
    assert run_sync(app, "crm").status == "succeeded"
    psa.org.advance(timedelta(hours=1))
    psa.org.delete("pse__Timecard__c", psa.timecards[3])
    psa.org.advance(timedelta(hours=1))
    assert psa.org.purge_delete_log(psa.org.now()) == 1
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == psa.source_totals()
    assert any(
        e["event"] == "salesforce_delete_log_forgot" and e["stream"] == "timecards" for e in logs
    )
    with app.reading() as s:
        gone = s.scalars(select(ActualLine).where(ActualLine.external_id == psa.timecards[3])).one()
        assert gone.deleted_reason == "scope_reversal"


def test_dirty_rows_are_quarantined_or_loaded_exactly(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Null amount and unknown currency wait in quarantine; no project loads under UNMAPPED;
    a scientific-notation amount loads to the cent; the run succeeds."""
    no_amount = psa.add_expense("P2", None)
    unknown_ccy = psa.add_expense("P2", "10.00", currency="ZZZ")
    no_project = psa.add_timecard(None, "8.0", "640.00")
    big = psa.add_expense("P3", "12345678.91")
    app = sandbox_app(engine, tmp_path, server)
    result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    wire = [r for r in server.requests if "/query" in r.path]
    assert wire  # the sandbox writes 12345678.91 as 1.234567891E7 (see the sandbox tests)
    with app.reading() as s:
        held = dict(
            s.execute(
                select(Quarantine.external_id, Quarantine.reason).where(Quarantine.status == "open")
            )
            .tuples()
            .all()
        )
        amount = s.scalar(select(ActualLine.amount).where(ActualLine.external_id == big))
        unmapped = s.scalars(select(ActualLine).where(ActualLine.external_id == no_project)).one()
        assert s.get(Project, unmapped.project_id).code == "UNMAPPED"  # type: ignore[union-attr]
    assert held[no_amount] == "missing_amount"
    assert held[unknown_ccy] == "unknown_currency"
    assert held[no_project] == "unmapped"
    assert amount == Decimal("12345678.91")


def test_a_run_killed_between_two_pages_runs_again_to_exact_totals(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """The process dies after the first committed batch; the next run resumes from that
    batch's checkpoint and loads the rest exactly once."""
    for i in range(10):
        psa.add_timecard("P3", "1.0", f"{10 + i}.00")
    app = sandbox_app(engine, tmp_path, server)
    app.config.ledger.__dict__["batch_rows"] = 5  # small batches: several commits per stream

    with pytest.raises(Killed):
        run_sync(app, "crm", on_batch=die_in("timecards"))
    with app.reading() as s:
        first = s.scalar(
            select(func.count()).select_from(ActualLine).where(ActualLine.stream == "timecards")
        )
    assert first is not None and 0 < first < 18
    result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == psa.source_totals()
    with app.reading() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == s.scalar(
            select(func.count()).select_from(ActualLine)
        )


def test_verify_reports_zero_drift_then_a_row_changed_behind_the_connectors_back(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """COUNT() and SUM() per project and currency agree after a load; a silent edit at the
    source shows as drift of exactly that amount, stored in control_total and v_sync_health."""
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm").status == "succeeded"
    clean = verify(app, "crm", ["timecards", "expenses"])
    assert not clean.drift
    # timecards: P1 EUR, P2 USD, P3 USD; expenses: P1 EUR, P2 USD
    assert sum(len(s.drifts) for s in clean.streams) == 5
    psa.org.update_silently("pse__Expense__c", psa.expenses[0], pse__Amount__c="200.00")
    drifted = verify(app, "crm", ["expenses"])
    assert drifted.drift
    (d,) = drifted.streams[0].drifted
    assert (psa.code_of(d.project_ref), d.currency, d.count_drift, d.amount_drift) == (
        "P1", "EUR", 0, Decimal("200.00") - Decimal("120.40"),
    )  # fmt: skip
    with app.reading() as s:
        health = s.execute(
            text(
                "SELECT count_drift, amount_drift FROM v_sync_health "
                "WHERE connector = 'crm' AND stream = 'expenses'"
            )
        ).one()
    # The latest check's drift, summed over the stream's groups (TEXT on SQLite, exact).
    assert (health[0], Decimal(str(health[1]))) == (0, Decimal("79.60"))


def test_opportunities_are_revenue_forecasts_of_the_linked_project(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """An opportunity named by a project's pse__Opportunity__c forecasts that project."""
    account = psa.org.insert("Account", Name="ACME")
    opp = psa.org.insert(
        "Opportunity",
        Name="ACME phase 2",
        AccountId=account,
        Amount="99213206",
        CloseDate=date(2025, 9, 30),
        StageName="Proposal",
        Probability="40",
        CurrencyIsoCode="USD",
    )
    psa.org.update("pse__Proj__c", psa.projects["P2"], pse__Opportunity__c=opp)
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm").status == "succeeded"
    with app.reading() as s:
        forecast = s.scalars(select(RevenueForecast)).one()
        assert forecast.amount == Decimal("99213206")
        assert s.get(Project, forecast.project_id).code == "P2"  # type: ignore[union-attr]


def test_a_run_right_after_the_last_one_asks_the_delete_log_a_valid_window(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """A checkpoint seconds old still gets a delete-log window of minutes (the API refuses a
    window under a minute), so the next run stays incremental and succeeds."""
    # The org clock is a day behind this machine's: bring it to the wall clock, so the newest
    # row (the checkpoint) is seconds old when the second run starts.
    psa.org.set_now(max(psa.org.now(), datetime.now(UTC).replace(microsecond=0)))
    psa.add_timecard("P3", "2.0", "150.00")
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm").status == "succeeded"
    psa.add_timecard("P3", "3.0", "225.00")
    server.clear_log()
    result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    windows = [r for r in server.requests if r.path.endswith("/deleted/")]
    assert windows and all(r.status == 200 for r in windows)
    assert ledger_totals(app) == psa.source_totals()


def test_an_interrupted_recovery_read_still_reverses_what_the_log_forgot(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """The full read after a purged delete log stops half-way: its pages moved no checkpoint,
    so the next run reads in full again and reverses the vanished line."""
    app = sandbox_app(engine, tmp_path, server)
    app.config.ledger.__dict__["max_scope_reversal_min"] = 5
    assert run_sync(app, "crm").status == "succeeded"
    psa.org.advance(timedelta(hours=1))
    psa.org.delete("pse__Timecard__c", psa.timecards[3])
    psa.org.advance(timedelta(hours=1))
    psa.org.purge_delete_log(psa.org.now())
    app.config.ledger.__dict__["batch_rows"] = 3

    with pytest.raises(Killed):
        run_sync(app, "crm", streams=["timecards"], on_batch=die_in("timecards"))
    result = run_sync(app, "crm", streams=["timecards"])
    assert result.status == "succeeded", result.message
    assert ledger_totals(app, ("timecards",)) == psa.source_totals(("timecards",))


def test_a_quiet_stream_stays_incremental(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """After a read, the checkpoint is the time the read started, not the newest row's
    change: a stream nobody edits for weeks is not read in full on every run."""
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm", streams=["timecards"]).status == "succeeded"
    psa.org.advance(timedelta(days=20))  # no run for 20 days: the next one reads in full
    assert run_sync(app, "crm", streams=["timecards"]).status == "succeeded"
    psa.org.advance(timedelta(hours=1))
    server.clear_log()
    assert run_sync(app, "crm", streams=["timecards"]).status == "succeeded"
    reads = [r.params["q"][0] for r in server.requests if r.path.endswith("/queryAll/")]
    assert len(reads) == 1 and "SystemModstamp >=" in reads[0]


def test_conversion_rates_keep_their_six_decimals(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """Rates are stored to 8 places: 0.912345 stays 0.912345 (money stays at 4)."""
    psa.org.insert("DatedConversionRate", IsoCode="GBP", ConversionRate="0.912345",
                   StartDate=date(2025, 6, 1), NextStartDate=None)  # fmt: skip
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm", streams=["fx_rates"]).status == "succeeded"
    with app.reading() as s:
        rate = s.scalar(
            select(FxRate.rate).where(FxRate.to_ccy == "GBP", FxRate.valid_from == date(2025, 6, 1))
        )
    assert rate == Decimal("0.912345")
