"""The SAP connector through `run_sync` into the ledger (SQLite and PostgreSQL), over the
in-test PyRFC stand-in: CO totals by period as period scopes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.sap.periods import FiscalPeriods
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from pmo_ledger.ledger.models import ActualLine, LedgerEntry, Project
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import parse_period
from tests.connectors.sap.sap_system import app, ledger_lines, total
from tests.connectors.sap.stub_rfc import System

WBS_11, WBS_12, WBS_21 = "PR00000011", "PR00000012", "PR00000021"
KSTAR, LABOR = "0000400000", "0000620000"


def open_periods() -> tuple[int, int, int, str, str]:
    """This fiscal year, the current period and the one before, and their keys (the data
    follows the clock: each run re-reads the periods from two back to the current one)."""
    fp = FiscalPeriods(CalendarSettings(), datetime.now(UTC).date())
    cur, prev = fp.current(), fp.back(1)
    py, pp = parse_period(prev)
    assert py == cur.fiscal_year, "the test needs a current period after the first"
    return cur.fiscal_year, cur.period_no, pp, cur.key, prev


def seed(system: System) -> tuple[int, int, int, str, str]:
    year, cur, prev, cur_key, prev_key = open_periods()
    total(system, "COSP", WBS_11, KSTAR, year, {prev: "1000.00", cur: "250.50"})
    total(system, "COSP", WBS_11, KSTAR, year, {prev: "-200.00"}, beknz="H")
    total(system, "COSS", WBS_12, LABOR, year, {cur: "80.00"}, hours={cur: "1.0"})
    total(system, "COSP", WBS_21, KSTAR, year, {cur: "-30.25"})
    total(system, "COSP", WBS_21, KSTAR, year - 1, {12: "999.99"})
    total(system, "COSP", "KS10000000004711", KSTAR, year, {cur: "5.00"})  # not read: no KS
    total(system, "COSP", WBS_11, KSTAR, year, {cur: "777.00"}, wrttp="01")  # plan: no actual
    return year, cur, prev, cur_key, prev_key


def loaded(
    engine: Engine, tmp_path: Path, system: System
) -> tuple[App, tuple[int, int, int, str, str]]:
    """The stub seeded and read once: the App and `seed`'s periods."""
    periods = seed(system)
    a = app(engine, tmp_path)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    return a, periods


