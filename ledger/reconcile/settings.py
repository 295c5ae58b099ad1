"""What the reconciliation rules look for: per rule, whether it runs, its thresholds (a percent
and an absolute amount or number of hours, both to be exceeded) and when a finding is severe;
global defaults, overridden per portfolio, program or project (the most specific wins).

```toml
[reconcile.rules.budget_overrun]
pct = 10            # actual above budget by more than 10% ...
amount = "1000"     # ... and by more than 1,000 in the base currency
high_pct = 25       # high when above 25% ...
high_amount = "10000"  # ... and by at least 10,000 (materiality: both, else medium)

[[reconcile.overrides]]
project = "PRJ-0042"
rule = "budget_overrun"   # omit: every rule
pct = 20
```
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RULES = (
    "budget_overrun",
    "forecast_overrun",
    "burn_rate",
    "hours_overrun",
    "over_allocation",
    "under_utilization",
    "source_disagreement",
    "data_quality",
    "released_overrun",
)
Severity = Literal["low", "medium", "high"]
SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3}
EacMethod = Literal["cpi", "remaining_at_budget", "cpi_spi"]
#: What an override may change.
KNOBS = (
    "enabled", "pct", "amount", "hours", "high_pct", "high_amount", "high_hours", "floor_pct",
    "high_floor_pct",
)  # fmt: skip


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourcePair(_Strict):
    """Two sources that should agree on the same projects and periods (source_disagreement):
    `left` and `right` are connector names; `cost_types` what is compared (all cost: empty)."""

    left: str
    right: str
    cost_types: list[str] = Field(default_factory=list)


class RuleSettings(_Strict):
    """One rule's knobs; which of them a rule reads is said in docs/configuration.md."""

    enabled: bool = True
    #: Over by more than this percent ... (hours rules and money rules alike)
    pct: Decimal = Field(default=Decimal(10), ge=0)
    #: ... and by more than this amount in the base currency (money rules) ...
    amount: Decimal = Field(default=Decimal(1000), ge=0)
    #: ... or this many hours (hours rules).
    hours: Decimal = Field(default=Decimal(8), ge=0)
    #: Materiality: a finding is high only when it is over by more than this percent ...
    high_pct: Decimal = Field(default=Decimal(25), ge=0)
    #: ... and by at least this amount in the base currency (money rules) ...
    high_amount: Decimal = Field(default=Decimal(10000), ge=0)
    #: ... or this many hours (hours rules); else medium.
    high_hours: Decimal = Field(default=Decimal(80), ge=0)
    #: under_utilization: actual hours below this percent of capacity (high below the second).
    floor_pct: Decimal = Field(default=Decimal(60), ge=0, le=100)
    high_floor_pct: Decimal = Field(default=Decimal(30), ge=0, le=100)
    #: forecast_overrun: how EAC is forecast (BAC/CPI; AC + (BAC - EV); AC + (BAC-EV)/(CPI*SPI)).
    eac: EacMethod = "cpi"
    #: source_disagreement: the source pairs compared.
    pairs: list[SourcePair] = Field(default_factory=list)

    def severity(
        self, pct_over: Decimal | None, *, amount: Decimal | None = None,
        hours: Decimal | None = None,
    ) -> Severity:
        """High when over by more than `high_pct` (None: no plan to compare with, infinitely
        over) and by at least `high_amount` (an `amount` given) or `high_hours` (`hours`
        given): material in both senses; else medium."""
        material = (amount is None or amount >= self.high_amount) and (
            hours is None or hours >= self.high_hours
        )
        return "high" if material and (pct_over is None or pct_over > self.high_pct) else "medium"


#: Defaults where a rule differs from RuleSettings' own.
DEFAULTS: dict[str, dict[str, object]] = {
    "burn_rate": {"pct": Decimal(25), "high_pct": Decimal(50)},
    "over_allocation": {"pct": Decimal(0), "hours": Decimal(0)},
    "source_disagreement": {"pct": Decimal(5), "amount": Decimal(500), "high_pct": Decimal(20)},
}


class RuleOverride(_Strict):
    """Knobs for one portfolio, program or project (exactly one), for one rule or all."""

    portfolio: str | None = None
    program: str | None = None
    project: str | None = None
    rule: str | None = None
    enabled: bool | None = None
    pct: Decimal | None = Field(default=None, ge=0)
    amount: Decimal | None = Field(default=None, ge=0)
    hours: Decimal | None = Field(default=None, ge=0)
    high_pct: Decimal | None = Field(default=None, ge=0)
    high_amount: Decimal | None = Field(default=None, ge=0)
    high_hours: Decimal | None = Field(default=None, ge=0)
    floor_pct: Decimal | None = Field(default=None, ge=0, le=100)
    high_floor_pct: Decimal | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_scope(self) -> RuleOverride:
        if len([s for s in (self.portfolio, self.program, self.project) if s]) != 1:
            raise ValueError("an override names exactly one of portfolio, program or project")
        if self.rule is not None and self.rule not in RULES:
            raise ValueError(f"unknown rule {self.rule!r} (rules: {', '.join(RULES)})")
        return self

    def changes(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in KNOBS if getattr(self, k) is not None}


class ReconcileRules(_Strict):
    """The rules' settings: `rules.<name>` tables and `overrides`."""

    rules: dict[str, RuleSettings] = Field(default_factory=dict)
    overrides: list[RuleOverride] = Field(default_factory=list)

    @field_validator("rules", mode="before")
    @classmethod
    def _known(cls, value: object) -> object:
        if isinstance(value, dict):
            unknown = sorted(set(value) - set(RULES))
            if unknown:
                raise ValueError(f"unknown rule {', '.join(unknown)} (rules: {', '.join(RULES)})")
            merged = {}
            for name, given in value.items():
                given = (
                    given.model_dump(exclude_unset=True) if isinstance(given, BaseModel) else given
                )
                merged[name] = {**DEFAULTS.get(name, {}), **(given or {})}
            return merged
        return value

    def rule(self, name: str) -> RuleSettings:
        """The rule's global settings (its defaults where not configured)."""
        if name in self.rules:
            return self.rules[name]
        return RuleSettings.model_validate(DEFAULTS.get(name, {}))

    def for_subject(
        self,
        name: str,
        *,
        portfolio: str | None = None,
        program: str | None = None,
        project: str | None = None,
    ) -> RuleSettings:
        """The rule's settings for one project: global, then its portfolio's, program's and
        its own overrides (the most specific wins; unset knobs keep the wider value)."""
        result = self.rule(name)
        for kind, value in (("portfolio", portfolio), ("program", program), ("project", project)):
            if value is None:
                continue
            for o in self.overrides:
                if getattr(o, kind) == value and o.rule in (None, name):
                    result = result.model_copy(update=o.changes())
        return result

    def has_overrides(self, name: str) -> bool:
        return any(o.rule in (None, name) for o in self.overrides)
