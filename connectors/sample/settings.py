"""Settings of the sample connector: the size of the generated portfolio and its mutation knobs.

Every knob has a default, so `[connectors.demo] kind = "sample"` alone is a working source.
The world is a pure function of these settings: the same settings always give the same pages.
`round` is the world's version: round r applies the mutations of rounds 1..r (see
`connectors.sample.actuals`). The `*_every` knobs are 0 (off) or k (every k-th line).

By default the world keeps to its plan: allocations and budgets are what its lines book and
spend, with headroom (`connectors.sample.plan`), and two sources of the same seed post the same
lines. `planted` puts deliberate problems into it (`Planted`): the demo's findings.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pmo_ledger.connectors.base import ConnectorSettings
from pmo_ledger.connectors.sample.world import USD_VALUE

#: Lines a round may hold: round r's changes are r's time + (line index) milliseconds, and
#: rounds are at least 7 days apart.
MAX_LINES = 600_000_000
_PERIOD = r"^\d{4}-(0[1-9]|1[0-2])$"
_PROJECT = r"^PRJ-\d{4}$"


class _Knobs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CostChange(_Knobs):
    """One project's cost of one cost type over `months` calendar months from `first`."""

    project: str = Field(pattern=_PROJECT)
    cost_type: str = Field(default="labor", min_length=1, max_length=50)
    first: str = Field(pattern=_PERIOD)  # YYYY-MM
    months: int = Field(default=3, ge=1, le=120)
    #: `short_budget`: the percent of the spend the current budget covers in those months;
    #: `markup`: how many percent more this source's lines cost there.
    pct: int = Field(ge=0, le=1_000)

    def covers(self, project: str, cost_type: str, month: date) -> bool:
        """Whether (project, cost type, month) is one this change applies to."""
        year, number = int(self.first[:4]), int(self.first[5:])
        index = (month.year - year) * 12 + month.month - number
        return project == self.project and cost_type == self.cost_type and 0 <= index < self.months


class Planted(_Knobs):
    """Problems planted on purpose in a world that otherwise keeps to its plan; each raises the
    findings its knob names (docs/configuration.md, `kind = "sample"`)."""

    #: The current budget covers only `pct` of what the project spends there: budget_overrun.
    short_budget: CostChange | None = None
    #: A project whose progress runs at half the pace its spend implies: forecast_overrun (an
    #: active project: one finished by the status date is 100% complete whatever its pace).
    slipping: str | None = Field(default=None, pattern=_PROJECT)
    #: A resource whose allocations plan a third of the hours it books: hours_overrun.
    overbooked: str | None = Field(default=None, pattern=r"^RES-\d{4}$")
    #: This source's lines cost `pct` more than the same lines of another source of the same
    #: seed: source_disagreement, when the two are a configured pair.
    markup: CostChange | None = None


class SampleSettings(ConnectorSettings):
    """The `[connectors.<name>]` table of a `kind = "sample"` connector."""

    seed: int = 42
    portfolio: str = Field(default="Enterprise Portfolio", min_length=1, max_length=100)
    programs: int = Field(default=3, ge=1, le=100)
    projects: int = Field(default=12, ge=1, le=9_999)
    resources: int = Field(default=40, ge=1, le=99_999)
    #: Actual lines of round 0 (timecards and expense lines).
    actuals: int = Field(default=5_000, ge=0, le=100_000_000)
    #: First day of the generated calendar months; actuals are posted in [start, start+months).
    start: date = date(2025, 1, 1)
    months: int = Field(default=12, ge=1, le=120)
    currencies: list[str] = Field(default_factory=lambda: ["USD", "EUR", "GBP"], min_length=1)
    base_currency: str = "USD"
    page_size: int = Field(default=2_000, ge=1, le=1_000_000)
    #: Capacity of every resource per working day, in hours (the `capacity` stream: one record
    #: per resource and month); 0 leaves the stream out.
    capacity_hours_per_day: int = Field(default=0, ge=0, le=24)
    # --- mutations (round r applies rounds 1..r) -----------------------------------------
    round: int = Field(default=0, ge=0, le=1_000)
    #: In round r a line i with (i + r) % k == 0 gets a new amount (labor: a quarter hour more,
    #: expense: 3% more; the 8th edit returns to the original and the cycle restarts).
    edit_every: int = Field(default=0, ge=0)
    #: In round r a line i with (i + r) % k == 0 is deleted (once: a 1/k of the lines a round,
    #: so after k rounds every line of round 0 is gone).
    delete_every: int = Field(default=0, ge=0)
    #: New lines per round.
    add: int = Field(default=0, ge=0, le=10_000_000)
    #: In round r a line i with (i + r) % k == 0 moves to the next project (labor: same task slot).
    move_every: int = Field(default=0, ge=0)
    #: In round r a line i with (i + r) % k == 0 changes to the next currency (amount converted).
    currency_every: int = Field(default=0, ge=0)
    #: Project i with i % k == k - 1 plans a tenth of its team's hours (allocations and the
    #: labor budget): its timecards overrun the plan. 0: off.
    underplanned_every: int = Field(default=0, ge=0)
    #: Lines posted, after the `actuals`, to a project this source has no record of,
    #: `PRJ-<projects + 1>` (opened in this source only: the ledger parks them on UNMAPPED).
    orphans: int = Field(default=0, ge=0, le=1_000_000)
    #: Deliberate problems (`Planted`); none by default.
    planted: Planted = Field(default_factory=Planted)
    #: Line i with i % k == k - 1 cannot be normalized: Rejected(id, "bad_amount", raw row).
    reject_every: int = Field(default=0, ge=0)
    #: Raise ConnectorTransientError when a read would yield more than this many pages.
    fail_after_pages: int | None = Field(default=None, ge=0)
    #: Seconds the source takes to serve each page (a slow source: to watch a run, cancel it or
    #: stop the service in the middle of it). 0: as fast as the generator goes.
    page_delay: float = Field(default=0, ge=0, le=60)
    #: check() raises ConnectorConfigError.
    check_fails: bool = False

    @field_validator("currencies")
    @classmethod
    def _known_currencies(cls, value: list[str]) -> list[str]:
        out = [c.upper() for c in value]
        unknown = [c for c in out if c not in USD_VALUE]
        if unknown:
            known = ", ".join(sorted(USD_VALUE))
            raise ValueError(f"unknown currency {', '.join(unknown)} (the sample knows {known})")
        if len(set(out)) != len(out):
            raise ValueError("a currency is listed twice")
        return out

    @field_validator("base_currency")
    @classmethod
    def _base_code(cls, value: str) -> str:
        value = value.upper()
        if not re.fullmatch(r"[A-Z]{3}", value) or value not in USD_VALUE:
            raise ValueError(f"unknown currency {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SampleSettings:
        if self.base_currency not in self.currencies:
            raise ValueError(f"base_currency {self.base_currency} is not in currencies")
        if self.actuals + self.orphans + self.round * self.add >= MAX_LINES:
            raise ValueError(f"actuals + orphans + round * add must stay below {MAX_LINES:,}")
        return self
