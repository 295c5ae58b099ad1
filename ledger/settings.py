"""Settings of the ledger: the `[ledger]`, `[ledger.calendar]` and `[ledger.authority]` tables.

Built by the entry point from the TOML file (`jobs.config`) and passed down; nothing here reads
the environment.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
#: The ledger runs on SQLite and PostgreSQL (any driver suffix: postgresql+psycopg://).
_LEDGER_URL = re.compile(r"^(?:sqlite|postgresql)(?:\+[a-z0-9_]+)?://")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MEASURES = ("labor", "expense", "hours", "revenue", "budget")


def parse_duration(value: object) -> timedelta:
    """'15m', '2h', '7d', '30s', '1w' -> timedelta. Bare numbers are refused: units are explicit."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    raise ValueError('expected a duration like "15m"')


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise ValueError(f'expected a 3-letter ISO 4217 currency code like "EUR", got {value!r}')
    return value


Currency = Annotated[str, BeforeValidator(lambda v: _currency(str(v).upper()))]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CalendarSettings(_Strict):
    """The fiscal calendar (rule 10)."""

    name: str = "fiscal"
    type: Literal["months", "445", "454", "544", "13x4", "file"] = "months"
    #: Month (1-12) the fiscal year starts in; week-based years end near the end of the
    #: month before.
    start_month: int = Field(default=1, ge=1, le=12)
    #: Fiscal year named after the calendar year it starts or ends in.
    year_label: Literal["start", "end"] = "end"
    #: Week-based calendars: the weekday a fiscal year ends on and how that day is chosen.
    week_end_day: Literal[
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"
    ] = "saturday"
    week_rule: Literal["nearest", "last"] = "last"
    #: SAP special periods (13-16) after the last regular period; 0 for none.
    special_periods: int = Field(default=0, ge=0, le=4)
    #: type = "file": a CSV with fiscal_year,period_no,start_on,end_on.
    file: Path | None = None
    first_year: int | None = None
    last_year: int | None = None

    @model_validator(mode="after")
    def _file_needs_path(self) -> CalendarSettings:
        if self.type == "file" and self.file is None:
            raise ValueError('type = "file" needs file = "path/to/calendar.csv"')
        if self.type == "13x4" and self.special_periods:
            raise ValueError("special periods only follow 12-period calendars")
        return self


class AuthorityOverride(_Strict):
    """Authority for one portfolio, program or project; the most specific wins."""

    portfolio: str | None = None
    program: str | None = None
    project: str | None = None
    labor: str | None = None
    expense: str | None = None
    hours: str | None = None
    revenue: str | None = None
    budget: str | None = None

    @model_validator(mode="after")
    def _one_scope(self) -> AuthorityOverride:
        scopes = [s for s in (self.portfolio, self.program, self.project) if s]
        if len(scopes) != 1:
            raise ValueError("an override names exactly one of portfolio, program or project")
        return self

    @property
    def scope(self) -> tuple[str, str]:
        for kind in ("project", "program", "portfolio"):
            value = getattr(self, kind)
            if value:
                return kind, value
        raise AssertionError("validated")


class AuthoritySettings(_Strict):
    """Which source counts for each measure, and the only source that creates projects (rule 8)."""

    projects: str | None = None
    labor: str | None = None
    expense: str | None = None
    hours: str | None = None
    revenue: str | None = None
    budget: str | None = None
    overrides: list[AuthorityOverride] = Field(default_factory=list)


class LinkRule(_Strict):
    """Links a non-authority source's key to a ledger project code by a regular expression.

    `project` is a template over the match groups: '{1}', 'P-{code}'.
    """

    source: str = "*"
    object_type: str = "*"
    pattern: str
    project: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class LedgerSettings(_Strict):
    """The `[ledger]` table."""

    url: str = Field(default="sqlite:///pmo-ledger.db", repr=False)  # may hold a password
    base_currency: Currency = "USD"
    rate_type: str = "corporate"
    rate_sources: list[str] = Field(default_factory=lambda: ["manual"])
    pivot_currency: Currency | None = None
    max_rate_age: Duration = timedelta(days=7)
    batch_rows: int = Field(default=50_000, ge=1)
    batch_seconds: float = Field(default=5.0, gt=0)
    #: Pages a sync fetches ahead while it writes, for kinds that read a remote source (a
    #: producer thread, jobs/prefetch.py): a bounded queue, memory stays flat; 0: read and
    #: write in turn.
    prefetch_pages: int = Field(default=4, ge=0, le=64)
    budget_phasing: Literal["lump", "linear"] = "linear"
    labor_cost_types: list[str] = Field(default_factory=lambda: ["labor"])
    #: Largest share of a scope's open lines one ScopeEnd may reverse; at least 50 lines.
    max_scope_reversal: Decimal = Field(default=Decimal("0.05"), ge=0, le=1)
    max_scope_reversal_min: int = Field(default=50, ge=0)
    aggregate_inline_max: int = Field(default=5_000, ge=0)
    lease_ttl: Duration = timedelta(minutes=10)
    calendar: CalendarSettings = Field(default_factory=CalendarSettings)
    authority: AuthoritySettings = Field(default_factory=AuthoritySettings)
    link_rules: list[LinkRule] = Field(default_factory=list)

    @field_validator("url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        # Only the scheme is named: the rest of the URL may hold a password.
        if not _LEDGER_URL.match(value):
            scheme = value.split("://", 1)[0] if "://" in value else "no scheme"
            raise ValueError(
                f"unsupported database ({scheme}): expected sqlite:///FILE or "
                "postgresql://USER@HOST/DB"
            )
        return value
