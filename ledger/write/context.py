"""What one writer call needs to know: session, settings, source, run and the batch timestamp."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from pmo_ledger.ledger.models import utcnow
from pmo_ledger.ledger.resolve import Authority
from pmo_ledger.ledger.settings import LedgerSettings
from pmo_ledger.ledger.time.calendar import fiscal_year_of, year_bounds
from pmo_ledger.ledger.time.periods import PeriodIndex, ensure_periods
from pmo_ledger.ledger.write.written_keys import WrittenKeys


@dataclass
class WriteContext:
    """One batch's frame. `recorded_at` is taken once, in Python, per batch (rule 3)."""

    session: Session
    settings: LedgerSettings
    source: str
    run_id: int | None = None
    recorded_at: datetime = field(default_factory=utcnow)
    #: The keys this run wrote to a stream that began it empty (the runner's; None elsewhere).
    written: WrittenKeys | None = None
    _periods: PeriodIndex | None = None
    _period_of_day: dict[date, str | None] = field(default_factory=dict)
    _authority: Authority | None = None

    @property
    def authority(self) -> Authority:
        if self._authority is None:
            self._authority = Authority(self.settings)
        return self._authority

    @property
    def periods(self) -> PeriodIndex:
        if self._periods is None:
            self._periods = PeriodIndex.load(self.session, self.settings.calendar.name)
        return self._periods

    def cover_dates(self, days: set[date]) -> None:
        """Make sure the fiscal years of these dates exist in fiscal_period."""
        if not days:
            return
        cal = self.settings.calendar
        missing: set[int] = set()
        for d in days:
            if not self._covered(d):
                try:
                    missing.add(fiscal_year_of(cal, d))
                except LookupError:
                    continue  # a calendar file that does not cover it: the writer holds the line
        self._ensure_years(missing)

    def _ensure_years(self, years: set[int]) -> None:
        cal = self.settings.calendar
        for year in sorted(years):
            try:
                start, end = year_bounds(cal, year)
            except LookupError:
                continue
            if ensure_periods(self.session, cal, start, end):
                self._periods = None
                self._period_of_day = {}

    def _covered(self, d: date) -> bool:
        try:
            self.periods.period_for(d)
        except LookupError:
            return False
        return True

    def cover_periods(self, keys: set[str]) -> None:
        """Make sure the fiscal years of these 'YYYY-PP' keys exist in fiscal_period."""
        self._ensure_years({int(k[:4]) for k in keys if not self.periods.contains(k)})

    def period_of(self, posted_on: date, stated: str | None) -> str | None:
        """The line's period: the source's own when stated, else the one of `posted_on`;
        None when the calendar has no such period."""
        if stated is not None:
            return stated if self.periods.contains(stated) else None
        memo = self._period_of_day
        if posted_on not in memo:
            try:
                memo[posted_on] = self.periods.period_for(posted_on)
            except LookupError:
                memo[posted_on] = None
        return memo[posted_on]

    def reset_caches(self) -> None:
        """Forget cached periods and scopes (after a savepoint rolled back what they saw)."""
        self._periods = None
        self._period_of_day = {}
        self._authority = None
