"""Review fixes of the SAP connector (issue 21 review), over the in-test RFC stub into the
ledger (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, select

from pmo_ledger.jobs.sync import run_sync
from tests.connectors.sap.sap_system import app, ledger_lines, total
from tests.connectors.sap.stub_rfc import System
from tests.connectors.sap.test_sync import KSTAR, WBS_11, WBS_21, open_periods


def bpge(objnr: str, vorga: str, amount: str) -> dict[str, str]:
    """A BPGE budget row (value type 41, version 000) in EUR."""
    return {"LEDNR": "0001", "OBJNR": objnr, "TRGKZ": "", "WRTTP": "41", "VERSN": "000",
            "VORGA": vorga, "TWAER": "EUR", "WTGES": amount}  # fmt: skip


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


def test_settlement_credits_are_not_actual_cost_unless_asked(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    year, cur, _prev, cur_key, _ = open_periods()
    total(system, "COSP", WBS_11, KSTAR, year, {cur: "500.00"})  # incurred on the WBS
    total(system, "COSS", WBS_11, "0000690000", year, {cur: "-500.00"}, beknz="A")  # settled
    a = app(engine, tmp_path)
    assert run_sync(a, "erp").status == "succeeded"
    assert ledger_lines(a)[("P-1000", cur_key)] == (1, Decimal("500.00"))
    settled = app(engine, tmp_path, include_settlement=True)
    assert run_sync(settled, "erp", full=True).status == "succeeded"
    assert ledger_lines(settled)[("P-1000", cur_key)] == (2, Decimal("0.00"))


def test_odata_journal_filter_leaves_settlement_out() -> None:
    from pmo_ledger.connectors.sap.odata import journal_filter
    from pmo_ledger.connectors.sap.settings import SapSettings

    base = {"transport": "odata", "base_url": "http://127.0.0.1:1", "user": "u", "password": "p"}
    assert "ControllingDebitCreditCode ne 'A'" in journal_filter(SapSettings(**base), None, [1])
    kept = SapSettings(**base, include_settlement=True)
    assert "ControllingDebitCreditCode" not in journal_filter(kept, None, [1])


def test_verify_after_a_new_cost_element_in_the_current_period_finds_no_drift(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    from pmo_ledger.jobs.verify import verify
    from tests.connectors.sap.test_sync import seed

    year, cur, _prev, _cur_key, _ = seed(system)
    a = app(engine, tmp_path)
    assert run_sync(a, "erp").status == "succeeded"  # full: zero lines of every begun period
    assert not verify(a, "erp", ["actuals"]).drift
    total(system, "COSP", WBS_21, "0000470000", year, {cur: "12.00"})  # a new totals record
    assert run_sync(a, "erp").status == "succeeded"  # incremental: the open periods only
    report = verify(a, "erp", ["actuals"])
    stream = report.streams[0]
    assert [(d.project_ref, d.drifted_measures) for d in stream.drifted] == []
    assert stream.period_drifts == []
    assert not report.drift


def test_odata_full_reads_leave_the_carried_forward_period_000_out() -> None:
    from pmo_ledger.connectors.sap.odata import journal_filter
    from pmo_ledger.connectors.sap.reader import ALL_PERIODS
    from pmo_ledger.connectors.sap.settings import SapSettings

    s = SapSettings(transport="odata", base_url="http://127.0.0.1:1", user="u", password="p")
    assert "FiscalPeriod ne '000'" in journal_filter(s, None, list(ALL_PERIODS))
    assert "FiscalPeriod eq '003'" in journal_filter(s, [2025], [3])


def test_wbs_elements_and_projects_flagged_for_deletion_are_deleted(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    from pmo_ledger.ledger.models import Project, Task

    a = app(engine, tmp_path)
    assert run_sync(a, "erp", streams=["projects", "tasks"]).status == "succeeded"
    t = system.tables
    t["PROJ"].fields.append(("LOEVM", 1, "C"))
    t["PRPS"].fields.append(("LOEVM", 1, "C"))
    next(r for r in t["PRPS"].rows if r["POSID"] == "P-1000.02")["LOEVM"] = "X"
    next(r for r in t["PROJ"].rows if r["PSPID"] == "P-2000")["LOEVM"] = "X"
    for r in t["PRPS"].rows:
        if r["POSID"].startswith("P-2000"):
            r["LOEVM"] = "X"
    result = run_sync(a, "erp", streams=["projects", "tasks"], allow_mass_delete=True)
    assert result.status == "succeeded", result.message
    with a.reading() as s:
        live_tasks = set(s.scalars(select(Task.wbs_code).where(Task.deleted_at.is_(None))))
        live_projects = set(s.scalars(select(Project.code).where(Project.deleted_at.is_(None))))
    assert live_tasks == {"P-1000.01"}
    assert "P-2000" not in live_projects and "P-1000" in live_projects


def test_last_years_special_periods_stay_open_until_the_configured_period() -> None:
    from datetime import date

    from pmo_ledger.connectors.base import Cursor, ReadRequest
    from pmo_ledger.connectors.sap.periods import FiscalPeriods
    from pmo_ledger.connectors.sap.reader import plan
    from pmo_ledger.ledger.settings import CalendarSettings

    request = ReadRequest(Cursor("period", "2026-03"), Cursor("period", "2026-03"))
    specials = CalendarSettings(special_periods=4)
    april = FiscalPeriods(specials, date(2026, 4, 10))
    keys = plan(request, "actuals", april, 2, specials_until=4).keep
    assert keys == ["2025-13", "2025-14", "2025-15", "2025-16", "2026-02", "2026-03", "2026-04"]
    may = FiscalPeriods(specials, date(2026, 5, 10))
    assert plan(request, "actuals", may, 2, specials_until=4).keep == [
        "2026-03", "2026-04", "2026-05",
    ]  # fmt: skip
    folded = FiscalPeriods(CalendarSettings(), date(2026, 4, 10))  # 13-16 fold into 12
    p = plan(request, "actuals", folded, 2, specials_until=4)
    assert p.keep == ["2025-12", "2026-02", "2026-03", "2026-04"]
    assert set(range(12, 17)) <= set(p.sap_periods) and p.years == [2025, 2026]


def test_a_special_period_line_that_nets_to_zero_is_listed_in_its_period_scope() -> None:
    from datetime import UTC, date, datetime

    from pmo_ledger.connectors.sap.normalize import CostObject, TotalLine
    from pmo_ledger.connectors.sap.periods import FiscalPeriods
    from pmo_ledger.connectors.sap.reader import period_items
    from pmo_ledger.ledger.records import ActualRecord
    from pmo_ledger.ledger.settings import CalendarSettings

    periods = FiscalPeriods(CalendarSettings(special_periods=4), date(2026, 4, 10))
    line = TotalLine(WBS_11, KSTAR, "2025", 13, "04", touched=True)  # posted, reversed: 0.00
    target = CostObject("project", "P-1000", task="P-1000.01")
    at = datetime.now(UTC)
    scoped = period_items([(line, target)], periods, ["2025-13"], "EUR", at)
    (record,) = scoped["2025-13"]
    assert isinstance(record, ActualRecord) and record.amount == 0
    assert period_items([(line, target)], periods, None, "EUR", at) == {}  # a full read: not
    never = TotalLine(WBS_11, KSTAR, "2025", 14, "04")  # no record has a value in 14
    assert period_items([(never, target)], periods, ["2025-14"], "EUR", at) == {"2025-14": []}


def test_a_budget_transfer_moves_money_between_projects_and_a_release_adds_none(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    from pmo_ledger.ledger.models import BudgetLine, BudgetVersion

    system.tables["BPGE"].rows += [
        bpge(WBS_11, "KBUD", "1000.00"),
        bpge(WBS_11, "KBUS", "300.00-"),  # sent to WBS 21
        bpge(WBS_21, "KBUE", "300.00"),
        bpge(WBS_11, "KBFR", "700.00"),  # released: the same money, not more
    ]
    a = app(engine, tmp_path)
    result = run_sync(a, "erp", streams=["projects", "tasks", "budgets"])
    assert result.status == "succeeded", result.message
    with a.reading() as s:
        rows = s.execute(
            select(BudgetVersion.project_ref, BudgetLine.amount)
            .join(BudgetVersion, BudgetVersion.id == BudgetLine.version_id)
            .where(BudgetVersion.kind == "current", BudgetLine.deleted_at.is_(None))
        ).all()
    by_project: dict[str, Decimal] = {}
    for ref, amount in rows:
        by_project[ref] = by_project.get(ref, Decimal(0)) + amount
    assert by_project == {"P-1000": Decimal("700.00"), "P-2000": Decimal("300.00")}


def test_a_budget_that_vanished_in_sap_is_deleted(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    from pmo_ledger.ledger.models import BudgetVersion

    system.tables["BPGE"].rows.append(bpge(WBS_11, "KBUD", "1000.00"))
    a = app(engine, tmp_path)
    streams = ["projects", "tasks", "budgets"]
    assert run_sync(a, "erp", streams=streams).status == "succeeded"

    def live() -> set[str]:
        with a.reading() as s:
            return set(
                s.scalars(
                    select(BudgetVersion.external_id).where(
                        BudgetVersion.kind == "current", BudgetVersion.deleted_at.is_(None)
                    )
                )
            )

    assert live() == {"P-1000/current"}
    system.tables["BPGE"].rows.clear()  # the budget was returned and archived
    result = run_sync(a, "erp", streams=streams, allow_mass_delete=True)
    assert result.status == "succeeded", result.message
    assert live() == set()
