"""`pmo-ledger verify crm` against the sandbox org (SQLite and PostgreSQL): counts, amounts and
hours of timecards and expenses and the current budget of each project, compared with the
ledger; a silent edit of hours or of a budget at the source exits 4 naming the project and the
measure; agreement exits 0 with a line that says so."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from typer.testing import CliRunner, Result

from pmo_ledger.connectors.salesforce.sandbox import SandboxServer
from pmo_ledger.jobs.app import App
from pmo_ledger.ledger.models import ControlTotal
from tests.connectors.salesforce.psa_org import PsaOrg, sandbox_app

CLEAN = [
    "budgets: 3 groups checked (count, budget), no drift",
    "timecards: 3 groups checked (count, amount, hours), no drift",
    "expenses: 2 groups checked (count, amount), no drift",
    "crm: 3 streams checked, 8 groups, no drift in counts, amounts, budgets or hours",
]


@pytest.fixture
def app(
    engine: Engine, tmp_path: Path, server: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> App:
    """The sandbox's App behind the CLI, synced once."""
    app = sandbox_app(engine, tmp_path, server)
    monkeypatch.setattr("pmo_ledger.jobs.cli.build_app", lambda *a, **k: app)
    assert cli("sync", "crm").exit_code == 0
    return app


def cli(*args: str) -> Result:
    from pmo_ledger.jobs.cli import make_cli

    return CliRunner().invoke(make_cli(), list(args))


def printed(result: Result, n: int) -> list[str]:
    """The last n lines of the output (log events come before them)."""
    return result.output.splitlines()[-n:]


def drift_rows(result: Result) -> list[list[str]]:
    """The cells of the drift table's body rows."""
    return [
        [c.strip() for c in line.split("│")[1:-1]]
        for line in result.output.splitlines()
        if line.startswith("│")
    ]


def health(app: App, stream: str) -> tuple[object, ...]:
    """count, amount, hours and budget drift and drifted groups of v_sync_health (exact)."""
    with app.reading() as s:
        row = s.execute(
            text(
                "SELECT count_drift, amount_drift, hours_drift, budget_drift, drifted_groups "
                "FROM v_sync_health WHERE connector = 'crm' AND stream = :stream"
            ),
            {"stream": stream},
        ).one()
    return (row[0], *(None if v is None else Decimal(str(v)) for v in row[1:4]), row[4])


def test_verify_prints_a_result_when_everything_agrees(app: App) -> None:
    """After a load every measure agrees: exit 0, no table, a line per stream and one for
    the connector."""
    clean = cli("verify", "crm")
    assert clean.exit_code == 0, clean.output
    assert drift_rows(clean) == []
    assert printed(clean, 4) == CLEAN
    assert health(app, "timecards") == (0, Decimal("0.00"), Decimal("0.00"), None, 0)


def test_verify_names_the_project_when_a_timecards_hours_change_silently(
    app: App, psa: PsaOrg
) -> None:
    """A timecard's hours change at the source, its cost does not, no stamp moves: exit 4,
    the row names P2 and hours; control_total and v_sync_health keep the hours."""
    psa.org.update_silently("pse__Timecard__c", psa.timecards[1], pse__Total_Hours__c="9.25")
    drift = cli("verify", "crm")
    assert drift.exit_code == 4, drift.output
    # P2's three timecards were 7.5 hours each; one is now 9.25.
    assert drift_rows(drift) == [["timecards", "P2", "USD", "hours", "24.25", "22.50", "1.75"]]
    assert printed(drift, 4) == [
        CLEAN[0],
        "timecards: 3 groups checked (count, amount, hours), drift in 1 group: hours",
        CLEAN[2],
        "crm: 3 streams checked, 8 groups, drift in 1 group: hours",
    ]
    assert health(app, "timecards") == (0, Decimal("0.00"), Decimal("1.75"), None, 1)
    with app.reading() as s:
        stored = s.execute(
            select(ControlTotal.source_hours, ControlTotal.ledger_hours).where(
                ControlTotal.stream == "timecards",
                ControlTotal.project_ref == psa.projects["P2"],
                ControlTotal.checked_at
                == select(func.max(ControlTotal.checked_at)).scalar_subquery(),
            )
        ).one()
    assert tuple(stored) == (Decimal("24.25"), Decimal("22.50"))


