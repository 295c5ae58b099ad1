"""SAP posting periods (GJAHR, period 1-16) in the ledger's fiscal calendar.

The ledger's calendar is expected to follow the SAP fiscal year variant (a fiscal year named
like GJAHR, periods numbered like SAP's). Special periods 13-16 land in the calendar's special
periods (`special_periods` in `[ledger.calendar]`); a calendar with fewer folds the rest into
its last period, so a period scope of that last period reads them too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import (
    MAX_PERIOD_NO,
    PeriodSpec,
    fiscal_year_of,
    generate_year,
    parse_period,
)


class FiscalPeriods:
    """The calendar's periods as SAP's: which ledger period an SAP period is, which SAP
    periods a ledger period reads, the open window."""

    def __init__(self, calendar: CalendarSettings, today: date) -> None:
        self.calendar, self.today = calendar, today
        self._years: dict[int, list[PeriodSpec]] = {}

    def year(self, fiscal_year: int) -> list[PeriodSpec]:
        if fiscal_year not in self._years:
            self._years[fiscal_year] = generate_year(self.calendar, fiscal_year)
        return self._years[fiscal_year]

    def ledger_period(self, fiscal_year: int, sap_period: int) -> PeriodSpec:
        """The ledger period an SAP period posts to (1-16; beyond the calendar: its last)."""
        if not 1 <= sap_period <= MAX_PERIOD_NO:
            raise ValueError(f"no SAP period {sap_period}")
        periods = self.year(fiscal_year)
        return periods[min(sap_period, len(periods)) - 1]

    def sap_periods(self, key: str) -> list[int]:
        """SAP periods (1-16) that post to ledger period `key` ('YYYY-PP')."""
        fy, no = parse_period(key)
        last = len(self.year(fy))
        if no > last:
            raise ValueError(f"the calendar has no period {key}")
        return list(range(no, MAX_PERIOD_NO + 1)) if no == last else [no]

    def current(self) -> PeriodSpec:
        """The regular period holding today."""
        fy = fiscal_year_of(self.calendar, self.today)
        return next(
            p for p in self.year(fy) if not p.special and p.start_on <= self.today <= p.end_on
        )

    def following(self, key: str) -> Iterator[PeriodSpec]:
        """Periods from `key` on (its year's specials included), without end."""
        fy, no = parse_period(key)
        while True:
            yield from (p for p in self.year(fy) if p.period_no >= no)
            fy, no = fy + 1, 1

    def back(self, n: int) -> str:
        """The key of the regular period `n` regular periods before the current one."""
        current = self.current()
        fy, regular = current.fiscal_year, [p for p in self.year(current.fiscal_year)]
        index = current.period_no - 1
        for _ in range(n):
            index -= 1
            if index < 0:
                fy -= 1
                regular = [p for p in self.year(fy) if not p.special]
                index = len(regular) - 1
        return regular[index].key

    def window(self, start: str) -> list[PeriodSpec]:
        """Periods from `start` to the current one (the current year's specials excluded)."""
        end = self.current()
        out = []
        for p in self.following(start):
            if (p.fiscal_year, p.period_no) > (end.fiscal_year, end.period_no):
                break
            out.append(p)
        return out

    def reached(self, p: PeriodSpec) -> bool:
        """Whether a period has begun (a later one lists only what was posted to it)."""
        return p.start_on <= self.today
