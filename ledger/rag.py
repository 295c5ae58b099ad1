"""RAG status (red, amber, green) of a project from its cost and schedule performance and how
much of its budget it has used: the `[report.rag]` rules, shared by the Excel status report
and the dashboard. Pure: plain pydantic and Decimal, no database.

```toml
[report.rag]
red_cpi = "0.90"            # CPI below this: red
amber_cpi = "0.95"          # CPI below this: amber
red_spi = "0.90"            # SPI below this: red
amber_spi = "0.95"          # SPI below this: amber
red_consumption = "1.00"    # actual / budget above this: red (over budget)
amber_consumption = "0.90"  # actual / budget above this: amber (90% used)
```

The worst rule wins: red when any figure is past its red threshold, else amber when any is past
its amber threshold, else green. A figure the ledger has no value for (no baseline in force, so
no CPI or SPI; no budget, so no consumption) takes no part; a project with none of the three
has no RAG (None, shown "n/a"). A threshold exactly met is not past it (CPI 0.95 is green).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

Status = Literal["red", "amber", "green"]


class RagRules(BaseModel):
    """`[report.rag]`: the thresholds (see the module docstring for the defaults' meaning)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    red_cpi: Decimal = Decimal("0.90")
    amber_cpi: Decimal = Decimal("0.95")
    red_spi: Decimal = Decimal("0.90")
    amber_spi: Decimal = Decimal("0.95")
    red_consumption: Decimal = Decimal("1.00")
    amber_consumption: Decimal = Decimal("0.90")

    @model_validator(mode="after")
    def _ordered(self) -> RagRules:
        for name in ("cpi", "spi"):
            if getattr(self, f"red_{name}") > getattr(self, f"amber_{name}"):
                raise ValueError(f"red_{name} must not be above amber_{name}")
        if self.red_consumption < self.amber_consumption:
            raise ValueError("red_consumption must not be below amber_consumption")
        return self


@dataclass(frozen=True, slots=True)
class Rag:
    """A project's status and the figures that made it (e.g. "CPI 0.8500 < 0.90")."""

    status: Status | None
    reasons: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "n/a" if self.status is None else self.status.upper()


def consumption(actual: Decimal, budget: Decimal) -> Decimal | None:
    """Actual / budget (None without a budget)."""
    return None if budget == 0 else actual / budget


def rag(
    rules: RagRules,
    *,
    cpi: Decimal | None,
    spi: Decimal | None,
    consumed: Decimal | None,
) -> Rag:
    """The status of one project by `rules` (worst rule wins; missing figures are skipped)."""
    red: list[str] = []
    amber: list[str] = []
    for name, value in (("CPI", cpi), ("SPI", spi)):
        if value is None:
            continue
        key = name.lower()
        if value < getattr(rules, f"red_{key}"):
            red.append(f"{name} {value:.4f} < {getattr(rules, f'red_{key}')}")
        elif value < getattr(rules, f"amber_{key}"):
            amber.append(f"{name} {value:.4f} < {getattr(rules, f'amber_{key}')}")
    if consumed is not None:
        pct = f"{consumed * 100:.1f}%"
        if consumed > rules.red_consumption:
            red.append(f"budget used {pct} > {rules.red_consumption * 100:.0f}%")
        elif consumed > rules.amber_consumption:
            amber.append(f"budget used {pct} > {rules.amber_consumption * 100:.0f}%")
    if cpi is None and spi is None and consumed is None:
        return Rag(None)
    if red:
        return Rag("red", tuple(red))
    if amber:
        return Rag("amber", tuple(amber))
    return Rag("green")
