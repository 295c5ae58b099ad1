"""The SAP connector over OData V2 against `pmo-ledger sandbox --kind sap` (the fake S/4HANA
services on HTTPS, over real sockets), through `run_sync` on SQLite and PostgreSQL: the
leading ledger's journal items per project and period, parallel ledgers left out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.base import Sandbox, SandboxOptions
from pmo_ledger.connectors.sap import SapConnector
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from pmo_ledger.ledger.models import ActualLine, Project
from tests.connectors.sap.sap_system import app_reading


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with SapConnector.sandbox(SandboxOptions(page_size=25)) as running:
        yield running


def company_code_totals(sandbox: Sandbox) -> dict[tuple[str, str, str], Decimal]:
    """What the leading ledger holds per (project, period, currency), from the fake's line
    items: company code 1000 in EUR (its currency), 2000 in the document currency (USD)."""
    from pmo_ledger.connectors.sap.sandbox.system import SapSystem

    database = next(line for line in sandbox.lines if "tables" in line).split()[-1]
    system = SapSystem(database)
    try:
        project_of = {p["PSPNR"]: p["PSPID"] for p in system.rows("PROJ")}
        wbs = {w["OBJNR"]: project_of[w["PSPHI"]] for w in system.rows("PRPS")}
        sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
        for line in system.rows("COEP"):
            if line["WRTTP"] != "04" or not line["OBJNR"].startswith("PR"):
                continue
            period = f"{int(line['GJAHR']):04d}-{int(line['PERIO']):02d}"
            if line["BUKRS"] == "1000":
                key, amount = "EUR", Decimal(line["WKGBTR"])
            else:
                key, amount = line["TWAER"], Decimal(line["WTGBTR"])
            sums[(wbs[line["OBJNR"]], period, key)] += amount
        return {k: v for k, v in sums.items() if v}
    finally:
        system.close()


def test_journal_items_of_the_leading_ledger_per_project_and_period(
    engine: Engine, tmp_path: Path, sandbox: Sandbox
) -> None:
    settings: dict[str, Any] = {"kind": "sap", **sandbox.settings, "odata_page_size": 40}
    app = app_reading(engine, tmp_path, settings, calendar={"special_periods": 4})
    result = run_sync(app, "erp")
    assert result.status == "succeeded", result.message
    with app.reading() as s:
        rows = s.execute(
            select(
                Project.code, ActualLine.period, ActualLine.currency, func.sum(ActualLine.amount)
            )
            .join(Project, Project.id == ActualLine.project_id)
            .where(ActualLine.source == "erp", ActualLine.deleted_at.is_(None))
            .group_by(Project.code, ActualLine.period, ActualLine.currency)
        ).all()
    got = {(code, period, ccy): amount for code, period, ccy, amount in rows if amount}
    assert got == company_code_totals(sandbox)
    assert run_sync(app, "erp").status == "succeeded"
    checked = verify(app, "erp", ["actuals"])
    assert not checked.drift
