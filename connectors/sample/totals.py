"""The sample's control totals (`pmo-ledger verify`): what a real source would aggregate.

- `actuals`: the lines as they stand at the world's round (deleted ones gone, edits, moves
  and currency changes applied), per project and currency: count, amount, hours (an expense
  line has none). A row the sample publishes unreadable (`reject_every`) is counted under its
  project with no currency and adds no amount: it shows as drift until the ledger holds it,
  as such a row does on a real source.
- `budgets`: each project's current version (`<project Id>/CUR`): its lines per currency,
  their amounts and hours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from pmo_ledger.connectors.base import SourceTotal
from pmo_ledger.connectors.kit.pages import Item, Marked
from pmo_ledger.connectors.sample.streams import Table
from pmo_ledger.ledger.records import ActualRecord, BudgetRecord, Rejected

Key = tuple[str | None, str | None]


@dataclass
class _Sum:
    count: int = 0
    amount: Decimal = Decimal(0)
    hours: Decimal = Decimal(0)

    def add(self, amount: Decimal | None, hours: Decimal | None) -> None:
        self.count += 1
        self.amount += amount or 0
        self.hours += hours or 0


def _totals(groups: dict[Key, _Sum]) -> list[SourceTotal]:
    keys = sorted(groups, key=lambda k: (k[0] or "", k[1] or ""))
    return [SourceTotal(*k, groups[k].count, groups[k].amount, groups[k].hours) for k in keys]


def actual_totals(items: Iterable[Item]) -> list[SourceTotal]:
    """Count, amount and hours per (project, currency) of the records in `items` (a full read
    without deletions); rejected rows count under (their project, None)."""
    groups: dict[Key, _Sum] = defaultdict(_Sum)
    for item in items:
        if isinstance(item, ActualRecord):
            groups[(item.project_ref, item.currency)].add(item.amount, item.hours)
        elif isinstance(item, Marked) and isinstance(item.item, Rejected):
            project = item.item.payload.get("Project__c")
            groups[(str(project) if project else None, None)].add(None, None)
    return _totals(groups)


def budget_totals(budgets: Table, at: datetime) -> list[SourceTotal]:
    """Lines, amounts and hours per (project, currency) of every project's current version
    (`at`: the modstamp the records are built with; it changes no figure)."""
    groups: dict[Key, _Sum] = defaultdict(_Sum)
    for i in range(budgets.size):
        record = budgets.make(i, at)
        if isinstance(record, BudgetRecord) and record.kind == "current":
            for line in record.lines:
                groups[(record.project_ref, line.currency)].add(line.amount, line.hours)
    return _totals(groups)
