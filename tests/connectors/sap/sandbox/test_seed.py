"""The demo SAP system's data: totals equal their line items, the traps a reader must handle
are there, the mutations keep totals and items equal."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from pmo_ledger.connectors.sap.sandbox import fakerfc
from pmo_ledger.connectors.sap.sandbox.mutate import SapDemo
from pmo_ledger.connectors.sap.sandbox.postings import Postings
from pmo_ledger.connectors.sap.sandbox.seed import SeedSummary, Wbs, add_wbs, seed_demo
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from tests.connectors.sap.sandbox.conftest import read


def _totals(system: SapSystem) -> dict[tuple[str, str, str, int], Decimal]:
    """Actual WKG per (OBJNR, KSTAR, GJAHR, period) from COSP and COSS; zero sums left out."""
    sums: dict[tuple[str, str, str, int], Decimal] = defaultdict(Decimal)
    for table in ("COSP", "COSS"):
        for row in system.rows(table):
            if row["WRTTP"] == "04" and row["VERSN"] == "000":
                for period in range(1, 17):
                    sums[(row["OBJNR"], row["KSTAR"], row["GJAHR"], period)] += Decimal(
                        row[f"WKG{period:03d}"]
                    )
    return {k: v for k, v in sums.items() if v}


def _items(system: SapSystem) -> dict[tuple[str, str, str, int], Decimal]:
    """The same sums from the COEP line items."""
    sums: dict[tuple[str, str, str, int], Decimal] = defaultdict(Decimal)
    for row in system.rows("COEP"):
        sums[(row["OBJNR"], row["KSTAR"], row["GJAHR"], int(row["PERIO"]))] += Decimal(
            row["WKGBTR"]
        )
    return {k: v for k, v in sums.items() if v}


def test_seed_is_deterministic() -> None:
    """Two seeds hold the same rows."""
    first, second = SapSystem(), SapSystem()
    seed_demo(first)
    seed_demo(second)
    for table in ("PROJ", "PRPS", "PRHI", "COSP", "COSS", "COEP", "COBK", "BPGE", "BPJA", "TCURR"):
        assert first.rows(table) == second.rows(table), table


def test_projects_are_the_psa_sample_projects(system: SapSystem, seed: SeedSummary) -> None:
    """PROJ holds PRJ-0001..PRJ-0006 with their names and currencies (PWHIE)."""
    projects = {r["PSPID"]: (r["POST1"], r["PWHIE"], r["OBJNR"]) for r in system.rows("PROJ")}
    assert list(projects) == [f"PRJ-000{n}" for n in range(1, 7)]
    assert projects["PRJ-0001"] == ("Acme ERP Cloud Migration", "EUR", "PD00000001")
    assert projects["PRJ-0005"][1] == "GBP"
    assert {r["POSID"] for r in system.rows("PRPS")} >= {"PRJ-0001.1.1", "PRJ-0002.1", "PRJ-0006"}


def test_line_items_sum_to_the_totals_per_period(system: SapSystem, seed: SeedSummary) -> None:
    """COEP's WKGBTR per object, cost element, year and period equals COSP + COSS WKGnnn."""
    assert _totals(system) == _items(system)
    assert len(_items(system)) > 100


def test_reversal_nets_its_period_to_zero(system: SapSystem, seed: SeedSummary) -> None:
    """PRJ-0001.2's travel in period 4: a COSP row whose WKG004 is 0.00, two documents."""
    rows = [
        r for r in system.rows("COSP") if r["OBJNR"] == "PR00000103" and r["KSTAR"] == "0000474000"
    ]
    assert [(r["WRTTP"], r["WKG004"], r["WTG004"]) for r in rows] == [("04", "0.00", "0.00")]
    headers = {r["BELNR"]: r for r in system.rows("COBK")}
    assert headers[seed.reversed_document]["STOKZ"] == "X"
    assert headers[seed.reversal_document]["STFLG"] == "X"
    assert headers[seed.reversal_document]["REFBN"] == seed.reversed_document