def test_first_load_gives_exact_totals_per_project_and_period(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    year, cur, prev, cur_key, prev_key = seed(system)
    a = app(engine, tmp_path)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    lines = ledger_lines(a)
    # P-1000: WBS 11 nets 1000.00 - 200.00 in the period before; 250.50 + 80.00 now.
    assert lines[("P-1000", prev_key)] == (2, Decimal("800.00"))  # 11/KSTAR and 12/LABOR (0)
    assert lines[("P-1000", cur_key)] == (2, Decimal("330.50"))
    assert lines[("P-2000", cur_key)][1] == Decimal("-30.25")
    assert lines[("P-2000", f"{year - 1}-12")] == (1, Decimal("999.99"))
    assert sum(n for (code, _), (n, _) in lines.items() if code == "UNMAPPED") == 0
    with a.reading() as s:
        ids = set(s.scalars(select(ActualLine.external_id).where(ActualLine.source == "erp")))
        hours = s.scalar(
            select(ActualLine.hours).where(
                ActualLine.external_id == f"{WBS_12}/{LABOR}/{year}/{cur:03d}/04"
            )
        )
    assert f"{WBS_11}/{KSTAR}/{year}/{prev:03d}/04" in ids
    assert hours == Decimal("1.0")
    assert not any(i.endswith("/01") for i in ids)  # plan is no actual


def test_a_rerun_restates_without_double_counting(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    seed(system)
    a = app(engine, tmp_path)
    assert run_sync(a, "erp").status == "succeeded"
    before = ledger_lines(a)
    with a.reading() as s:
        entries = s.scalar(select(func.count()).select_from(LedgerEntry))
    assert run_sync(a, "erp").status == "succeeded"
    assert ledger_lines(a) == before
    with a.reading() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == entries


def test_a_reversal_nets_the_line_to_zero_and_moves_between_periods(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    a, (year, cur, prev, cur_key, prev_key) = loaded(engine, tmp_path, system)
    # WBS 21's -30.25 is reversed in the same period; WBS 11's 1000.00 moves to now.
    total(system, "COSP", WBS_21, KSTAR, year, {cur: "0.00"})
    total(system, "COSP", WBS_11, KSTAR, year, {prev: "0.00", cur: "1250.50"})
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    lines = ledger_lines(a)
    assert lines[("P-2000", cur_key)] == (1, Decimal("0.00"))  # a line at zero, not deleted
    assert lines[("P-1000", prev_key)] == (2, Decimal("-200.00"))
    assert lines[("P-1000", cur_key)] == (2, Decimal("1330.50"))
    with a.reading() as s:
        deleted = s.scalar(
            select(func.count()).select_from(ActualLine).where(ActualLine.deleted_at.is_not(None))
        )
    assert deleted == 0


def test_a_vanished_total_is_reversed_by_its_period_scope(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    a, (_year, _cur, _prev, cur_key, _prev_key) = loaded(engine, tmp_path, system)
    rows = system.tables["COSS"].rows
    rows[:] = [r for r in rows if r["OBJNR"] != WBS_12]  # the record is gone (archived)
    assert run_sync(a, "erp").status == "succeeded"
    assert ledger_lines(a)[("P-1000", cur_key)] == (1, Decimal("250.50"))


def test_sync_period_re_reads_one_period(engine: Engine, tmp_path: Path, system: System) -> None:
    a, (year, cur, _prev, cur_key, _prev_key) = loaded(engine, tmp_path, system)
    total(system, "COSP", WBS_21, KSTAR, year - 1, {12: "1000.00"})  # a closed period changed
    total(system, "COSP", WBS_21, KSTAR, year, {cur: "-99.00"})  # and an open one
    assert run_sync(a, "erp", period=f"{year - 1}-12").status == "succeeded"
    lines = ledger_lines(a)
    assert lines[("P-2000", f"{year - 1}-12")] == (1, Decimal("1000.00"))
    assert lines[("P-2000", cur_key)][1] == Decimal("-30.25")  # not re-read by --period
    reads = [c for c in system.calls if c.get("QUERY_TABLE") == "COSP" and c["NO_DATA"] == ""]
    options = " ".join(line["TEXT"] for line in reads[-1]["OPTIONS"])
    assert f"GJAHR = '{year - 1}'" in options


def test_a_missing_pyrfc_fails_the_run_in_one_line(engine: Engine, tmp_path: Path) -> None:
    a = app(engine, tmp_path, rfc_module="pyrfc")
    result = run_sync(a, "erp")
    assert result.status == "failed"
    assert "cannot import Connection from 'pyrfc'" in (result.message or "")
    assert "SAP NW RFC SDK" in (result.message or "")


def test_a_communication_error_mid_read_resumes_without_duplicates(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    seed(system)
    a = app(engine, tmp_path, page_rows=1)
    calls_clean = len(system.calls)
    system.drop_on = {calls_clean + n for n in (9, 17, 30)}
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    b_engine_lines = ledger_lines(a)
    system.drop_on = set()
    assert run_sync(a, "erp").status == "succeeded"
    assert ledger_lines(a) == b_engine_lines
    assert b_engine_lines[("P-1000", open_periods()[3])] == (2, Decimal("330.50"))


def test_verify_compares_control_totals_from_the_same_tables(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    a, (year, cur, _prev, _cur_key, _prev_key) = loaded(engine, tmp_path, system)
    result = verify(a, "erp", ["actuals"])
    assert not result.drift, [d for s in result.streams for d in s.drifted]
    total(system, "COSP", WBS_21, KSTAR, year, {cur: "-40.25"})  # posted since the sync
    result = verify(a, "erp", ["actuals"])
    (drift,) = result.streams[0].drifted
    assert drift.project_ref == "P-2000"
    assert drift.amount_drift == Decimal("-10.00")


def test_verify_finds_a_posting_moved_between_periods_that_nets_per_project(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """The project's total agrees, its periods do not: verify says which period drifts."""
    a, (year, cur, prev, cur_key, prev_key) = loaded(engine, tmp_path, system)
    total(system, "COSP", WBS_21, KSTAR, year, {prev: "-30.25", cur: "0.00"})  # moved back
    result = verify(a, "erp", ["actuals"])
    assert result.drift
    assert not result.streams[0].drifted  # P-2000 still sums to -30.25
    moved = {(p, d.project_ref): d.amount_drift for p, d in result.streams[0].period_drifts}
    assert moved == {
        (prev_key, "P-2000"): Decimal("-30.25"),
        (cur_key, "P-2000"): Decimal("30.25"),
    }


def test_a_read_cut_off_by_the_network_is_read_again_without_duplicates(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """The connection stays down longer than the retries: the actuals read stops (nothing of
    it is half-counted) and the next run reads the periods again, each line once."""
    _, _, _, cur_key, prev_key = seed(system)
    a = app(engine, tmp_path, page_rows=1, max_attempts=2)
    system.calls.clear()
    system.drop_on = set(range(40, 60))  # well into the actuals' pages
    cut = run_sync(a, "erp")
    assert cut.status in ("failed", "partial"), cut.message
    assert "the connection to SAP failed" in (cut.message or "")
    system.drop_on = set()
    assert run_sync(a, "erp").status == "succeeded"
    lines = ledger_lines(a)
    assert lines[("P-1000", cur_key)] == (2, Decimal("330.50"))
    assert lines[("P-1000", prev_key)] == (2, Decimal("800.00"))
    with a.reading() as s:
        ids = s.scalars(select(ActualLine.external_id).where(ActualLine.deleted_at.is_(None))).all()
    assert len(ids) == len(set(ids))


def test_a_project_without_currency_takes_its_company_codes(
    engine: Engine, tmp_path: Path, system: System
) -> None:
    """PROJ's PWHIE is empty: the project's currency is its company code's (T001)."""
    system.tables["PROJ"].rows[1]["PWHIE"] = ""
    a, _ = loaded(engine, tmp_path, system)
    with a.reading() as s:
        currencies = dict(s.execute(select(Project.code, Project.currency)).tuples().all())
    assert (currencies["P-1000"], currencies["P-2000"]) == ("EUR", "CHF")
