"""The stored fiscal calendar: `fiscal_period` rows, the in-memory PeriodIndex the writer
files lines with, and closing / reopening periods (rule 10). Generating the periods is
`ledger.time.calendar`'s job."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from itertools import pairwise

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from pmo_ledger.ledger.models.reference import FiscalPeriod
from pmo_ledger.ledger.settings import CalendarSettings
from pmo_ledger.ledger.time.calendar import PeriodSpec, parse_period, periods_overlapping


class PeriodIndex:
    """A calendar's periods in memory: which period a day falls in, and which are closed.

    Built from PeriodSpec rows (every period open unless `status` says otherwise) or loaded from
    fiscal_period. Regular periods may not overlap; gaps are allowed (years never stored).
    """

    def __init__(
        self,
        periods: Iterable[PeriodSpec],
        status: Mapping[str, str] | None = None,
        *,
        calendar: str = "fiscal",
    ) -> None:
        self.calendar = calendar
        self._periods: dict[str, PeriodSpec] = {}
        for spec in sorted(periods, key=lambda p: (p.fiscal_year, p.period_no)):
            if spec.key in self._periods:
                raise ValueError(f"fiscal period {spec.key} given twice in calendar {calendar}")
            self._periods[spec.key] = spec
        self._regular = sorted(
            (p for p in self._periods.values() if not p.special), key=lambda p: p.start_on
        )
        for a, b in pairwise(self._regular):
            if b.start_on <= a.end_on:
                raise ValueError(
                    f"fiscal periods {a.key} and {b.key} overlap in calendar {calendar}"
                )
        self._starts = [p.start_on for p in self._regular]
        self._status = {key: (status or {}).get(key, "open") for key in self._periods}

    @classmethod
    def load(cls, session: Session, calendar_name: str) -> PeriodIndex:
        """Every stored period of a calendar, with its status."""
        rows = session.scalars(select(FiscalPeriod).where(FiscalPeriod.calendar == calendar_name))
        specs: list[PeriodSpec] = []
        status: dict[str, str] = {}
        for row in rows:
            spec = PeriodSpec(row.fiscal_year, row.period_no, row.start_on, row.end_on, row.special)
            specs.append(spec)
            status[spec.key] = row.status
        return cls(specs, status, calendar=calendar_name)

    def __len__(self) -> int:
        return len(self._periods)

    def _get(self, key: str) -> PeriodSpec:
        try:
            return self._periods[key]
        except KeyError:
            raise LookupError(f"no fiscal period {key} in calendar {self.calendar}") from None

    def period_for(self, d: date) -> str:
        """Key of the regular period containing `d`. Raises LookupError when none does."""
        i = bisect_right(self._starts, d) - 1
        if i < 0 or self._regular[i].end_on < d:
            raise LookupError(f"no fiscal period covers {d} in calendar {self.calendar}")
        return self._regular[i].key

    def contains(self, key: str) -> bool:
        """Whether the period exists."""
        return key in self._periods

    def status(self, key: str) -> str:
        """'open' or 'closed'. Raises LookupError for an unknown period."""
        self._get(key)
        return self._status[key]

    def is_closed(self, key: str) -> bool:
        """Whether the period is closed. Raises LookupError for an unknown period."""
        return self.status(key) == "closed"

    def first_open(self) -> str | None:
        """The earliest open period (special periods included), or None."""
        return next((key for key, s in self._status.items() if s == "open"), None)

    def bounds(self, key: str) -> tuple[date, date]:
        """First and last day (inclusive). Raises LookupError for an unknown period."""
        spec = self._get(key)
        return spec.start_on, spec.end_on

    def periods_between(self, start: date, end: date) -> list[str]:
        """Keys of the regular periods overlapping start..end (inclusive), in order."""
        if end < start:
            raise ValueError(f"range ends ({end}) before it starts ({start})")
        i = max(bisect_right(self._starts, start) - 1, 0)
        keys: list[str] = []
        for spec in self._regular[i:]:
            if spec.start_on > end:
                break
            if spec.end_on >= start:
                keys.append(spec.key)
        return keys


def ensure_periods(session: Session, cal: CalendarSettings, start: date, end: date) -> int:
    """Store the missing periods of every fiscal year overlapping start..end, open; returns the
    number of rows inserted (0 when all exist). Never commits.

    Raises ValueError when a stored period's dates differ from what the settings generate (the
    calendar changed after periods were stored) or the range is reversed; with a calendar file,
    only the years the file has are stored.
    """
    specs = periods_overlapping(cal, start, end)
    if not specs:
        return 0
    stored = {
        row.period: (row.start_on, row.end_on, row.special)
        for row in session.execute(
            select(
                FiscalPeriod.period,
                FiscalPeriod.start_on,
                FiscalPeriod.end_on,
                FiscalPeriod.special,
            ).where(
                FiscalPeriod.calendar == cal.name,
                FiscalPeriod.fiscal_year.between(
                    min(p.fiscal_year for p in specs), max(p.fiscal_year for p in specs)
                ),
            )
        )
    }
    missing = []
    for spec in specs:
        have = stored.get(spec.key)
        if have is None:
            missing.append(spec)
        elif have != (spec.start_on, spec.end_on, spec.special):
            raise ValueError(
                f"fiscal period {spec.key} of calendar {cal.name} is stored as {have[0]}..{have[1]}"
                f" but [ledger.calendar] makes it {spec.start_on}..{spec.end_on}; a calendar"
                " cannot change once its periods are stored"
            )
    if missing:
        session.execute(
            insert(FiscalPeriod),
            [
                {
                    "calendar": cal.name,
                    "period": p.key,
                    "fiscal_year": p.fiscal_year,
                    "period_no": p.period_no,
                    "start_on": p.start_on,
                    "end_on": p.end_on,
                    "special": p.special,
                    "status": "open",
                    "closed_at": None,
                }
                for p in missing
            ],
        )
    return len(missing)


def _stored(session: Session, calendar_name: str, key: str) -> FiscalPeriod:
    parse_period(key)
    row = session.scalar(
        select(FiscalPeriod).where(
            FiscalPeriod.calendar == calendar_name, FiscalPeriod.period == key
        )
    )
    if row is None:
        raise LookupError(f"no fiscal period {key} in calendar {calendar_name}")
    return row


def close_period(session: Session, calendar_name: str, key: str, now: datetime) -> bool:
    """Close a period at `now` (timezone-aware, stored as UTC); False if it was already closed.

    Raises ValueError for a malformed key or naive `now`, LookupError for an unknown period.
    Never commits.
    """
    if now.tzinfo is None:
        raise ValueError(f"expected a timezone-aware close time, got {now!r}")
    row = _stored(session, calendar_name, key)
    if row.status == "closed":
        return False
    row.status, row.closed_at = "closed", now
    session.flush()
    return True


def reopen_period(session: Session, calendar_name: str, key: str) -> bool:
    """Reopen a period (closed_at cleared); False if it was open. Raises as `close_period`."""
    row = _stored(session, calendar_name, key)
    if row.status == "open":
        return False
    row.status, row.closed_at = "open", None
    session.flush()
    return True
