"""The Workfront connector end to end: the sandbox over HTTPS, through `run_sync` into the
ledger (SQLite and PostgreSQL). Each scenario checks the ledger's hours, labor cost and
expenses per project and currency against what the fake account holds."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import structlog
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.workfront import WorkfrontConnector
from pmo_ledger.connectors.workfront.client import WorkfrontClient
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.run_records import StreamResult
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetLine,
    BudgetVersion,
    LedgerEntry,
    Project,
    Quarantine,
    Task,
    TaskDependency,
)
from tests.connectors.workfront.account import Account, ledger_totals, wf_app


def test_first_load_matches_the_account_per_project_and_currency(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """Every stream loads; hours, labor cost (actualCost, else valued at the dated rate) and
    expenses per project and currency are what Workfront holds; every search sorted by ID;
    tasks carry the three-point durations of the custom fields configured."""
    app = wf_app(
        engine, tmp_path, account, optimistic_field="DE:Optimistic Duration",
        pessimistic_field="DE:Pessimistic Duration",
    )  # fmt: skip
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == account.source_totals()
    # The predecessor between two projects is kept, and flagged in the log.
    (crossing,) = [e for e in logs if e["event"] == "workfront_cross_project_dependencies"]
    assert crossing["ids"] == [account.seed.cross_project_link]
    searches = [r for r in account.server.requests if r.endpoint.endswith("/search")]
    assert searches and all(r.params.get("ID_Sort") == ["asc"] for r in searches)
    assert all(r.params.get("$$LIMIT") == ["50"] for r in searches)
    with app.reading() as s:
        projects = s.scalar(
            select(func.count()).select_from(Project).where(Project.code != "UNMAPPED")
        )
        tasks = s.scalar(select(func.count()).select_from(Task))
        links = s.scalar(select(func.count()).select_from(TaskDependency))
        budgets = s.scalar(
            select(func.count(func.distinct(BudgetVersion.id))).join(
                BudgetLine, BudgetLine.version_id == BudgetVersion.id
            )
        )
        three = {
            t.external_id: (t.optimistic_days, t.most_likely_days, t.pessimistic_days)
            for t in s.scalars(select(Task))
        }
    for row in account.store.rows("TASK"):
        points = (row["DE:Optimistic Duration"], Decimal(row["durationMinutes"]) / 480,  # type: ignore[arg-type]
                  row["DE:Pessimistic Duration"])  # fmt: skip
        assert three[str(row["ID"])] == points
    assert projects == len(account.store.rows("PROJ"))
    assert conditions(app) == {
        str(r["referenceNumber"]): {"ON": "on_target", "AR": "at_risk", "IT": "in_trouble"}[
            str(r["condition"])
        ]
        for r in account.store.rows("PROJ")
    }
    assert set(conditions(app).values()) == {"on_target", "at_risk", "in_trouble"}
    assert tasks == len(account.store.rows("TASK"))
    assert links == len(account.store.rows("PRED"))
    assert budgets == len(account.store.rows("PROJ"))


def conditions(app: App) -> dict[str, str | None]:
    """The ledger's project condition by project code (issue 19, migration 0012)."""
    with app.reading() as s:
        rows = s.execute(select(Project.code, Project.condition).where(Project.code != "UNMAPPED"))
        return {code: condition for code, condition in rows.tuples()}


def entries_of(app: App, run_id: int) -> dict[str, int]:
    """Ledger entries a run wrote, by reason."""
    with app.reading() as s:
        rows = s.execute(
            select(LedgerEntry.reason, func.count())
            .where(LedgerEntry.run_id == run_id)
            .group_by(LedgerEntry.reason)
        )
        return {reason: n for reason, n in rows.tuples()}


