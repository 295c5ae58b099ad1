"""Changes a test makes to the seeded system, by the names it knows: post on a WBS element
by its POSID, reverse or move a document, add a WBS element under another, change a budget.

    demo = SapDemo(system, seed_demo(system))
    belnr = demo.post("PRJ-0001.2", "0000417000", Decimal("700.00"), date(2025, 5, 20))
    demo.move(belnr, 6, date(2025, 6, 2))        # reversed in 5, posted again in 6
    demo.add_wbs("PRJ-0001", "PRJ-0001.4", "Hypercare")
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pmo_ledger.connectors.sap.sandbox.postings import Postings
from pmo_ledger.connectors.sap.sandbox.seed import SeedSummary, Wbs, add_wbs, set_budget
from pmo_ledger.connectors.sap.sandbox.system import SapSystem


class SapDemo:
    """The seeded system and its mutations (every one keeps COSP/COSS equal to COEP)."""

    def __init__(self, system: SapSystem, seed: SeedSummary) -> None:
        self.system = system
        self.seed = seed
        self.postings = Postings(system)

    def post(
        self,
        posid: str,
        kstar: str,
        amount: Decimal,
        day: date,
        *,
        period: int | None = None,
        text: str = "",
    ) -> str:
        """Post on a WBS element (amount in its currency); the document number."""
        return self.postings.post(
            self.seed.wbs[posid], kstar, amount, day, period=period, text=text
        )

    def reverse(self, belnr: str, day: date | None = None) -> str:
        """Reverse a document in its period; the reversal's number."""
        return self.postings.reverse(belnr, day)

    def move(self, belnr: str, period: int, day: date) -> tuple[str, str]:
        """Move a posting to another period (reverse, post again); both new numbers."""
        return self.postings.move(belnr, period, day)

    def add_wbs(self, parent: str, posid: str, name: str, created: date | None = None) -> Wbs:
        """A new WBS element under `parent` (a POSID), last among its siblings."""
        above = self.seed.wbs[parent]
        numbers = [int(row["PSPNR"]) for row in self.system.rows("PRPS")]
        element = Wbs(
            f"{max(numbers) + 1:08d}",
            posid,
            name,
            above.project,
            above.company_code,
            above.currency,
            above.level + 1,
            above.pspnr,
        )
        add_wbs(self.system, element, created or date(2025, 6, 1))
        self.seed.wbs[posid] = element
        return element

    def set_budget(self, posid: str, amount: Decimal, year: int = 2025) -> None:
        """Set a WBS element's original budget (BPGE overall and BPJA for `year`)."""
        set_budget(self.system, self.seed.wbs[posid], amount, year=year)
