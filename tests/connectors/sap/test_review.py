"""Review fixes of the SAP connector (issue 21 review), over the in-test RFC stub into the
ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.ledger.models import ActualLine
from tests.connectors.sap.sap_system import app, ledger_lines, total
from tests.connectors.sap.stub_rfc import System
from tests.connectors.sap.test_sync import KSTAR, WBS_11, WBS_21, open_periods


def amounts(a: object) -> dict[str, Decimal]:
    with a.reading() as s:  # type: ignore[attr-defined]
        rows = s.execute(
            select(ActualLine.external_id, ActualLine.amount).where(
                ActualLine.source == "erp", ActualLine.deleted_at.is_(None)
            )
        ).all()
    return {ext: amount for ext, amount in rows}


def test_a_jpy_controlling_area_reads_curr_amounts_shifted_by_tcurx(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    year, cur, _prev, cur_key, _ = open_periods()
    system.tables["TKA01"].rows[0]["WAERS"] = "JPY"
    total(system, "COSP", WBS_11, KSTAR, year, {cur: "12.34"})  # JPY 1234 as SAP stores it
    total(system, "COSP", WBS_21, KSTAR, year, {cur: "-0.50"})  # JPY -50
    a = app(engine, tmp_path)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    lines = ledger_lines(a)
    assert lines[("P-1000", cur_key)] == (1, Decimal("1234"))
    assert lines[("P-2000", cur_key)] == (1, Decimal("-50"))
