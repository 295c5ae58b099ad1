"""The sample world's expense lines as the demo SAP system's CO postings: what a PMO sees when
the ERP of config/demo.toml (`[connectors.erp]`, the sample world's cost postings, the
`expense` authority) and SAP's controlling book the same invoices.

`DEMO_PSA` (connectors/workfront/sandbox/psa_mirror.py) names the world: seed 42, 6 projects,
3000 actuals, the PSA's and the ERP's (keep them the same). `world_expenses` reads its
expense lines (travel, software, subcontract) of PRJ-0001..PRJ-0006 with the PSA's monthly
corporate rates, the rates the demo ledger converts with. The seed posts each on a level-2 WBS
element of its project, on the cost element of its cost type (`COST_ELEMENT`), in the company
code's currency at those rates (`in_currency`): SAP's OData journal items carry the company
code's amount, which the ledger converts back to its base currency and finds the line's
amount to a cent. The ERP's planted labor markup is labor: no expense line carries it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pmo_ledger.connectors.workfront.sandbox.psa_mirror import DEMO_PSA, PsaWorld, Rates

__all__ = ["COST_ELEMENT", "DEMO_PSA", "Expense", "PsaWorld", "world_expenses"]

#: The SAP cost element (KSTAR) of each expense cost type of the sample world.
COST_ELEMENT = {
    "travel": "0000474000",
    "software": "0000476000",
    "subcontract": "0000417000",
}


@dataclass(frozen=True, slots=True)
class Expense:
    """One expense line of the world (in its project's currency)."""

    line: str  # ACT-000000007
    project: str  # PRJ-0001
    cost_type: str
    day: date
    amount: Decimal
    currency: str
    text: str


def world_expenses(world: PsaWorld) -> tuple[list[Expense], Rates]:
    """The world's expense lines on its projects (line order) and the PSA's rates."""
    from pmo_ledger.connectors.sample.actuals import ActualLines
    from pmo_ledger.connectors.sample.settings import SampleSettings
    from pmo_ledger.connectors.sample.world import World
    from pmo_ledger.connectors.workfront.sandbox.psa_mirror import psa_timecards

    sample = World(SampleSettings(seed=world.seed, projects=world.projects, actuals=world.actuals))
    lines = ActualLines(sample)
    expenses: list[Expense] = []
    for i in range(world.actuals):
        line = lines.line(i, 0, 0, 0, sample.e0)
        if line.cost_type == "labor":
            continue
        if line.cost_type not in COST_ELEMENT:
            raise ValueError(f"the world's cost type {line.cost_type!r} has no SAP cost element")
        if line.project_ref is None or line.amount is None or not line.currency:
            raise ValueError(f"the world's expense line {line.external_id} is incomplete")
        expenses.append(Expense(line.external_id, line.project_ref, line.cost_type,
                                line.posted_on, line.amount, line.currency,
                                line.description or line.cost_type))  # fmt: skip
    _people, _cards, rates = psa_timecards(world)
    return expenses, rates