def test_mutation_rounds_keep_the_totals_exact_and_read_only_what_changed(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """Three rounds of edits, deletions, status changes, moves, re-logs and new rows, each
    followed by a sync: after each, hours, labor cost and expenses per project and currency
    are what Workfront holds; incremental reads filter on lastUpdateDate; a run with nothing
    changed writes no entry."""
    app = wf_app(engine, tmp_path, account)
    assert run_sync(app, "wf").status == "succeeded"
    server, seed = account.server, account.seed
    approved = account.approved_hours()
    submitted = [r["ID"] for r in account.store.rows("HOUR") if r.get("status") == "SUB"]
    expenses = [r["ID"] for r in account.store.rows("EXPNS")]
    null_currency = account.project("PRJ-0004")

    # Round 1: an edit, a deletion, a rejection, an approval, a move, new rows.
    server.change_hour(approved[0], hours=Decimal("9.5"))
    gone = server.delete_hour(approved[1])
    server.set_hour_status(approved[2], "REJ")
    server.set_hour_status(submitted[0], "APP")
    server.change_hour(approved[3], projectID=account.project("PRJ-0003"))
    server.add_hour(
        hours=Decimal("3.25"), entryDate=date(2025, 6, 27), projectID=null_currency,
        ownerID=seed.users[8], roleID=account.store.get("USER", seed.users[8])["roleID"],
        status="APP",
    )  # fmt: skip
    server.change_expense(expenses[0], actualAmount=Decimal("999.99"))
    server.delete_expense(expenses[1])
    server.add_expense(actualAmount=Decimal("42.10"), effectiveDate=date(2025, 6, 20),
                       projectID=null_currency)  # fmt: skip
    server.clear_log()
    first = run_sync(app, "wf")
    assert first.status == "succeeded", first.message
    assert ledger_totals(app) == account.source_totals()
    hour_reads = [r for r in server.requests if r.endpoint == "HOUR/search"]
    assert hour_reads and all(r.params.get("lastUpdateDate_Mod") == ["gte"] for r in hour_reads)
    assert [r.params["subObjCode"] for r in server.requests if r.endpoint == "JRNLE/search"] == [
        ["HOUR"], ["EXPNS"],
    ]  # fmt: skip
    # The edit restates; the move reverses and rebooks (2 restates); the deletion, the
    # rejection and the expense deletion reverse; the approval and the new rows insert.
    assert entries_of(app, first.run_id) == {"restate": 4, "delete": 3, "insert": 3}

    # Round 2: the deleted hour re-logged under a new ID, the rejected one approved again.
    again = {k: v for k, v in gone.items() if k not in ("ID", "lastUpdateDate", "entryDate")}
    server.add_hour(entryDate=gone["entryDate"], **again)
    server.set_hour_status(approved[2], "APP")
    for hour_id in approved[4:7]:
        server.delete_hour(hour_id)
    second = run_sync(app, "wf")
    assert second.status == "succeeded", second.message
    assert ledger_totals(app) == account.source_totals()
    assert entries_of(app, second.run_id) == {"insert": 2, "delete": 3}

    # Round 3: nothing changed.
    third = run_sync(app, "wf")
    assert third.status == "succeeded", third.message
    assert ledger_totals(app) == account.source_totals()
    assert entries_of(app, third.run_id) == {}


def test_deletions_without_a_journal_are_found_by_the_daily_scan(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """deletes = "scan": a deletion is not seen by the incremental run the same day, and is
    reversed by the first run of the next day, which lists every hour as a scope; the journal
    is never asked."""
    account.server.disable_journal(refuse=True)
    app = wf_app(engine, tmp_path, account, deletes="scan", scan_every="24h")
    assert run_sync(app, "wf").status == "succeeded"
    victim = account.approved_hours()[0]
    account.server.delete_hour(victim)
    assert run_sync(app, "wf", streams=["hours"]).status == "succeeded"
    with app.reading() as s:
        line = s.scalars(select(ActualLine).where(ActualLine.external_id == victim)).one()
        assert line.deleted_at is None  # the same day: not scanned yet
    account.store.advance(timedelta(days=1))
    result = run_sync(app, "wf", streams=["hours"])
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == account.source_totals()
    with app.reading() as s:
        line = s.scalars(select(ActualLine).where(ActualLine.external_id == victim)).one()
        assert line.deleted_reason == "scope_reversal"
    assert not [r for r in account.server.requests if r.endpoint.startswith("JRNLE")]


def test_a_journal_that_cannot_be_read_stops_hours_with_one_line_naming_the_fix(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """The journal refused (403): hours and expenses stop with one line that says to set
    deletes = "scan"; the other streams go on; with deletes = "scan" the next run succeeds."""
    app = wf_app(engine, tmp_path, account)
    assert run_sync(app, "wf").status == "succeeded"
    account.server.disable_journal(refuse=True)
    result = run_sync(app, "wf")
    assert result.status == "partial"
    failed = {s.stream: s.message for s in result.streams if s.status != "succeeded"}
    assert set(failed) == {"hours", "expenses"}
    message = failed["hours"] or ""
    assert "\n" not in message and message.startswith(
        "stream hours: Workfront's journal (JRNLE) cannot be read"
    )
    assert message.endswith('set connectors.wf.deletes = "scan"')
    fixed = wf_app(engine, tmp_path, account, deletes="scan")
    assert run_sync(fixed, "wf").status == "succeeded"


def test_a_session_expiring_mid_run_logs_in_again_and_the_run_goes_on(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """username + password: the session dies 12 calls after the login; one new login, the
    run goes on, totals exact."""
    user = account.server.user
    app = wf_app(engine, tmp_path, account, api_key=None, username=user.username,
                 password=user.password)  # fmt: skip
    connector = app.connector("wf")
    assert isinstance(connector, WorkfrontConnector)
    connector.client.login()
    account.server.expire_after(12)
    result = run_sync(app, "wf", connector=connector)
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == account.source_totals()
    assert account.server.calls["login"] == 2
    assert not [r for r in account.server.requests if "apiKey" in r.params]


def test_a_revoked_api_key_fails_the_run_naming_the_key(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """A 401 is a configuration error: the run fails and says which key to set."""
    account.server.revoke_api_key()
    app = wf_app(engine, tmp_path, account)
    result = run_sync(app, "wf")
    assert result.status == "failed"
    assert "set connectors.wf.api_key" in (result.message or "")
    with app.reading() as s:
        assert s.scalar(select(func.count()).select_from(ActualLine)) == 0


def test_an_error_body_with_status_200_fails_the_stream_with_workfronts_message(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """200 with `{"error": ...}` on the expenses search is an error, never an empty page;
    the next run loads the expenses exactly."""
    account.server.error_body_next(1, message="Database timeout", objcode="EXPNS")
    app = wf_app(engine, tmp_path, account)
    result = run_sync(app, "wf")
    assert result.status in ("failed", "partial")
    messages = " ".join([result.message or ""] + [s.message or "" for s in result.streams])
    assert "Database timeout" in messages
    assert run_sync(app, "wf").status == "succeeded"
    assert ledger_totals(app) == account.source_totals()


def test_dirty_rows_are_quarantined_with_their_reasons(
    engine: Engine, tmp_path: Path, tls: TlsFiles
) -> None:
    """The seed's dirty hours and expenses: no hours and no cost wait as missing_amount, an
    unreadable number or a missing date as unreadable_row with the field named; general time
    with no project loads under UNMAPPED; every other line loads exactly."""
    store = FakeWorkfront()
    seed = seed_demo(store, hours=300, dirty=True)
    with WorkfrontSandbox(store, tls=tls, user=ApiUser(user_id=seed.api_user_id)) as server:
        account = Account(store, seed, server)
        app = wf_app(engine, tmp_path, account)
        result = run_sync(app, "wf")
        assert result.status == "succeeded", result.message
        assert ledger_totals(app) == account.source_totals()
    with app.reading() as s:
        held = {
            q.external_id: (q.reason, str(q.payload))
            for q in s.scalars(select(Quarantine).where(Quarantine.status == "open"))
        }
    why = {seed.dirty[i]: held[i] for i in seed.dirty}
    assert why["hours is null"][0] == "missing_amount"
    assert why["hours is not a number"][0] == "unreadable_row"
    assert "hours is not a number: 'seven'" in why["hours is not a number"][1]
    assert "entryDate is empty" in why["entryDate is null"][1]
    assert "actualAmount is not a number: '1,250.00'" in why["actualAmount is not a number"][1]
    assert "effectiveDate is empty" in why["effectiveDate is null"][1]
    assert {held[i][0] for i in seed.general_hours} == {"unmapped"}


def test_429_storms_are_waited_out_and_a_longer_one_ends_the_run_partial(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """Two 429s with Retry-After: 7 are waited out (two waits of 7 s, nothing slept for
    real); three, with max_attempts = 3, end the run partial with the time to retry; the
    next run loads the hours exactly."""
    app = wf_app(engine, tmp_path, account)
    waits: list[float] = []

    def connector() -> WorkfrontConnector:
        """The configured connector, its waits recorded instead of slept."""
        base = app.connector("wf")
        assert isinstance(base, WorkfrontConnector)
        client = WorkfrontClient(base.config, "wf", sleep=waits.append)
        return WorkfrontConnector(base.config, base.context, client=client)

    account.server.fail_next(2, status=429, retry_after=7, objcode="HOUR")
    assert run_sync(app, "wf", connector=connector()).status == "succeeded"
    assert waits == [7.0, 7.0]
    account.server.change_hour(account.approved_hours()[0], hours=Decimal("6"))
    account.server.fail_next(3, status=429, retry_after=7, objcode="HOUR")
    limited = run_sync(app, "wf", connector=connector())
    assert limited.status == "partial"
    (hours,) = [s for s in limited.streams if s.stream == "hours"]
    assert hours.retry_at is not None and "429" in (hours.message or "")
    assert run_sync(app, "wf", connector=connector()).status == "succeeded"
    assert ledger_totals(app) == account.source_totals()


def test_a_project_re_sync_reverses_what_vanished_from_that_project_only(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """The journal off (no entries), two hours deleted in two projects: `--project` of one
    reads that project's hours as a scope and reverses its deletion only."""
    app = wf_app(engine, tmp_path, account)
    assert run_sync(app, "wf").status == "succeeded"
    account.store.journal_enabled = False  # deletions leave no journal entry
    first, second = account.project("PRJ-0001"), account.project("PRJ-0003")
    rows = account.store.rows("HOUR")
    mine = next(str(r["ID"]) for r in rows if r.get("projectID") == first and r["status"] == "APP")
    other = next(
        str(r["ID"]) for r in rows if r.get("projectID") == second and r["status"] == "APP"
    )
    account.server.delete_hour(mine)
    account.server.delete_hour(other)
    account.server.clear_log()
    result = run_sync(app, "wf", streams=["hours"], project=first)
    assert result.status == "succeeded", result.message
    with app.reading() as s:
        lines = s.scalars(select(ActualLine).where(ActualLine.external_id.in_([mine, other])))
        gone = {line.external_id: line.deleted_reason for line in lines}
    assert gone == {mine: "scope_reversal", other: None}
    reads = [r for r in account.server.requests if r.endpoint == "HOUR/search"]
    assert reads and all(r.params.get("projectID") == [first] for r in reads)


def test_each_stream_announces_its_count_to_the_runners_progress(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """What `on_batch` (the CLI's progress) sees of each stream carries the count Workfront
    answered before the read (`Page.expected`, issue 19 item 1): every hour (a record, or a deletion when its status does not count) of as many."""
    app = wf_app(engine, tmp_path, account)
    seen: dict[str, tuple[int, int | None]] = {}

    def progress(outcome: StreamResult) -> None:
        seen[outcome.stream] = (outcome.listed, outcome.expected)

    assert run_sync(app, "wf", on_batch=progress).status == "succeeded"
    hours = len(account.store.rows("HOUR"))
    assert seen["hours"] == (hours, hours)
    assert seen["projects"][1] == len(account.store.rows("PROJ"))
