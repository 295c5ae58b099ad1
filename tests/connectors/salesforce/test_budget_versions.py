"""Budget versions re-derived from a project's counting pse__Budget__c rows, end to end: the
sandbox org through `run_sync` into the ledger (SQLite and PostgreSQL). A budget that stops
counting (deleted, or moved to a status outside `budget_statuses`) leaves the project's
versions with exactly the budgets that still count, whatever their SystemModstamps."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.base import ConnectorContext, ReadRequest
from pmo_ledger.connectors.salesforce import SalesforceConnector, SalesforceSettings
from pmo_ledger.connectors.salesforce.sandbox import SandboxServer
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import BudgetEntry, BudgetLine, BudgetVersion, Project
from pmo_ledger.ledger.records import BudgetRecord
from tests.connectors.salesforce.psa_org import PsaOrg, sandbox_app


def versions(app: App, code: str) -> dict[str, tuple[Decimal, Decimal, int]]:
    """Per live version kind of project `code`: (sum of its live lines, sum of their
    budget entries, number of live lines)."""
    with app.reading() as s:
        pid = s.scalar(select(Project.id).where(Project.code == code))
        rows = s.execute(
            select(BudgetVersion.kind, func.sum(BudgetLine.amount), func.count())
            .join(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
            .where(
                BudgetVersion.project_id == pid,
                BudgetVersion.deleted_at.is_(None),
                BudgetVersion.superseded_at.is_(None),
                BudgetLine.deleted_at.is_(None),
                BudgetLine.counts.is_(True),
            )
            .group_by(BudgetVersion.kind)
        ).all()
        entries: dict[str, Decimal] = {
            kind: total
            for kind, total in s.execute(
                select(BudgetVersion.kind, func.sum(BudgetEntry.amount_delta))
                .join(BudgetVersion, BudgetVersion.id == BudgetEntry.version_id)
                .where(BudgetVersion.project_id == pid, BudgetVersion.deleted_at.is_(None))
                .group_by(BudgetVersion.kind)
            ).tuples()
        }
    return {kind: (Decimal(total), Decimal(entries[kind]), n) for kind, total, n in rows}


def second_budget(psa: PsaOrg, amount: str) -> str:
    """A second approved budget of P2 (USD), effective in June: the newest counting one."""
    return psa.org.insert(
        "pse__Budget__c",
        Name="CO P2",
        pse__Project__c=psa.projects["P2"],
        pse__Status__c="Approved",
        pse__Type__c="Customer Purchase Order",
        pse__Amount__c=amount,
        pse__Effective_Date__c=date(2025, 6, 2),
        CurrencyIsoCode="USD",
    )


@pytest.mark.parametrize("how", ["deleted", "rejected"])
def test_a_budget_that_stops_counting_leaves_the_project_budget(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer, how: str
) -> None:
    """P2: 50,000.00 + 38,030.50 = 88,030.50 current (baseline 50,000.00, the earliest);
    the newer budget deleted, or moved to 'Rejected': current back to exactly 50,000.00 (its
    12 monthly lines), the entries agree, the baseline stays 50,000.00 and the run succeeds."""
    newest = second_budget(psa, "38030.50")
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm").status == "succeeded"
    assert versions(app, "P2") == {
        "baseline": (Decimal("50000.00"), Decimal("50000.00"), 12),
        "current": (Decimal("88030.50"), Decimal("88030.50"), 24),
    }
    psa.org.advance(timedelta(hours=1))
    if how == "deleted":
        psa.org.delete("pse__Budget__c", newest)
    else:
        psa.org.update("pse__Budget__c", newest, pse__Status__c="Rejected")
    result = run_sync(app, "crm")
    assert result.status == "succeeded", result.message
    assert versions(app, "P2") == {
        "baseline": (Decimal("50000.00"), Decimal("50000.00"), 12),
        "current": (Decimal("50000.00"), Decimal("50000.00"), 12),
    }
    # The other projects' budgets are untouched.
    assert versions(app, "P3")["current"] == (Decimal("50000.00"), Decimal("50000.00"), 12)


def test_the_earliest_budget_deleted_moves_the_baseline_to_the_next(
    engine: Engine, tmp_path: Path, psa: PsaOrg, server: SandboxServer
) -> None:
    """P2's first budget (50,000.00) deleted: the baseline becomes the June budget (38,030.50)
    and the current version holds that budget alone."""
    second_budget(psa, "38030.50")
    app = sandbox_app(engine, tmp_path, server)
    assert run_sync(app, "crm").status == "succeeded"
    first = next(
        r["Id"]
        for r in psa.org.rows("pse__Budget__c")
        if r["pse__Project__c"] == psa.projects["P2"] and r["Name"] == "PO P2"
    )
    psa.org.advance(timedelta(hours=1))
    psa.org.delete("pse__Budget__c", str(first))
    assert run_sync(app, "crm").status == "succeeded"
    # Phased linearly over the project's dates, Jan-Dec: 12 lines.
    assert versions(app, "P2") == {
        "baseline": (Decimal("38030.50"), Decimal("38030.50"), 12),
        "current": (Decimal("38030.50"), Decimal("38030.50"), 12),
    }


def test_versions_are_derived_and_stamped_with_the_re_read_time(
    psa: PsaOrg, server: SandboxServer
) -> None:
    """Every version the budgets stream emits is `derived`, stamped with the org's clock at
    the re-read (two hours after the newest budget row changed), not with a row's
    SystemModstamp."""
    newest = second_budget(psa, "38030.50")
    changed = psa.org.get("pse__Budget__c", newest)["SystemModstamp"]
    assert isinstance(changed, datetime)
    read_at = psa.org.advance(timedelta(hours=2))
    settings = SalesforceSettings.model_validate(
        {
            "login_url": server.login_url,
            "ca_bundle": str(server.ca_file),
            "username": server.user.username,
            "password": server.user.password,
            "security_token": server.user.security_token,
        }
    )
    connector = SalesforceConnector(settings, ConnectorContext("crm"))
    records = [
        r
        for page in connector.extract("budgets", ReadRequest())
        for r in page.records
        if isinstance(r, BudgetRecord)
    ]
    assert sorted((r.external_id.rsplit("/", 1)[1], r.derived) for r in records) == [
        ("baseline", True), ("baseline", True), ("baseline", True),
        ("current", True), ("current", True), ("current", True),
    ]  # fmt: skip
    assert {r.source_modified_at for r in records} == {read_at}
    assert read_at - changed == timedelta(hours=2)