def test_verify_names_the_project_when_a_budget_changes_silently(app: App, psa: PsaOrg) -> None:
    """P3's approved budget changes at the source behind the connector's back: exit 4, the
    row names P3 and budget."""
    (budget,) = (
        row["Id"]
        for row in psa.org.rows("pse__Budget__c")
        if row["pse__Project__c"] == psa.projects["P3"]
    )
    psa.org.update_silently("pse__Budget__c", str(budget), pse__Amount__c="55000.00")
    drift = cli("verify", "crm", "--stream", "budgets")
    assert drift.exit_code == 4, drift.output
    assert drift_rows(drift) == [
        ["budgets", "P3", "USD", "budget", "55000.00", "50000.00", "5000.00"]
    ]
    assert printed(drift, 2) == [
        "budgets: 3 groups checked (count, budget), drift in 1 group: budget",
        "crm: 1 stream checked, 3 groups, drift in 1 group: budget",
    ]
    assert health(app, "budgets") == (0, None, None, Decimal("5000.00"), 1)


def test_verify_of_an_unknown_stream_is_an_error_and_stores_nothing(app: App) -> None:
    """A stream the connector does not have: one error line, exit 1, no control_total row."""
    wrong = cli("verify", "crm", "--stream", "invoices")
    assert wrong.exit_code == 1
    assert wrong.output.splitlines()[-1].startswith(
        "error: crm: ConnectorConfigError: connector crm has no stream invoices (streams: "
    )
    with app.reading() as s:
        assert s.scalar(select(func.count()).select_from(ControlTotal)) == 0


def test_a_stream_the_org_refuses_is_named_and_the_others_are_checked(
    app: App, psa: PsaOrg
) -> None:
    """The org loses the timecards' cost field after the load: verify names that stream with
    the fix, checks budgets and expenses, stores their figures and exits 1."""
    psa.org.drop_field("pse__Timecard__c", "pse__Total_Cost__c")
    partial = cli("verify", "crm")
    assert partial.exit_code == 1, partial.output
    lines = printed(partial, 5)
    assert lines[0] == CLEAN[0]
    assert lines[1].startswith(
        "timecards: not checked: stream timecards: the org does not list "
        "pse__Timecard__c.pse__Total_Cost__c "
        "(amount = 'pse__Total_Cost__c'), which the stream needs; map it to the org's field: "
        '[connectors.crm.streams.timecards.fields] amount = "<field of pse__Timecard__c>"'
    )
    assert lines[2:] == [
        CLEAN[2],
        "crm: 2 streams checked, 5 groups, no drift in counts, amounts or budgets",
        "crm: 1 stream not checked: timecards",
    ]
    with app.reading() as s:
        streams = s.scalars(select(ControlTotal.stream).distinct()).all()
    assert sorted(streams) == ["budgets", "expenses"]


def test_drift_beside_a_refused_stream_still_exits_4(app: App, psa: PsaOrg) -> None:
    """A drift found in one stream wins over another stream that could not be checked."""
    psa.org.drop_field("pse__Timecard__c", "pse__Total_Cost__c")
    (budget,) = (
        row["Id"]
        for row in psa.org.rows("pse__Budget__c")
        if row["pse__Project__c"] == psa.projects["P3"]
    )
    psa.org.update_silently("pse__Budget__c", str(budget), pse__Amount__c="55000.00")
    drift = cli("verify", "crm")
    assert drift.exit_code == 4, drift.output
    assert printed(drift, 1) == ["crm: 1 stream not checked: timecards"]
    assert drift_rows(drift) == [
        ["budgets", "P3", "USD", "budget", "55000.00", "50000.00", "5000.00"]
    ]
