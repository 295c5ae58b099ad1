"""What one batch did, counted for the run: `ApplyStats`, which every record type's writer
returns and the batch adds up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

#: The outcomes `ApplyStats.amounts` sums money under.
OUTCOMES = ("read", "inserted", "restated", "unchanged", "quarantined", "deleted")


@dataclass
class ApplyStats:
    """What one batch did, for the run's counters. `written` = inserted + restated (+ other
    record types' writes); `amounts[outcome][currency]` sums the money of actual lines.

    `quarantined` counts every record held, `parked` those among them written (or found
    unchanged) all the same, waiting for a mapping (an actual line under UNMAPPED, a task of
    an unknown project), `rejected` the lines the source could not turn into records (held,
    never in `read`).
    """

    read: int = 0
    written: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    entries: int = 0
    inserted: int = 0
    restated: int = 0
    parked: int = 0
    rejected: int = 0
    amounts: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def count(self, outcome: str, currency: str | None, amount: Decimal | None) -> None:
        """Add one line's money to the per-currency amounts of `outcome`."""
        if amount is not None and currency:
            per = self.amounts.setdefault(outcome, {})
            per[currency] = per.get(currency, Decimal(0)) + amount

    def count_records(self, outcome: str, records: Iterable[Any]) -> None:
        """`count(outcome, r.currency, r.amount)` of every record, summed per currency in one
        pass and added once (a batch's records are the writer's hot path)."""
        sums: dict[str, Decimal] = {}
        get = sums.get
        zero = Decimal(0)
        for r in records:
            amount = r.amount
            if amount is not None:
                currency = r.currency
                if currency:
                    sums[currency] = get(currency, zero) + amount
        for currency, amount in sums.items():
            self.count(outcome, currency, amount)

    def add(self, other: ApplyStats) -> None:
        for name in (
            "read",
            "written",
            "unchanged",
            "quarantined",
            "deleted",
            "entries",
            "inserted",
            "restated",
            "parked",
            "rejected",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for outcome, per in other.amounts.items():
            mine = self.amounts.setdefault(outcome, {})
            for ccy, amount in per.items():
                mine[ccy] = mine.get(ccy, Decimal(0)) + amount
