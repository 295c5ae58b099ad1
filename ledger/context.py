"""What one writer call needs to know: session, settings, source, run and the batch timestamp."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy.orm import Session

from ledger.calendar import PeriodIndex, ensure_periods, fiscal_year_of, year_bounds
from ledger.models import utcnow
from ledger.resolve import Authority
from ledger.settings import LedgerSettings


@dataclass
class WriteContext:
    """One batch's frame. `recorded_at` is taken once, in Python, per batch (rule 3)."""

    session: Session
    settings: LedgerSettings
    source: str
    run_id: int | None = None
    recorded_at: datetime = field(default_factory=utcnow)
    _periods: PeriodIndex | None = None
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
        missing = {fiscal_year_of(cal, d) for d in days if not self._covered(d)}
        if not missing:
            return
        start = year_bounds(cal, min(missing))[0]
        end = year_bounds(cal, max(missing))[1]
        if ensure_periods(self.session, cal, start, end):
            self._periods = None

    def _covered(self, d: date) -> bool:
        try:
            self.periods.period_for(d)
        except LookupError:
            return False
        return True

    def cover_periods(self, keys: set[str]) -> None:
        """Make sure the fiscal years of these 'YYYY-PP' keys exist in fiscal_period."""
        cal = self.settings.calendar
        years = {int(k[:4]) for k in keys if not self.periods.contains(k)}
        if years:
            start = year_bounds(cal, min(years))[0]
            end = year_bounds(cal, max(years))[1]
            if ensure_periods(self.session, cal, start, end):
                self._periods = None

    def reset_caches(self) -> None:
        """Forget cached periods and scopes (after a savepoint rolled back what they saw)."""
        self._periods = None
        self._authority = None