def test_special_periods_and_traps(system: SapSystem, seed: SeedSummary) -> None:
    """Periods 13 and 16 carry postings; plan version 000 and what-if 001; a cost center's
    own postings; secondary costs in COSS with their partner object."""
    pos = [
        r
        for r in system.rows("COSP")
        if r["OBJNR"] == "PR00000301" and r["KSTAR"] == "0000417000" and r["WRTTP"] == "04"
    ]
    assert sum(Decimal(r["WTG013"]) for r in pos) == Decimal("12500.00")
    assert sum(Decimal(r["WTG016"]) for r in pos) == Decimal("-2500.00")
    versions = {(r["WRTTP"], r["VERSN"]) for r in system.rows("COSP")}
    assert versions == {("04", "000"), ("01", "000"), ("01", "001")}
    assert any(r["OBJNR"].startswith("KS") for r in system.rows("COSP"))
    coss = system.rows("COSS")
    assert [(r["OBJNR"], r["PAROB"], r["WKG003"]) for r in coss] == [
        ("PR00000102", "KS10000000004200", "8400.00")
    ]


def test_budget_of_a_parent_includes_what_it_distributed(
    system: SapSystem, seed: SeedSummary
) -> None:
    """PRJ-0001's root holds 480,000.00; its three children 112,000.00 each (70%); a
    supplement, a return and releases (PRJ-0001 80%, PRJ-0006 all) beside the original
    budgets."""
    budget = {r["OBJNR"]: Decimal(r["WTGES"]) for r in system.rows("BPGE") if r["VORGA"] == "KBUD"}
    assert budget["PR00000101"] == Decimal("480000.00")
    assert [budget[f"PR0000010{n}"] for n in (2, 3, 4)] == [Decimal("112000.00")] * 3
    kinds = {(r["WRTTP"], r["VORGA"]) for r in system.rows("BPJA")}
    assert kinds == {("41", "KBUD"), ("41", "KBN0"), ("41", "KBR0"), ("41", "KBFR"), ("01", "KSTP")}
    other = {
        (r["OBJNR"], r["VORGA"]): r["WTGES"] for r in system.rows("BPGE") if r["VORGA"] != "KBUD"
    }
    six = {(w["OBJNR"], "KBFR"): w["WTGES"] for w in system.rows("BPGE")
           if w["VORGA"] == "KBUD" and w["OBJNR"].startswith("PR000006")}  # fmt: skip
    assert six == {("PR00000601", "KBFR"): "95000.50", ("PR00000602", "KBFR"): "66500.35"}
    assert other == {
        ("PR00000101", "KBFR"): "384000.00",
        **{(f"PR0000010{n}", "KBFR"): "89600.00" for n in (2, 3, 4)},
        **six,
        ("PR00000203", "KBR0"): "-5000.00",
        ("PR00000301", "KBN0"): "10000.00",
        ("PR00000302", "KBN0"): "10000.00",
    }


def test_exchange_rates_have_inverted_dates(system: SapSystem, seed: SeedSummary) -> None:
    """GDATU is 99999999 - YYYYMMDD; one quotation is indirect (negative)."""
    rates = system.rows("TCURR")
    march = [r for r in rates if r["GDATU"] == str(99999999 - 20250301)]
    assert {(r["FCURR"], r["TCURR"]) for r in march} == {
        ("USD", "EUR"),
        ("GBP", "EUR"),
        ("EUR", "USD"),
        ("EUR", "GBP"),
    }
    assert next(r for r in march if r["TCURR"] == "GBP")["UKURS"].startswith("-")


def test_internal_order_master_and_dirty_posting() -> None:
    """AUFK holds the order; only the dirty seed posts on it."""
    clean, dirty = SapSystem(), SapSystem()
    seed_demo(clean)
    seed_demo(dirty, dirty=True)
    assert [(r["AUFNR"], r["OBJNR"]) for r in clean.rows("AUFK")] == [
        ("000000400001", "OR000000400001")
    ]
    assert not [r for r in clean.rows("COEP") if r["OBJNR"].startswith("OR")]
    assert [r["WKGBTR"] for r in dirty.rows("COEP") if r["OBJNR"].startswith("OR")] == ["1500.00"]


