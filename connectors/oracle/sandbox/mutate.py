"""A mutation round: what a week of Oracle Projects does to the demo EBS, for incremental
tests and the demo's second sync. Every change is stamped `at` (a DATE in the sandbox's
zone, later than anything seeded), the way EBS's programs stamp LAST_UPDATE_DATE:

- a new labor item (8 hours) on PRJ-0004;
- PRJ-0003's first labor item re-costed 10% higher (reversing line and new line);
- PRJ-0006's first travel item reversed by a negative item;
- PRJ-0004's budget re-baselined (version 3 current, version 2 superseded);
- PRJ-0005 renamed; a EUR rate for the next month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from pmo_ledger.connectors.oracle.ebs import tables as t
from pmo_ledger.connectors.oracle.sandbox.ebs import BudgetLine, Ebs, cents, month_bounds

NEW_LABOR = Decimal("1000.00")  # USD, 8 hours
RECOST = Decimal("1.10")
REBASELINE = Decimal("3700000.00")  # PRJ-0004's version 3, one line in 2025-09
RENAMED = "Data Lake Migration (phase 2)"


@dataclass(frozen=True, slots=True)
class Round:
    """What the round changed: item ids."""

    new_item: int
    recosted: int
    reversed_item: int
    reversal: int
    version: int


def _first(ebs: Ebs, project: str, linkage: str) -> int:
    ei = t.PA_EXPENDITURE_ITEMS_ALL.c
    with ebs.engine.connect() as conn:
        return int(conn.execute(
            select(ei.EXPENDITURE_ITEM_ID)
            .where(ei.PROJECT_ID == ebs.projects[project].project_id,
                   ei.SYSTEM_LINKAGE_FUNCTION == linkage, ei.ADJUSTED_EXPENDITURE_ITEM_ID.is_(None))
            .order_by(ei.EXPENDITURE_ITEM_ID).limit(1)
        ).scalar_one())  # fmt: skip


def mutation_round(ebs: Ebs, at: datetime) -> Round:
    """Apply the round at `at`; what it changed."""
    p4 = ebs.projects["PRJ-0004"]
    with ebs.engine.connect() as conn:
        task = int(conn.execute(select(t.PA_TASKS.c.TASK_ID).where(
            t.PA_TASKS.c.PROJECT_ID == p4.project_id).order_by(t.PA_TASKS.c.TASK_ID.desc())
            .limit(1)).scalar_one())  # fmt: skip
    day = at.date() - timedelta(days=2)
    new_item = ebs.charge(p4, task, "Professional", "ST", day, NEW_LABOR, "USD",
                          quantity=Decimal(8), uom="HOURS", at=at, reference="week 2")  # fmt: skip
    recosted = _first(ebs, "PRJ-0003", "ST")
    item = ebs.item(recosted)
    ebs.recost(recosted, cents(item["DENOM_RAW_COST"] * RECOST), at=at, gl_date=day)
    reversed_item = _first(ebs, "PRJ-0006", "ER")
    reversal = ebs.reverse(reversed_item, at=at, day=day)
    start, end = month_bounds("2025-09")
    version = ebs.baseline(p4, [BudgetLine(0, "total", start, end, REBASELINE, REBASELINE)],
                           at=at, name="Re-plan")  # fmt: skip
    ebs.rename(ebs.projects["PRJ-0005"], RENAMED, at)
    ebs.add_rate("EUR", "USD", (at + timedelta(days=1)).date(), Decimal("1.09"), at=at)
    ebs.flush()
    return Round(new_item, recosted, reversed_item, reversal, version)
