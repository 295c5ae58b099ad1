"""The SAP connector end to end against the sandbox's fake SAP (a pyrfc drop-in over PS/CO
tables built from SAP's docs), through `run_sync` into the ledger on SQLite and PostgreSQL.
Expected figures come from the fake's CO line items (COEP), the connector reads the totals."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from pmo_ledger.connectors.sap.rfc import RfcClient
from pmo_ledger.connectors.sap.sandbox.postings import Postings
from pmo_ledger.connectors.sap.sandbox.seed import SeedSummary
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from pmo_ledger.connectors.sap.values import sap_amount
from pmo_ledger.jobs.app import App
from pmo_ledger.jobs.sync import run_sync
from pmo_ledger.jobs.verify import verify
from pmo_ledger.ledger.models import (
    ActualLine,
    BudgetLine,
    BudgetVersion,
    FxRate,
    LedgerEntry,
    Project,
    Task,
)
from tests.connectors.sap.fake_sap import FAKE, demo, expected, fake_app, fake_settings
from tests.connectors.sap.sap_system import app_reading, ledger_lines

TRAVEL = "0000474000"


@pytest.fixture
def fake() -> Iterator[tuple[SapSystem, SeedSummary]]:
    yield from demo()


def amounts(lines: dict[tuple[str, str], tuple[int, Decimal]]) -> dict[tuple[str, str], Decimal]:
    return {k: v[1] for k, v in lines.items()}


def nonzero(sums: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    return {k: v for k, v in sums.items() if v}


def assert_matches_line_items(a: App, system: SapSystem) -> None:
    """The ledger's `erp` lines per project and period are what COEP adds up to."""
    assert nonzero(amounts(ledger_lines(a))) == nonzero(expected(system))


def synced(engine: Engine, tmp_path: Path, **extra: Any) -> App:
    """An App reading the fake after one successful run."""
    a = fake_app(engine, tmp_path, **extra)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    return a


