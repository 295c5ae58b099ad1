"""The Workfront connector against a fake that behaves the documented alternative ways: a
`Date` header on the wall clock, the API key read only as a parameter, a login read only from
the query, a journal that records nothing, and more (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import structlog
from sqlalchemy import Engine

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from pmo_ledger.jobs.sync import run_sync
from tests.connectors.workfront.account import Account, ledger_totals, wf_app


def _served(tls: TlsFiles, **options: object) -> Iterator[Account]:
    store = FakeWorkfront()
    seed = seed_demo(store, hours=300)
    user = ApiUser(user_id=seed.api_user_id)
    with WorkfrontSandbox(store, tls=tls, user=user, **options) as server:  # type: ignore[arg-type]
        yield Account(store, seed, server)


@pytest.fixture
def wall_clock(tls: TlsFiles) -> Iterator[Account]:
    yield from _served(tls, wall_clock_date=True)


def test_an_edit_stamped_before_a_wall_clock_date_header_is_read(
    engine: Engine, tmp_path: Path, wall_clock: Account
) -> None:
    """The fake's rows are stamped by its own clock (mid-2025), its Date header is today:
    a checkpoint taken from the Date would put every later edit behind the cursor."""
    app = wf_app(engine, tmp_path, wall_clock)
    assert run_sync(app, "wf").status == "succeeded"
    wall_clock.server.change_hour(wall_clock.approved_hours()[0], hours=Decimal("9.5"))
    wall_clock.server.delete_hour(wall_clock.approved_hours()[1])
    result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == wall_clock.source_totals()


def test_scan_mode_with_a_wall_clock_date_still_reads_edits(
    engine: Engine, tmp_path: Path, wall_clock: Account
) -> None:
    app = wf_app(engine, tmp_path, wall_clock, deletes="scan")
    assert run_sync(app, "wf").status == "succeeded"
    wall_clock.server.disable_journal()
    wall_clock.server.change_hour(wall_clock.approved_hours()[0], hours=Decimal("7.25"))
    wall_clock.server.delete_hour(wall_clock.approved_hours()[1])
    result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == wall_clock.source_totals()


@pytest.fixture
def strict_wire(tls: TlsFiles) -> Iterator[Account]:
    yield from _served(tls, api_key_param_only=True, login_query_only=True)


def _secrets_logged(logs: list[dict[str, object]], *secrets: str) -> list[str]:
    return [s for entry in logs for s in secrets if s in str(entry)]


def test_the_api_key_travels_as_the_documented_parameter_and_is_never_logged(
    engine: Engine, tmp_path: Path, strict_wire: Account
) -> None:
    """The fake reads the key only from `?apiKey=`: every stream loads; no log event holds
    the key (a storm of 503s makes the kit log its retries)."""
    app = wf_app(engine, tmp_path, strict_wire)
    strict_wire.server.fail_next(2, status=503, retry_after=0, objcode="HOUR")
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == strict_wire.source_totals()
    assert not _secrets_logged(logs, strict_wire.server.user.api_key)
    assert any(e["event"] == "http_retry" for e in logs)


def test_the_login_sends_username_and_password_as_query_parameters(
    engine: Engine, tmp_path: Path, strict_wire: Account
) -> None:
    user = strict_wire.server.user
    app = wf_app(
        engine, tmp_path, strict_wire, api_key=None, username=user.username,
        password=user.password,
    )  # fmt: skip
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == strict_wire.source_totals()
    (login,) = [r for r in strict_wire.server.requests if r.endpoint == "login"]
    assert (login.method, login.status, login.params["password"]) == ("POST", 200, ["***"])
    assert not _secrets_logged(logs, user.password)


@pytest.fixture
def untracked(tls: TlsFiles) -> Iterator[Account]:
    """An account whose journal never tracked hours or expenses, and answers (no refusal)."""
    store = FakeWorkfront()
    store.journal_enabled = False
    seed = seed_demo(store, hours=300)
    with WorkfrontSandbox(store, tls=tls, user=ApiUser(user_id=seed.api_user_id)) as server:
        server.disable_journal(refuse=False)
        yield Account(store, seed, server)


def test_a_journal_that_answers_but_records_nothing_stops_the_stream_naming_scan(
    engine: Engine, tmp_path: Path, untracked: Account
) -> None:
    """The journal answers with no entries (the Update Feed does not track hours): a run in
    which hours were changed and deleted fails the hours stream with one line naming the fix,
    instead of keeping the deleted hour live; the other streams go on."""
    app = wf_app(engine, tmp_path, untracked)
    assert run_sync(app, "wf").status == "succeeded"
    untracked.server.delete_hour(untracked.approved_hours()[0])
    untracked.server.change_hour(untracked.approved_hours()[1], hours=Decimal("3.5"))
    result = run_sync(app, "wf")
    (hours,) = [s for s in result.streams if s.stream == "hours"]
    assert hours.status != "succeeded"
    assert "\n" not in (hours.message or "")
    assert "records no HOUR change in the 7 days before" in (hours.message or "")
    assert (hours.message or "").endswith('set connectors.wf.deletes = "scan"')
    assert {s.stream for s in result.streams if s.status != "succeeded"} == {"hours"}


def test_hour_statuses_none_of_the_hours_has_fail_naming_the_codes_found(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """hour_statuses = ["A"] (a guess at "approved"): no hour has it, so instead of every
    hour becoming a deletion the stream stops naming the codes Workfront uses."""
    app = wf_app(engine, tmp_path, account, hour_statuses=["A"])
    result = run_sync(app, "wf")
    (hours,) = [s for s in result.streams if s.stream == "hours"]
    assert hours.status != "succeeded"
    assert hours.message == (
        "stream hours: no hour has a status of connectors.wf.hour_statuses (A); the hours "
        "found have APP, REJ, SUB: set hour_statuses to the codes that count"
    )
    assert all(h == 0 for h, _, _, _ in ledger_totals(app).values())  # no hour loaded


@pytest.fixture
def documented(tls: TlsFiles) -> Iterator[Account]:
    yield from _served(tls, documented_only=True)


def test_several_hour_statuses_and_a_project_re_sync_use_no_in_modifier(
    engine: Engine, tmp_path: Path, documented: Account
) -> None:
    """The fake refuses `_Mod=in` (not documented): two counting statuses still load, verify
    agrees, and a project re-sync of a project keyed by a field (several IDs) works."""
    from pmo_ledger.jobs.verify import verify

    app = wf_app(engine, tmp_path, documented, hour_statuses=["APP", "SUB"])
    result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    checked = verify(app, "wf", ["hours", "expenses"])
    assert not checked.failed and not checked.drift
    project = documented.project("PRJ-0001")
    again = run_sync(app, "wf", streams=["hours"], project=project)
    assert again.status == "succeeded", again.message
    assert not [r for r in documented.server.requests if "in" in r.params.get("status_Mod", [])]


def test_optional_fields_an_api_model_lacks_are_dropped_once_with_a_log_event(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """PROJ referenceNumber and USER emailAddr answer "does not support field": projects and
    users still load (codes fall back to the ID, no email), each stream logs the drop once."""
    account.server.api.missing_fields = {"PROJ": {"referenceNumber"}, "USER": {"emailAddr"}}
    app = wf_app(engine, tmp_path, account)
    with structlog.testing.capture_logs() as logs:
        result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == account.source_totals()
    dropped = [(e["stream"], e["fields"]) for e in logs
               if e["event"] == "workfront_optional_fields_dropped"]  # fmt: skip
    assert dropped == [("users", ["emailAddr", "isActive"]), ("projects", ["referenceNumber"])]


def test_each_read_ends_with_the_rows_read_of_those_the_count_announced(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    app = wf_app(engine, tmp_path, account)
    with structlog.testing.capture_logs() as logs:
        assert run_sync(app, "wf").status == "succeeded"
    done = {e["stream"]: e["summary"] for e in logs if e["event"] == "workfront_read_done"}
    hours = len(account.store.rows("HOUR"))
    assert done["hours"] == f"hours: {hours:,} of {hours:,} expected"
    assert done["tasks"] == f"tasks: {len(account.store.rows('TASK')):,} of " + (
        f"{len(account.store.rows('TASK')):,} expected"
    )


def test_a_scan_that_would_reverse_too_many_hours_is_held_by_the_mass_delete_guard(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """deletes = "scan": 30 approved hours vanish (more than 5% of the scope and more than
    the floor of 5); the next day's scan reverses none of them and says why; allowed
    explicitly, it reverses them all and the ledger is the account again."""
    from datetime import timedelta

    app = wf_app(engine, tmp_path, account, {"max_scope_reversal_min": 5}, deletes="scan")
    assert run_sync(app, "wf").status == "succeeded"
    before = ledger_totals(app)
    account.server.disable_journal()
    for hour in account.approved_hours()[:30]:
        account.server.delete_hour(hour)
    account.store.advance(timedelta(days=1))
    held = run_sync(app, "wf")
    (hours,) = [s for s in held.streams if s.stream == "hours"]
    assert hours.status != "succeeded"
    assert "mass_delete_guard: scope hours would reverse 30 of" in (hours.message or "")
    assert ledger_totals(app) == before
    allowed = run_sync(app, "wf", allow_mass_delete=True, full=True)
    assert allowed.status == "succeeded", allowed.message
    assert ledger_totals(app) == account.source_totals()


def test_an_assignment_whose_task_moves_keeps_its_planned_hours_once(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """The task moves 120 days later: the assignment's hours go to the new periods and the
    periods it left are closed, so its live planned hours still sum to its work."""
    from datetime import timedelta

    from sqlalchemy import select

    from pmo_ledger.ledger.models import Allocation

    app = wf_app(engine, tmp_path, account)
    assert run_sync(app, "wf").status == "succeeded"
    assignment = account.store.rows("ASSGN")[0]
    task = account.store.get("TASK", str(assignment["taskID"]))

    def planned() -> dict[str, Decimal]:
        with app.reading() as s:
            rows = s.execute(
                select(Allocation.period, Allocation.planned_hours).where(
                    Allocation.external_id == assignment["ID"], Allocation.deleted_at.is_(None)
                )
            ).all()
        return {period: Decimal(hours) for period, hours in rows}

    before = planned()
    shift = timedelta(days=120)
    account.store.update("TASK", str(task["ID"]), {
        "plannedStartDate": task["plannedStartDate"] + shift,  # type: ignore[operator]
        "plannedCompletionDate": task["plannedCompletionDate"] + shift,  # type: ignore[operator]
    })  # fmt: skip
    assert run_sync(app, "wf").status == "succeeded"
    after = planned()
    assert sum(after.values()) == sum(before.values()) == Decimal(assignment["workRequired"]) / 60  # type: ignore[arg-type]
    assert not set(after) & set(before) or min(after) > min(before)
