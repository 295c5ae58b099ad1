"""The demo SAP system with the sample world (`world=DEMO_PSA`, what `make demo` serves): its
expense postings are the world's expense lines, in USD at the PSA's rates the same to a few
cents per project and month, but for the planted year-end accrual on PRJ-0003; the traps stay."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from pmo_ledger.connectors.sap.sandbox.erp_mirror import COST_ELEMENT, DEMO_PSA, world_expenses
from pmo_ledger.connectors.sap.sandbox.seed import seed_demo
from pmo_ledger.connectors.sap.sandbox.system import SapSystem
from pmo_ledger.connectors.workfront.sandbox.psa_mirror import Rates

_USD = "USD"


def _usd(amount: Decimal, currency: str, day: date, rates: Rates) -> Decimal:
    return amount * rates.to_usd(currency, day)


def test_the_mirror_books_the_worlds_expense_lines_and_one_accrual() -> None:
    expenses, rates = world_expenses(DEMO_PSA)
    assert len(expenses) == 908
    assert {e.cost_type for e in expenses} == set(COST_ELEMENT)
    world: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for e in expenses:
        world[(e.project, f"{e.day:%Y-%m}")] += _usd(e.amount, e.currency, e.day, rates)
    system = SapSystem()
    try:
        seed = seed_demo(system, world=DEMO_PSA)
        project_of = {w.objnr: posid[:8] for posid, w in seed.wbs.items()}
        header = {row["BELNR"]: row for row in system.rows("COBK")}
        sap: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        kinds: dict[str, int] = defaultdict(int)
        for row in system.rows("COEP"):
            if row["KSTAR"] not in COST_ELEMENT.values() or row["OBJNR"] not in project_of:
                continue
            day = date.fromisoformat(header[row["BELNR"]]["BUDAT"])
            # the company code's currency: EUR (1000) or USD (2000), what OData reads
            assert row["TWAER"] == ("EUR" if row["BUKRS"] == "1000" else _USD)
            month = f"{day:%Y-%m}" if int(row["PERIO"]) <= 12 else "2025-12"
            key = (project_of[row["OBJNR"]], month)
            sap[key] += _usd(Decimal(row["WTGBTR"]), row["TWAER"], day, rates)
            kinds[row["KSTAR"]] += 1
        apart = {k: sap[k] - world[k] for k in sap.keys() | world.keys()}
        # Every project and month agrees to a few cents (a cent of rounding a line at most)...
        far = {k: v.quantize(Decimal("0.01")) for k, v in apart.items() if abs(v) > 1}
        # ... but PRJ-0003 in 2025-12: the accrual (50,000.00 in period 13, -5,000.00 in 16).
        assert far == {("PRJ-0003", "2025-12"): Decimal("45000.00")}
        assert sum(kinds.values()) == 908 + 2 + 2  # the lines, the travel and its reversal,
        # and the accrual with its adjustment
        # The traps stay: the reversal nets its period, the wide row and the delimiter value.
        assert seed.reversed_document and seed.reversal_document
        texts = {row["SGTXT"] for row in system.rows("COEP")}
        assert "Hardware for every site of the migration, ordered." in texts  # 50 characters
        assert any("|" in row["POST1"] for row in system.rows("PRPS"))
        periods = {int(r["PERIO"]) for r in system.rows("COEP") if r["OBJNR"] in project_of}
        assert {13, 16} <= periods
    finally:
        system.close()
