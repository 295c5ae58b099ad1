"""Settings of the sample connector: the size of the generated portfolio and its mutation knobs.

Every knob has a default, so `[connectors.demo] kind = "sample"` alone is a working source.
The world is a pure function of these settings: the same settings always give the same pages.
`round` is the world's version: round r applies the mutations of rounds 1..r (see
`connectors.sample.actuals`). The `*_every` knobs are 0 (off) or k (every k-th line).
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import Field, field_validator, model_validator

from pmo_ledger.connectors.base import ConnectorSettings
from pmo_ledger.connectors.sample.world import USD_VALUE

#: Lines a round may hold: round r's changes are r's time + (line index) milliseconds, and
#: rounds are at least 7 days apart.
MAX_LINES = 600_000_000


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
        if self.actuals + self.round * self.add >= MAX_LINES:
            raise ValueError(f"actuals + round * add must stay below {MAX_LINES:,}")
        return self
