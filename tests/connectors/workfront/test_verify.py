"""`pmo-ledger verify wf` against the sandbox (SQLite and PostgreSQL): hours (count, amount,
hours) and expenses (count, amount) per project and currency from Workfront's own `report`,
compared with the ledger; a change behind the connector's back shows as drift of exactly
that much."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine

from pmo_ledger.connectors.kit.sandbox_tls import TlsFiles
from pmo_ledger.connectors.workfront.sandbox import (
    ApiUser,
    FakeWorkfront,
    WorkfrontSandbox,
    seed_demo,
)
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from tests.connectors.workfront.account import Account, ledger_totals, wf_app


def test_verify_agrees_after_a_load_then_shows_a_silent_edit(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """No drift after a load (hours valued by the ledger included); an approved hour
    edited at the source without a sync drifts its project by exactly the change."""
    app = wf_app(engine, tmp_path, account)
    assert run_sync(app, "wf").status == "succeeded"
    account.server.clear_log()
    clean = verify(app, "wf", ["hours", "expenses"])
    assert not clean.drift, [d for s in clean.streams for d in s.drifted]
    assert not clean.failed, clean.failed
    assert [s.measures for s in clean.streams] == [
        ["count", "amount", "hours"],
        ["count", "amount"],
    ]
    reports = [r for r in account.server.requests if r.endpoint.endswith("/report")]
    # Hours with and without actualCost apart (the ledger values the latter in USD); one
    # documented sum per report, grouped by project, the rows without one asked apart.
    assert [r.endpoint for r in reports] == ["HOUR/report"] * 6 + ["EXPNS/report"] * 2
    assert [r.params["actualCost_Mod"] for r in reports[:6]] == [["notnull"]] * 4 + [["isnull"]] * 2
    assert [[k for k in r.params if k.endswith("_AggFunc")] for r in reports] == [
        ["actualCost_AggFunc"], ["actualCost_AggFunc"], ["hours_AggFunc"], ["hours_AggFunc"],
        ["hours_AggFunc"], ["hours_AggFunc"], ["actualAmount_AggFunc"], ["actualAmount_AggFunc"],
    ]  # fmt: skip
    assert all(v == ["sum"] for r in reports for k, v in r.params.items() if "AggFunc" in k)
    assert [r.params.get("projectID_1_GroupBy") for r in reports[:2]] == [["true"], None]
    assert reports[1].params["projectID_Mod"] == ["isnull"]
    assert all(r.params["status"] == ["APP"] for r in reports[:6])
    # A group per project and currency with hours (general time: no project), and with
    # expenses: the same groups the account holds.
    held = account.source_totals()
    with_hours = sum(1 for v in held.values() if v[0])
    with_expenses = sum(1 for v in held.values() if v[2])
    assert [len(s.drifts) for s in clean.streams] == [with_hours, with_expenses]

    costed = account.project("PRJ-0001")
    hour = next(
        r for r in account.store.rows("HOUR")
        if r.get("projectID") == costed and r.get("status") == "APP"
    )  # fmt: skip
    account.server.change_hour(str(hour["ID"]), hours=Decimal(hour["hours"]) + 2)  # type: ignore[arg-type]
    drifted = verify(app, "wf", ["hours"])
    (d,) = drifted.streams[0].drifted
    assert (d.project_ref, d.count_drift, d.amount_drift, d.hours_drift) == (
        costed, 0, Decimal(0), Decimal(2),
    )  # fmt: skip


def test_plain_dates_and_bare_count_and_report_answers_read_the_same(
    engine: Engine, tmp_path: Path, tls: TlsFiles
) -> None:
    """The documented variants (business dates as 2025-03-03; count and report without the
    data envelope, as api-basics.md prints them; reports with one sum and no null group):
    the same totals and no drift."""
    store = FakeWorkfront()
    seed = seed_demo(store, hours=300)
    user = ApiUser(user_id=seed.api_user_id)
    with WorkfrontSandbox(
        store, tls=tls, user=user, plain_dates=True, bare_aggregates=True,
        documented_only=True,
    ) as server:  # fmt: skip
        account = Account(store, seed, server)
        app = wf_app(engine, tmp_path, account)
        assert run_sync(app, "wf").status == "succeeded"
        assert ledger_totals(app) == account.source_totals()
        checked = verify(app, "wf", ["hours", "expenses"])
    assert not checked.failed and not checked.drift
