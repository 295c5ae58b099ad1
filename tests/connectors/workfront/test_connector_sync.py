"""The Workfront connector end to end: the sandbox over HTTPS, through `run_sync` into the
ledger (SQLite and PostgreSQL). Each scenario checks the ledger's hours, labor cost and
expenses per project and currency against what the fake account holds."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, func, select

from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import (
    BudgetLine,
    BudgetVersion,
    Project,
    Task,
    TaskDependency,
)
from tests.connectors.workfront.account import Account, ledger_totals, wf_app


def test_first_load_matches_the_account_per_project_and_currency(
    engine: Engine, tmp_path: Path, account: Account
) -> None:
    """Every stream loads; hours, labor cost (actualCost, else valued at the dated rate) and
    expenses per project and currency are what Workfront holds; every search sorted by ID."""
    app = wf_app(engine, tmp_path, account)
    result = run_sync(app, "wf")
    assert result.status == "succeeded", result.message
    assert ledger_totals(app) == account.source_totals()
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
    assert projects == len(account.store.rows("PROJ"))
    assert tasks == len(account.store.rows("TASK"))
    assert links == len(account.store.rows("PRED"))
    assert budgets == len(account.store.rows("PROJ"))