def test_entry_stamps_follow_posting_dates(system: SapSystem, seed: SeedSummary) -> None:
    """Documents are entered in number order, a day or two after their posting date
    (CPUDT/CPUTM is what a delta reader by entry time follows)."""
    headers = sorted(system.rows("COBK"), key=lambda r: r["BELNR"])
    stamps = [r["CPUDT"] + r["CPUTM"] for r in headers]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    lags = {(date.fromisoformat(r["CPUDT"]) - date.fromisoformat(r["BUDAT"])).days for r in headers}
    assert lags <= {1, 2}


def test_hierarchy_in_prhi(system: SapSystem, seed: SeedSummary) -> None:
    """UP, DOWN, LEFT and RIGHT link PRJ-0001's elements."""
    links = {
        r["POSNR"]: (r["UP"], r["DOWN"], r["LEFT"], r["RIGHT"])
        for r in system.rows("PRHI")
        if r["PSPHI"] == "00000001"
    }
    assert links == {
        "00000101": ("00000000", "00000102", "00000000", "00000000"),
        "00000102": ("00000101", "00000109", "00000000", "00000103"),
        "00000103": ("00000101", "00000000", "00000102", "00000104"),
        "00000104": ("00000101", "00000000", "00000103", "00000000"),
        "00000109": ("00000102", "00000000", "00000000", "00000000"),
    }


def test_mutations_post_reverse_move_and_add_a_wbs(system: SapSystem, seed: SeedSummary) -> None:
    """A new WBS element takes a posting; a posting moves from period 5 to 6; the totals
    follow and still equal the items; entry stamps only grow."""
    postings = Postings(system)
    element = Wbs("00000110", "PRJ-0001.4", "Hypercare", "00000001", "1000", "EUR", 2, "00000101")
    add_wbs(system, element, date(2025, 9, 1))
    belnr = postings.post(element, "0000417000", Decimal("700.00"), date(2025, 5, 20))
    assert [r["RIGHT"] for r in system.rows("PRHI") if r["POSNR"] == "00000104"] == ["00000110"]
    assert _totals(system)[("PR00000110", "0000417000", "2025", 5)] == Decimal("700.00")
    reversal, moved = postings.move(belnr, 6, date(2025, 6, 2))
    totals = _totals(system)
    assert ("PR00000110", "0000417000", "2025", 5) not in totals
    assert totals[("PR00000110", "0000417000", "2025", 6)] == Decimal("700.00")
    assert totals == _items(system)
    stamps = {r["BELNR"]: r["CPUDT"] + r["CPUTM"] for r in system.rows("COBK")}
    assert stamps[belnr] < stamps[reversal] < stamps[moved]
    assert max(stamps.values()) == stamps[moved]


def test_sap_demo_mutations_by_posid(
    system: SapSystem, seed: SeedSummary, conn: fakerfc.Connection
) -> None:
    """SapDemo: a new element under PRJ-0002 takes the next PSPNR and a posting; a budget
    change shows in BPGE; RFC reads see all of it."""
    demo = SapDemo(system, seed)
    element = demo.add_wbs("PRJ-0002.2", "PRJ-0002.2.1", "Dashboards")
    assert (element.pspnr, element.level, element.parent) == ("00000603", 3, "00000203")
    belnr = demo.post("PRJ-0002.2.1", "0000417000", Decimal("-120.50"), date(2025, 7, 9))
    demo.set_budget("PRJ-0002.2.1", Decimal("5000.00"))
    rows = read(
        conn, "COSP", ["OBJNR", "WKG007", "BEKNZ"], ["OBJNR = 'PR00000603' AND WRTTP = '04'"]
    )
    assert rows == [{"OBJNR": "PR00000603", "WKG007": "120.50-", "BEKNZ": "H"}]
    assert read(conn, "BPGE", ["WTGES"], ["OBJNR = 'PR00000603'"]) == [{"WTGES": "5000.00"}]
    reversal = demo.reverse(belnr)
    assert read(conn, "COSP", ["WKG007"], ["OBJNR = 'PR00000603' AND WRTTP = '04'"]) == [
        {"WKG007": "0.00"}
    ]
    assert read(conn, "COBK", ["REFBN", "STFLG"], [f"BELNR = '{reversal}'"]) == [
        {"REFBN": belnr, "STFLG": "X"}
    ]