def test_every_project_and_period_matches_the_line_items(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    system, _ = fake
    a = fake_app(engine, tmp_path)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    got = amounts(ledger_lines(a))
    want = expected(system)
    assert nonzero(got) == nonzero(want)
    # The year-end accrual (USD 12,500) and its audit adjustment (USD -2,500) stay in
    # special periods 13 and 16, in the controlling area's EUR.
    assert got[("PRJ-0003", "2025-13")] == Decimal("11510.13")
    assert got[("PRJ-0003", "2025-16")] < 0
    # The cost center's own posting, plan and what-if versions are no WBS actuals.
    assert "UNMAPPED" not in {code for code, _ in got}
    assert sum(want.values()) == sum(got.values())


def test_the_reversal_in_its_own_period_is_a_line_at_zero(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    _system, summary = fake
    a = synced(engine, tmp_path)
    cutover = summary.wbs["PRJ-0001.2"].objnr
    with a.reading() as s:
        line = s.execute(
            select(ActualLine.amount, ActualLine.deleted_at).where(
                ActualLine.external_id == f"{cutover}/{TRAVEL}/2025/004/04"
            )
        ).one()
    assert (line.amount, line.deleted_at) == (Decimal("0"), None)


def test_a_value_with_the_delimiter_and_long_texts_arrive_whole(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    _system, _ = fake
    a = synced(engine, tmp_path)
    with a.reading() as s:
        names = set(s.scalars(select(Task.name)))
    assert "Extract | Load design" in names
    assert "Solution design workshops with the business, every site and every team"[:40] in names


def test_a_row_wider_than_512_bytes_is_read_in_chunks_joined_by_key(
    fake: tuple[SapSystem, SeedSummary],
) -> None:
    """Every field of COSS (16 amounts in three currencies and 16 quantities) is far wider
    than one row may be: each call asks for fields that fit, and the rows join by key."""
    system, _ = fake
    rfc = RfcClient(FAKE, FAKE, fake_settings()["rfc"], page_rows=3)
    sent: list[dict[str, Any]] = []
    call = rfc.call

    def spy(function: str, what: str, **params: Any) -> dict[str, Any]:
        result = call(function, what, **params)
        if params.get("NO_DATA") == "":
            sent.append(result)
        return result

    rfc.call = spy  # type: ignore[method-assign]
    layout = rfc.layout("COSS")
    key = ["OBJNR", "GJAHR", "WRTTP", "VERSN", "KSTAR", "HRKFT", "VRGNG", "PAROB", "USPOB",
           "BEKNZ", "TWAER", "PERBL"]  # fmt: skip
    rows = rfc.read_table("COSS", [f.name for f in layout if f.name != "MANDT"], "", key)
    assert sum(f.length for f in layout) > 512
    widths = {max(int(f["OFFSET"]) + int(f["LENGTH"]) for f in page["FIELDS"]) for page in sent}
    assert len(widths) > 1 and max(widths) <= 512
    assert len(rows) == len(system.rows("COSS"))
    by_key = {tuple(r[k] for k in key): r for r in rows}
    for source in system.rows("COSS"):
        got = by_key[tuple(source[k] for k in key)]
        assert sap_amount(got["WKG016"], "WKG016") == Decimal(source["WKG016"])
        assert sap_amount(got["WTG001"], "WTG001") == Decimal(source["WTG001"])


def test_new_postings_in_open_periods_reversals_and_moves(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    """Postings this period and the one before: a re-run restates without double counting,
    a reversal nets to zero, a posting moved between periods leaves one and enters the other."""
    system, summary = fake
    a = synced(engine, tmp_path)
    today = datetime.now(UTC).date()
    month = today.replace(day=1)
    before = (month - timedelta(days=1)).replace(day=5)
    post = Postings(system)
    wbs = summary.wbs["PRJ-0002.1"]
    keep = post.post(wbs, TRAVEL, Decimal("400.00"), before)
    gone = post.post(wbs, TRAVEL, Decimal("75.50"), month)
    assert run_sync(a, "erp").status == "succeeded"
    cur, prev = f"{month:%Y-%m}", f"{before:%Y-%m}"
    assert amounts(ledger_lines(a))[("PRJ-0002", prev)] == Decimal("400.00")
    assert amounts(ledger_lines(a))[("PRJ-0002", cur)] == Decimal("75.50")
    with a.reading() as s:
        entries = s.scalar(select(func.count()).select_from(LedgerEntry))
    assert run_sync(a, "erp").status == "succeeded"  # nothing changed: nothing written
    with a.reading() as s:
        assert s.scalar(select(func.count()).select_from(LedgerEntry)) == entries
    post.reverse(gone)
    post.move(keep, month.month, month)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    lines = ledger_lines(a)
    assert lines[("PRJ-0002", cur)] == (1, Decimal("400.00"))  # 75.50 reversed, 400 moved in
    assert lines[("PRJ-0002", prev)] == (1, Decimal("0"))
    with a.reading() as s:
        deleted = s.scalar(
            select(func.count()).select_from(ActualLine).where(ActualLine.deleted_at.is_not(None))
        )
    assert deleted == 0
    assert nonzero(amounts(lines)) == nonzero(expected(system))


def test_a_communication_error_mid_read_resumes_without_duplicates(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    system, _ = fake
    a = fake_app(engine, tmp_path, page_rows=7)
    system.switches.communication_error_after = 12
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    assert system.switches.communication_error_after is None  # the blip happened
    assert_matches_line_items(a, system)


def test_pages_in_another_order_each_time_are_caught_and_read_whole(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    """Without ORDER BY the database may order each page's query differently: the keys met
    twice show it, and the table is read again in one call per chunk, nothing twice."""
    system, _ = fake
    system.switches.unordered = True
    a = fake_app(engine, tmp_path, page_rows=5)
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    assert_matches_line_items(a, system)


def test_missing_table_authorization_names_s_tabu_dis(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    system, _ = fake
    system.switches.not_authorized = {"COSP"}
    result = run_sync(fake_app(engine, tmp_path), "erp")
    assert result.status == "failed"
    assert "S_TABU_DIS" in (result.message or "")


def test_a_refused_logon_says_which_keys(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    system, _ = fake
    system.switches.logon_refused = True
    result = run_sync(fake_app(engine, tmp_path), "erp")
    assert result.status == "failed"
    assert "SAP refused the logon" in (result.message or "")
    assert "connectors.erp.rfc" in (result.message or "")


def test_verify_finds_no_drift_then_the_new_posting(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    system, summary = fake
    a = synced(engine, tmp_path)
    result = verify(a, "erp", ["actuals"])
    assert not result.drift
    assert {d.project_ref for d in result.streams[0].drifts} >= {"PRJ-0001", "PRJ-0006"}
    day = datetime.now(UTC).date()
    Postings(system).post(summary.wbs["PRJ-0002.2"], TRAVEL, Decimal("12.34"), day)  # EUR
    (drift,) = verify(a, "erp", ["actuals"]).streams[0].drifted
    assert (drift.project_ref, drift.amount_drift) == ("PRJ-0002", Decimal("12.34"))


def test_budgets_count_a_parent_once_and_plan_goes_by_period(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    """The root element holds the whole budget and distributed 70% of it to its children:
    the current version adds up to the root's budget (PRJ-0003 with its supplements)."""
    a = synced(engine, tmp_path)
    with a.reading() as s:
        rows = s.execute(
            select(
                Project.code, BudgetVersion.kind, BudgetLine.currency, func.sum(BudgetLine.amount)
            )
            .join(BudgetVersion, BudgetVersion.project_id == Project.id)
            .join(BudgetLine, BudgetLine.version_id == BudgetVersion.id)
            .where(BudgetVersion.superseded_at.is_(None))
            .group_by(Project.code, BudgetVersion.kind, BudgetLine.currency)
        ).all()
    current = {(code, ccy): amount for code, kind, ccy, amount in rows if kind == "current"}
    assert current == {
        ("PRJ-0001", "EUR"): Decimal("480000.00"),
        ("PRJ-0002", "EUR"): Decimal("220000.00"),
        ("PRJ-0003", "USD"): Decimal("360000.00"),
        ("PRJ-0004", "USD"): Decimal("180000.00"),
        ("PRJ-0005", "GBP"): Decimal("610000.00"),
        ("PRJ-0006", "USD"): Decimal("95000.50"),
    }
    released = {(code, ccy): amount for code, kind, ccy, amount in rows if kind == "released"}
    assert released == {  # BPGE/BPJA KBFR: 80% of PRJ-0001, all of PRJ-0006, counted once
        ("PRJ-0001", "EUR"): Decimal("384000.00"),
        ("PRJ-0006", "USD"): Decimal("95000.50"),
    }
    plan = {code for code, kind, _, amount in rows if kind == "plan" and amount}
    assert plan and plan <= {code for code, _ in current}
    checked = verify(a, "erp", ["budgets", "actuals"])
    assert not checked.drift, [d for st in checked.streams for d in st.drifted]


def test_line_items_mode_follows_entry_times_and_nets_reversals(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    """`actuals = "items"`: one line per COEP line, the cursor COBK's CPUDT/CPUTM; a later
    reversal is a new document that nets the period, a re-run adds nothing."""
    system, summary = fake
    a = fake_app(engine, tmp_path, actuals="items")
    result = run_sync(a, "erp")
    assert result.status == "succeeded", result.message
    assert_matches_line_items(a, system)
    with a.reading() as s:
        n = s.scalar(select(func.count()).select_from(ActualLine))
    coep = [r for r in system.rows("COEP") if r["WRTTP"] == "04" and r["OBJNR"][:2] == "PR"]
    assert n == len(coep)
    post = Postings(system)
    day = datetime.now(UTC).date()
    doc = post.post(summary.wbs["PRJ-0002.2"], TRAVEL, Decimal("310.00"), day)
    assert run_sync(a, "erp").status == "succeeded"
    post.reverse(doc)
    assert run_sync(a, "erp").status == "succeeded"
    assert run_sync(a, "erp").status == "succeeded"
    with a.reading() as s:
        kept = s.scalars(
            select(ActualLine.amount).where(ActualLine.external_id.like(f"%/{doc}/%"))
        ).all()
        total = s.scalar(select(func.count()).select_from(ActualLine))
    assert kept == [Decimal("310.00")]
    assert total == n + 2  # the document and its reversal, once each
    key = ("PRJ-0002", f"{day:%Y-%m}")
    assert amounts(ledger_lines(a))[key] == Decimal("0")
    checked = verify(a, "erp", ["actuals"])
    assert not checked.drift


def test_tcurr_rates_load_with_inverted_dates_and_indirect_quotes(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    system, _ = fake
    a = fake_app(engine, tmp_path, fx_rate_type="M")
    result = run_sync(a, "erp", streams=["fx_rates"])
    assert result.status == "succeeded", result.message
    with a.reading() as s:
        rates = s.execute(
            select(FxRate.from_ccy, FxRate.to_ccy, FxRate.valid_from, FxRate.rate).where(
                FxRate.rate_type == "M"
            )
        ).all()
    assert len(rates) == len(system.rows("TCURR"))
    first = {(r.from_ccy, r.to_ccy, r.valid_from): r.rate for r in rates}
    # GDATU 79748798 is 99999999 - 20251201; UKURS -1.18203 an indirect quotation.
    assert first[("EUR", "GBP", date(2025, 12, 1))] == Decimal("0.84600222")


def test_unmapped_postings_wait_on_unmapped_and_move_when_a_rule_maps_them(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    """WBS elements placed by their own key (`wbs_postings = "wbs"`) and a cost center read
    too: without a mapping both wait on UNMAPPED; a link rule "POSID prefix = project code"
    moves the WBS postings, the cost center's stay."""
    system, _ = fake
    extra = {"wbs_postings": "wbs", "object_types": ["PR", "KS"]}
    a = fake_app(engine, tmp_path, **extra)
    assert run_sync(a, "erp").status == "succeeded"
    want = expected(system)
    waiting = amounts(ledger_lines(a))
    assert {code for code, _ in waiting if waiting[(code, _)]} == {"UNMAPPED"}
    assert sum(waiting.values()) == sum(want.values()) + Decimal("31000.00")
    rule = {"object_type": "wbs", "pattern": r"(PRJ-\d{4})(\..*)?", "project": "{1}"}
    b = app_reading(
        engine,
        tmp_path,
        fake_settings(**extra),
        calendar={"special_periods": 4},
        link_rules=[rule],
    )
    assert run_sync(b, "erp", full=True).status == "succeeded"
    moved = nonzero(amounts(ledger_lines(b)))
    unmapped = {k: v for k, v in moved.items() if k[0] == "UNMAPPED"}
    assert unmapped == {("UNMAPPED", "2025-02"): Decimal("31000.00")}  # the cost center's
    assert {k: v for k, v in moved.items() if k[0] != "UNMAPPED"} == nonzero(want)


def test_another_read_table_function_with_the_same_interface(
    engine: Engine, tmp_path: Path, fake: tuple[SapSystem, SeedSummary]
) -> None:
    system, _ = fake
    a = synced(engine, tmp_path, read_table_function="/BODS/RFC_READ_TABLE")
    assert_matches_line_items(a, system)
